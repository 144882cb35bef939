"""The third-party path end to end: ``examples/adapter-plugin`` (distribution
``agent-otlp-acme``) installed with pip into a fresh virtual environment, discovered,
selected by name, run in the documented hook order, and uninstalled again.

The fresh environment reaches agent-otlp and its dependencies through a ``.pth`` file that
adds this interpreter's site-packages (``site.addsitedir``, so the editable install of
agent-otlp works too); only the example distribution is installed into it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sysconfig
import textwrap
import venv
from pathlib import Path
from typing import Any

import pytest

from _paths import ROOT
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace

EXAMPLE = ROOT / "examples" / "adapter-plugin"
CLI = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    outer = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    lines = [f"import site; site.addsitedir({path!r})" for path in outer]
    Path(purelib, "_agent_otlp_outer.pth").write_text("\n".join(lines) + "\n")
    return python


def run(python: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("AGENT_OTLP_", "OTEL_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))
    }
    environment.update({"COLUMNS": "200", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env})
    result = subprocess.run([str(python), *args], capture_output=True, text=True,
                            env=environment, timeout=120)
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def adapters(python: Path) -> dict[str, Any]:
    rows = json.loads(run(python, "-c", CLI, "adapters", "--json").stdout)
    return {row["name"]: row for row in rows}


EXPORT = textwrap.dedent(
    """
    import json, sys
    import agent_otlp
    items = json.load(open(sys.argv[1]))
    exporter = agent_otlp.create_exporter(
        "acme", env={"ACME_API_KEY": "acme-secret-1234"}, endpoint=sys.argv[2],
        options={"team": "payments"},
    )
    assert exporter.submit_items(items) == []
    exporter.end_all_traces()
    report = exporter.shutdown(20)
    print(json.dumps({"delivered": report.delivered}))
    """
)


def test_install_discover_select_order_uninstall(
    fresh_python: Path, otlp_receiver: OTLPReceiver, tmp_path: Path
) -> None:
    assert "acme" not in adapters(fresh_python)
    # hatchling from this environment when it has it (offline CI); else pip's build isolation
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    install = run(fresh_python, "-m", "pip", "install", "--no-deps", "-q", *isolation, str(EXAMPLE))
    assert "error" not in install.stderr.lower()

    # discovery: listed with its distribution, version and hooks, next to the built-ins
    found = adapters(fresh_python)
    acme = found["acme"]
    assert acme["distribution"] == "agent-otlp-acme"
    assert acme["version"] == "0.1.0"
    assert acme["builtin"] is False and acme["error"] is None
    assert set(acme["hooks"]) == {
        "agent_otlp_transport_defaults", "agent_otlp_validate_settings",
        "agent_otlp_resource_attributes", "agent_otlp_map_attributes",
    }
    assert {"jaeger", "honeycomb"} <= set(found)
    table = run(fresh_python, "-c", CLI, "adapters").stdout
    assert "agent-otlp-acme" in table

    # selection by name, endpoint overridden to the local receiver
    items = agent_trace()
    long_name = "Billing Agent " + "x" * 3000
    for item in items:
        if item.get("span_data", {}).get("type") == "agent":
            item["span_data"]["name"] = long_name
    data = tmp_path / "items.json"
    data.write_text(json.dumps(items))
    script = tmp_path / "export.py"
    script.write_text(EXPORT)
    result = run(fresh_python, str(script), str(data), otlp_receiver.endpoint)
    assert json.loads(result.stdout.splitlines()[-1]) == {"delivered": True}
    [request] = otlp_receiver.requests
    assert request.headers["x-acme-key"] == "acme-secret-1234"
    spans = otlp_receiver.spans()
    assert {s.resource["acme.integration"] for s in spans} == {"agent-otlp-acme"}
    [agent] = [s for s in spans if s.attributes.get("openai_agents.span_type") == "agent"]
    assert agent.attributes["acme.team"] == "payments"
    assert agent.attributes["acme.step"] == "agent"
    # hook order: acme's map_attributes ran first (copying the 3 KB name), then the core's
    # trylast limits cut its attribute to the adapter's 1024-byte value limit
    assert agent.attributes["acme.agent"].startswith("Billing Agent xxx")
    assert len(agent.attributes["acme.agent"]) == 1024
    assert "acme.agent" in agent.attributes["agent_otlp.truncated"]

    # uninstall: gone from the list, and selecting it names the entry-point group
    run(fresh_python, "-m", "pip", "uninstall", "-y", "-q", "agent-otlp-acme")
    assert "acme" not in adapters(fresh_python)
    failed = run(fresh_python, "-c", CLI, "config", "-a", "acme", check=False)
    assert failed.returncode == 2
    assert "it is not installed" in failed.stderr
    assert "'agent_otlp.adapters'" in failed.stderr
    check = run(fresh_python, "-c", "import agent_otlp_acme", check=False)
    assert check.returncode != 0

