"""The span store itself: schema versions, retention, the undelivered budget, the
destinations table, and what the exporter records in it."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from agent_otlp import create_exporter
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.factory import open_store
from agent_otlp.store import schema
from agent_otlp.store.destinations import DestinationStore, StoredDestination, parse_header_spec
from agent_otlp.store.sqlite import KIND_SPAN, KIND_TRACE, KIND_TRACE_START, SpanStore
from agent_otlp.testing import OTLPReceiver


def rows(n: int, size: int = 100, trace: str = "trace_a", start: int = 0) -> list[tuple[int, str, str, int | None, bytes]]:
    return [(KIND_SPAN, trace, f"span_{start + i}", 1_000 + start + i, b"x" * size) for i in range(n)]


# --- schema --------------------------------------------------------------------------------


def test_new_store_records_its_schema_version(tmp_path: Path) -> None:
    SpanStore(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"items", "cursors", "destinations", "export_jobs", "counters"} <= tables


def test_a_newer_schema_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SpanStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this agent-otlp"):
        SpanStore(path)
    with pytest.raises(ConfigError, match="upgrade agent-otlp"):
        open_store(path, {})


def test_migrations_run_in_order_and_keep_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    store = SpanStore(path)
    store.append(rows(3))
    store.close()
    added = "ALTER TABLE items ADD COLUMN note TEXT"
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, added))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn) == schema.SCHEMA_VERSION - 1  # the version found
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("SELECT count(*), count(note) FROM items").fetchone() == (3, 0)
    assert schema.migrate(conn) == schema.SCHEMA_VERSION  # nothing left to do


# --- cursors and retention -----------------------------------------------------------------


def test_each_destination_has_its_own_cursor(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    assert store.cursor("a") == 0 and store.cursor("b") == 0
    last = store.append(rows(10))
    store.advance("a", last, delivered=10)
    store.advance("b", 4, delivered=4)
    status = {c.destination: c for c in store.cursors()}
    assert (status["a"].queued, status["a"].delivered) == (0, 10)
    assert (status["b"].queued, status["b"].delivered) == (6, 4)
    assert status["b"].oldest_undelivered_ns is not None
    assert store.undelivered_bytes == 600
    assert [i.seq for i in store.read_after(store.cursor("b"), 100)] == list(range(5, 11))


def test_prune_removes_delivered_items_by_age(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db", delivered_max_age=60)
    store.cursor("a")
    store.append(rows(10))
    store.advance("a", 6)
    assert store.prune() == 0  # young
    removed = store.prune(now_ns=2**62)
    assert removed == 6  # delivered ones only, however old the rest is
    assert [i.seq for i in store.read_after(0, 100)] == [7, 8, 9, 10]


def test_prune_removes_the_oldest_delivered_items_beyond_the_size_limit(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db", delivered_max_bytes=350)
    store.cursor("a")
    store.append(rows(10))
    store.advance("a", 8)
    assert store.prune() == 5  # 800 delivered bytes -> 300 kept
    assert [i.seq for i in store.read_after(0, 100)] == [6, 7, 8, 9, 10]


def test_budget_evicts_the_oldest_undelivered_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SpanStore(tmp_path / "s.db", undelivered_budget=1000)
    store.cursor("slow")
    store.append(rows(8))
    assert store.counter("evicted_undelivered") == 0 and not store.is_full()
    store.append(rows(2, start=8))
    assert store.is_full()  # 90% of the budget: the bridge refuses before anything is lost
    with caplog.at_level(logging.ERROR, logger="agent_otlp.store"):
        store.append(rows(5, start=10))
    assert store.counter("evicted_undelivered") == 5
    assert store.undelivered_bytes <= 1000
    assert "evicted 5 undelivered items" in caplog.text
    assert store.read_after(store.cursor("slow"), 100)[0].item_id == "span_5"
    store.append(rows(3, start=15))
    assert store.counter("evicted_undelivered") == 8  # counts accumulate across passes


def test_a_budget_lowered_on_an_open_store_applies_at_once(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    store.cursor("slow")
    store.append(rows(10))
    assert store.undelivered_bytes == 1000 and not store.is_full()
    store.undelivered_budget = 1000
    assert store.is_full()
    store.undelivered_budget = 450
    assert store.enforce_budget() == 6
    assert store.undelivered_bytes == 400
    assert store.cursor("slow") == 6 and store.counter("evicted_undelivered") == 6
    store.close()


def test_forgetting_the_slowest_destination_frees_what_it_held(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    store.cursor("fast")
    store.cursor("gone")
    last = store.append(rows(10))
    store.advance("fast", last, delivered=10)
    assert store.undelivered_bytes == 1000
    store.forget_destination("gone")
    assert store.undelivered_bytes == 0
    assert [c.destination for c in store.cursors()] == ["fast"]
    assert store.cursor("gone") == last  # seen again: starts now
    store.close()


def test_export_job_positions_outlive_the_process(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    assert store.job_position("job") == (0, 0, False)
    store.save_job("job", 40, 35)
    store.save_job("job", 70, 60, done=True)
    store.close()
    reopened = SpanStore(tmp_path / "s.db", read_only=True)
    assert reopened.job_position("job") == (70, 60, True)
    assert reopened.job_position("other") == (0, 0, False)
    reopened.close()


# --- destinations table --------------------------------------------------------------------


def test_stored_destinations(tmp_path: Path) -> None:
    table = DestinationStore(SpanStore(tmp_path / "s.db"))
    name, ref = parse_header_spec("x-honeycomb-team=env:HC_KEY")
    assert (name, ref) == ("x-honeycomb-team", {"env": "HC_KEY"})
    table.add(StoredDestination(
        "hc", "honeycomb", headers={name: ref, "authorization": {"value": "Bearer s3cr3t-literal"},
                                    "x-tenant": {"value": "blue"}},
        batch_size=200, metadata={"team": "agents"},
    ))
    with pytest.raises(ConfigError, match="exists"):
        table.add(StoredDestination("hc", "otlp"))
    with pytest.raises(ConfigError, match="letters"):
        table.add(StoredDestination("bad name", "otlp"))
    stored = table.get("hc")
    assert stored is not None
    shown = stored.shown_headers()
    assert shown["x-honeycomb-team"] == "env:HC_KEY"
    assert shown["x-tenant"] == "blue"
    assert "s3cr3t" not in shown["authorization"]
    with pytest.raises(ConfigError, match="HC_KEY"):
        stored.arguments({})
    args = stored.arguments({"HC_KEY": "k"})
    assert args["adapter"] == "honeycomb" and args["batch_size"] == 200
    assert "s3cr3t" not in repr(args)  # secrets travel as Secret
    table.set_enabled("hc", False)
    assert table.exporter_arguments({"HC_KEY": "k"}) == {"adapters": [], "destinations": {}}
    table.set_enabled("hc", True)
    assert table.exporter_arguments({"HC_KEY": "k"})["adapters"] == ["hc"]
    table.remove("hc")
    with pytest.raises(ConfigError, match="no such destination"):
        table.remove("hc")


# --- the exporter writes the store ---------------------------------------------------------


def test_exporter_records_spans_and_finished_traces(tmp_path: Path) -> None:
    items = [
        {"object": "trace", "id": "trace_" + "1" * 32, "workflow_name": "wf"},
        {"object": "trace.span", "id": "span_1", "trace_id": "trace_" + "1" * 32, "parent_id": None,
         "started_at": "2024-05-01T10:00:00+00:00", "ended_at": "2024-05-01T10:00:02+00:00",
         "span_data": {"type": "custom", "name": "x", "data": {}}},
    ]
    with OTLPReceiver() as receiver:
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, store=tmp_path / "s.db")
        assert exporter.submit_items(items) == []
        assert exporter.shutdown(10).delivered
        assert receiver.span_count() == 2
    assert exporter.store is not None
    kinds = [(i.kind, i.item_id) for i in exporter.store.read_after(0, 10)]
    assert kinds == [(KIND_TRACE_START, "trace_" + "1" * 32), (KIND_SPAN, "span_1"),
                     (KIND_TRACE, "trace_" + "1" * 32)]
    trace_row = exporter.store.trace_items("trace_" + "1" * 32)[-1]
    assert trace_row.ended_ns == 1_714_557_602_000_000_000  # the workflow span covers its spans
    assert exporter.store.cursors()[0].queued == 0


def test_store_can_be_turned_off(tmp_path: Path) -> None:
    env = {"AGENT_OTLP_STORE": str(tmp_path / "s.db")}
    assert create_exporter("otlp", endpoint="http://127.0.0.1:9", env=env, store=False).store is None
    on = create_exporter("otlp", endpoint="http://127.0.0.1:9", env=env)
    assert on.store is not None and on.store.path == tmp_path / "s.db"
    off = create_exporter("otlp", endpoint="http://127.0.0.1:9", env={"AGENT_OTLP_STORE": "off"})
    assert off.store is None
    for exporter in (on, off):
        exporter.shutdown(0.5)
    with pytest.raises(ConfigError, match="AGENT_OTLP_STORE_BUDGET"):
        open_store(tmp_path / "b.db", {"AGENT_OTLP_STORE_BUDGET": "lots"})
    assert open_store(True, {"XDG_DATA_HOME": str(tmp_path)}).path == tmp_path / "agent-otlp" / "spans.db"  # type: ignore[union-attr]
