"""What adapter loading says when an adapter is disabled, or when a third-party distribution
registers an entry point that points at a built-in adapter's module or takes its name.

The third-party distributions are real ones as :mod:`importlib.metadata` finds them: a
``.dist-info`` directory with ``METADATA`` and ``entry_points.txt`` on ``PYTHONPATH`` of a
real ``agent-otlp`` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.plugins.manager import AdapterManager
from agent_otlp.factory import resolve_all

CLI = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"


def test_a_disabled_adapter_is_called_disabled_not_missing() -> None:
    env = {"AGENT_OTLP_DISABLE_PLUGINS": "jaeger, tempo"}
    manager = AdapterManager(env=env)
    with pytest.raises(ConfigError) as caught:
        resolve_all("jaeger", env=env, manager=manager)
    text = str(caught.value)
    assert "disabled by AGENT_OTLP_DISABLE_PLUGINS='jaeger, tempo'" in text
    assert "not installed" not in text
    # an adapter that really is missing is still called missing
    with pytest.raises(ConfigError, match="it is not installed"):
        manager.hooks_for("zipkin")


def _distribution(root: Path, name: str, entry_points: str) -> None:
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[agent_otlp.adapters]\n{entry_points}\n")


def _agent_otlp(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True,
                          env=env, timeout=60, cwd=root)


def test_an_entry_point_aliasing_a_built_in_module_is_ignored_with_one_line(tmp_path: Path) -> None:
    _distribution(tmp_path, "jaeger-shortcut", "fastjaeger = agent_otlp.adapters.jaeger\n"
                                               "jaeger = agent_otlp.adapters.otlp")
    done = _agent_otlp(tmp_path, "adapters", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    jaeger = rows["jaeger"]
    assert (jaeger["error"], jaeger["distribution"], jaeger["builtin"]) == (None, "agent-otlp", True)
    assert "agent_otlp_map_attributes" in jaeger["hooks"]
    assert "fastjaeger" not in rows
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warnings) == 2, done.stderr
    alias = next(w for w in warnings if "fastjaeger" in w)
    assert "jaeger-shortcut" in alias and "module of adapter 'jaeger'" in alias
    name = next(w for w in warnings if "'jaeger' =" in w)
    assert "jaeger-shortcut" in name and "name is taken" in name
    assert "pluggy" not in done.stderr and "Traceback" not in done.stderr

    # the built-in still works as itself
    config = _agent_otlp(tmp_path, "config", "-a", "jaeger")
    assert config.returncode == 0, config.stderr
    assert '"adapter": "jaeger"' in config.stdout
    assert "http://localhost:4318/v1/traces" in config.stdout
