"""Sources as plugins: the built-ins found through the entry-point group like third-party
ones, the store and jsonl sources exporting what the older paths export, a third-party
example, guarded loading, the docs kept complete."""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import re
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

import store_child
from _paths import ROOT
from agent_otlp.cli import _register, app
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.historical import HistoricalExport, resolve_target
from agent_otlp.sources.plugins import hookspecs, masked_location
from agent_otlp.sources.plugins.manager import SourceLoadError, SourceManager
from agent_otlp.sources.plugins.types import SourceContext, TimeRange
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver
from test_historical import fill

DOC = ROOT / "docs" / "sources.md"


def _specs() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("agent_otlp_source_") and hasattr(fn, "agent_otlp_spec")]


def test_every_hook_spec_has_a_heading_in_docs() -> None:
    headings = {m.group(1).strip().strip("`") for m in
                re.finditer(r"^#{2,6}\s+(.+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE)}
    specs = _specs()
    assert len(specs) == 7
    assert not [s for s in specs if s not in headings]
    for name in ("store", "jsonl", "raaf-rails"):
        assert re.search(rf"^### {name}$", DOC.read_text(encoding="utf-8"), re.MULTILINE), name


def test_builtins_register_through_the_entry_point_group() -> None:
    manager = SourceManager(env={})
    assert {"store", "jsonl", "raaf-rails"} <= set(manager.available())
    for name in ("store", "jsonl", "raaf-rails"):
        info = manager.sources[name]
        assert info.builtin and info.distribution == "agent-otlp" and info.error is None
        assert {"agent_otlp_source_open", "agent_otlp_source_read"} <= set(info.hooks)


def test_a_broken_source_is_skipped_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "agent_otlp_no_such_module", "agent_otlp.sources")
    jsonl = EntryPoint("jsonl", "agent_otlp.sources.jsonl_plugin", "agent_otlp.sources")
    manager = SourceManager(env={}, entry_point_list=[broken, jsonl])
    assert manager.available() == ["jsonl"]
    assert "ModuleNotFoundError" in (manager.sources["broken"].error or "")
    with pytest.raises(ConfigError, match=r"broken.*failed to load"):
        manager.open("x.csv", source="broken")
    with pytest.raises(SourceLoadError):
        SourceManager(env={"AGENT_OTLP_STRICT_PLUGINS": "true"}, entry_point_list=[broken])


def test_an_entry_point_reusing_a_loaded_name_or_module_is_ignored_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    jsonl = EntryPoint("jsonl", "agent_otlp.sources.jsonl_plugin", "agent_otlp.sources")
    alias = EntryPoint("lines", "agent_otlp.sources.jsonl_plugin", "agent_otlp.sources")
    again = EntryPoint("jsonl", "agent_otlp.sources.jsonl_plugin", "agent_otlp.sources")
    with caplog.at_level(logging.WARNING, logger="agent_otlp.sources"):
        manager = SourceManager(env={}, entry_point_list=[jsonl, alias, again])
    assert manager.available() == ["jsonl"] and "lines" not in manager.sources
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "module of source 'jsonl'" in warnings and "taken by source 'jsonl'" in warnings


def test_masked_location() -> None:
    assert masked_location("postgresql://app:s3cret@db:5432/prod") == "postgresql://app:****@db:5432/prod"
    assert masked_location("postgresql://app@db/prod") == "postgresql://app@db/prod"
    assert "s3cret" not in masked_location("postgresql://app:s3cret@db:notaport/prod")
    assert masked_location("/var/spans.jsonl") == "/var/spans.jsonl"


def _engine(store: SpanStore, receiver: OTLPReceiver, **kwargs: object) -> HistoricalExport:
    target = resolve_target("otlp", env={}, endpoint=receiver.endpoint, retry_deadline=0.3)
    return HistoricalExport(target, store, **kwargs)  # type: ignore[arg-type]


def _context() -> SourceContext:
    return SourceContext(env={}, open_span_store=lambda path: SpanStore(path, read_only=True))


def test_jsonl_source_exports_what_from_file_exports(
    tmp_path: Path, otlp_receiver: OTLPReceiver, otlp_receiver_factory: object
) -> None:
    path = tmp_path / "traces.jsonl"
    items = [item for index in range(6) for item in store_child.trace_items(index)]
    items = [i for i in items if not (i["object"] == "trace" and i["id"] == store_child.trace_id(5))]
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n{broken\n")
    jobs = SpanStore(tmp_path / "jobs.db")
    baseline = _engine(jobs, otlp_receiver).from_files([path])
    expected = {(s.span_id, s.parent_span_id, s.name, s.start_ns, s.end_ns) for s in otlp_receiver.spans()}
    other: OTLPReceiver = otlp_receiver_factory()  # type: ignore[operator]
    with SourceManager(env={}).open(str(path), _context()) as source:
        assert source.name == "jsonl"
        assert source.inventory(TimeRange()).items == len(expected)
        result = _engine(jobs, other, batch_size=7).from_source(source)
    got = {(s.span_id, s.parent_span_id, s.name, s.start_ns, s.end_ns) for s in other.spans()}
    assert got == expected and result.invalid == baseline.invalid == 1
    synthesized = [s for s in other.spans() if s.attributes.get("agent_otlp.workflow.synthesized")]
    assert len(synthesized) == 1


def test_store_source_resumes_and_matches_the_store_export(
    tmp_path: Path, otlp_receiver: OTLPReceiver, otlp_receiver_factory: object
) -> None:
    store = SpanStore(tmp_path / "spans.db")
    fill(store, 30)
    store.close()
    jobs = SpanStore(tmp_path / "jobs.db")
    _engine(jobs, otlp_receiver).from_store(SpanStore(tmp_path / "spans.db", read_only=True))
    expected = {s.span_id for s in otlp_receiver.spans()}
    other: OTLPReceiver = otlp_receiver_factory()  # type: ignore[operator]
    with SourceManager(env={}).open(str(tmp_path / "spans.db"), _context()) as source:
        assert source.name == "store" and source.inventory(TimeRange()).items == len(expected)
        with pytest.raises(Exception, match="stopped after 2 batches"):
            _engine(jobs, other, batch_size=50, stop_after=2).from_source(source)
        result = _engine(jobs, other, batch_size=50).from_source(source)
    assert result.resumed_from > 0
    assert {s.span_id for s in other.spans()} == expected and other.span_count() == len(expected)


@pytest.fixture
def csvsource(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "source-plugin" / "src"))
    module = importlib.import_module("agent_otlp_csvsource")
    yield module
    sys.modules.pop("agent_otlp_csvsource", None)


def test_the_example_source_plugin(csvsource: ModuleType, tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    path = tmp_path / "spans.csv"
    path.write_text(
        "trace_id,span_id,parent_id,kind,name,started_at,ended_at\n"
        f"trace_{'a' * 32},span_{'1' * 16},,agent,Planner,2024-05-01T10:00:00Z,2024-05-01T10:00:05Z\n"
        f"trace_{'a' * 32},span_{'2' * 16},span_{'1' * 16},function,search,2024-05-01T10:00:01Z,2024-05-01T10:00:02Z\n")
    manager = SourceManager(env={}, entry_point_list=[])
    manager.register_source("csv", csvsource, distribution="agent-otlp-csvsource")
    with manager.open(str(path), _context()) as source:
        assert source.inventory(TimeRange()).items == 3
        result = _engine(SpanStore(tmp_path / "jobs.db"), otlp_receiver).from_source(source)
    assert result.sent == 3
    names = sorted(s.name for s in otlp_receiver.spans())
    assert names == ["execute_tool search", "invoke_agent Planner", "invoke_workflow spans"]


def test_sources_command_lists_the_builtins(cli_env: None) -> None:
    _register()
    result = CliRunner().invoke(app, ["sources", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"store", "jsonl", "raaf-rails"} <= set(rows) and rows["jsonl"]["builtin"]


def test_export_from_a_jsonl_location_on_the_command_line(
    cli_env: None, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in store_child.trace_items(1)) + "\n")
    _register()
    args = ["export", "--from", str(path), "--to", "otlp", "--endpoint", otlp_receiver.endpoint]
    dry = CliRunner().invoke(app, [*args, "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0 and "11 items (1 traces, 10 spans)" in dry.stdout
    done = CliRunner().invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 0 and otlp_receiver.span_count() == 11
    again = CliRunner().invoke(app, args, catch_exceptions=False)
    assert "already exported" in again.stdout and otlp_receiver.span_count() == 11


def test_a_sqlite_file_that_is_no_span_store_is_not_taken(tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(ConfigError, match="no installed source takes it"):
        SourceManager(env={}).open(str(other), _context())
    with pytest.raises(ConfigError, match="not an agent-otlp span store"):
        SourceManager(env={}).open(f"store:{other}", _context())
