"""Trace trees in the terminal (``show``, the console adapter): deep traces and broken parent
links still show every span."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

import agent_otlp
from agent_otlp.adapters._console_transport import ConsoleTransport
from agent_otlp.adapters.console_tree import MAX_DEPTH, TreeSpan, render_tree
from agent_otlp.cli import _common, _register, app

_register()

DEPTH = 1200
TRACE = "trace_" + "de" * 16


def chain_items(depth: int) -> list[dict[str, Any]]:
    """A trace whose spans each parent the next: ``depth`` levels."""
    items: list[dict[str, Any]] = [{"object": "trace", "id": TRACE, "workflow_name": "deep"}]
    for level in range(depth):
        items.append({
            "object": "trace.span", "id": f"span_{level + 1:016x}", "trace_id": TRACE,
            "parent_id": f"span_{level:016x}" if level else None,
            "started_at": 1_764_921_600 + level / 1000, "ended_at": 1_764_921_700 - level / 1000,
            "span_data": {"type": "custom", "name": f"level-{level}", "data": {}},
        })
    return items


def text_of(tree: Any) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(tree)
    out = console.file.getvalue()
    assert isinstance(out, str)
    return out


def _span(span_id: str, parent: str, start: int) -> TreeSpan:
    return TreeSpan(span_id, parent, f"name-{span_id}", start, start + 10, {}, None)


def test_a_chain_deeper_than_the_recursion_limit_shows_every_span() -> None:
    spans = [_span(f"{i:04d}", f"{i - 1:04d}" if i else "", i) for i in range(DEPTH)]
    out = text_of(render_tree(spans, "deep"))
    for i in range(DEPTH):
        assert f"name-{i:04d}" in out
    assert f"[depth {MAX_DEPTH + 1}] name-{MAX_DEPTH:04d}" in out
    assert max(len(line) for line in out.splitlines()) < 200


def test_parent_cycles_and_self_parents_are_shown() -> None:
    spans = [
        _span("root", "", 0),
        _span("a", "b", 1),  # a -> b -> a: no root reaches them
        _span("b", "a", 2),
        _span("self", "self", 3),
        _span("child", "a", 4),
    ]
    out = text_of(render_tree(spans, "t"))
    for name in ("root", "a", "b", "self", "child"):
        assert f"name-{name}" in out
    assert "parent cycle" in out


def test_console_adapter_prints_a_deep_trace(tmp_path: Path) -> None:
    stream = io.StringIO()
    exporter = agent_otlp.create_exporter(
        "console", env={}, schedule_delay=0.02,
        transport_factory=lambda settings: ConsoleTransport(tmp_path / "out.jsonl", tree=True,
                                                            stream=stream),
    )
    assert exporter.submit_items(chain_items(DEPTH)) == []
    assert exporter.shutdown(30).delivered
    out = stream.getvalue()
    assert "invoke_workflow deep" in out
    for level in range(DEPTH):
        assert f"level-{level} " in out


def test_show_prints_a_deep_stored_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         otlp_receiver: Any) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENT_OTLP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(_common.console, "width", 200)
    source = tmp_path / "deep.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in chain_items(DEPTH)))
    store = str(tmp_path / "spans.db")
    runner = CliRunner()
    sent = runner.invoke(app, ["send", str(source), "--store", store, "--adapter", "otlp",
                               "--endpoint", otlp_receiver.endpoint], catch_exceptions=False)
    assert sent.exit_code == 0, sent.output
    shown = runner.invoke(app, ["show", TRACE, "--store", store], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    for level in range(DEPTH):
        assert f"level-{level} " in shown.output
