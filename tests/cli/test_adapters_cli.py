"""``agent-otlp adapters``: every installed adapter with distribution, version and hooks; a
broken third-party adapter is listed with its error and the others keep working."""

from __future__ import annotations

import json
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app
from agent_otlp.core.plugins import manager as plugins
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace, clean_env, export

__all__ = ["clean_env"]

BUILTINS = {"otlp", "console", "jaeger", "tempo", "honeycomb", "collector", "phoenix", "langfuse"}


@pytest.fixture
def broken_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed-looking adapter whose module raises on import."""
    (tmp_path / "broken_vendor_adapter.py").write_text(
        'raise RuntimeError("vendor SDK missing: pip install broken-vendor-sdk")\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real = list(entry_points(group=plugins.ENTRY_POINT_GROUP))
    broken = EntryPoint("brokenvendor", "broken_vendor_adapter", plugins.ENTRY_POINT_GROUP)

    def fake_entry_points(**kwargs: Any) -> list[EntryPoint]:
        return [broken, *real]

    monkeypatch.setattr(plugins, "entry_points", fake_entry_points)
    monkeypatch.delitem(sys.modules, "broken_vendor_adapter", raising=False)


def _invoke(*args: str) -> Any:
    _register()
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "220"})


def test_lists_builtins_with_distribution_version_and_hooks() -> None:
    result = _invoke("adapters", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) >= BUILTINS
    assert rows["honeycomb"]["distribution"] == "agent-otlp"
    assert rows["honeycomb"]["version"]
    assert "agent_otlp_process_batch" in rows["honeycomb"]["hooks"]
    assert rows["jaeger"]["hooks"] == [
        "agent_otlp_map_attributes", "agent_otlp_resource_attributes",
        "agent_otlp_transport_defaults",
    ]
    table = _invoke("adapters")
    assert table.exit_code == 0
    for name in BUILTINS:
        assert name in table.output
    assert "transport_defaults" in table.output


def test_broken_adapter_is_listed_with_its_error(broken_adapter: None) -> None:
    result = _invoke("adapters")
    assert result.exit_code == 0, result.output
    assert "brokenvendor" in result.output
    assert "vendor SDK missing" in result.output
    assert "1 adapter(s) failed to load" in result.output
    rows = {row["name"]: row for row in json.loads(_invoke("adapters", "--json").output)}
    assert rows["brokenvendor"]["error"].startswith("RuntimeError: vendor SDK missing")
    assert rows["jaeger"]["error"] is None


def test_broken_adapter_does_not_break_the_others(
    broken_adapter: None, otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    export("jaeger", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint)
    assert len(otlp_receiver.spans()) == 5
    with pytest.raises(Exception, match="failed to load: RuntimeError: vendor SDK missing"):
        export("brokenvendor", agent_trace(), clean_env)
