"""What the span store keeps across crashes and damage: traces open at a kill are finished by
the next process even when their spans were delivered; the open-trace record survives a
schema upgrade; a damaged store is one line naming the file and the remedy; a read-only
store can still be read."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import store_child
from _paths import TESTS
from _small_fs import remount_read_only, small_filesystem
from agent_otlp import create_exporter
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.store.committer import Batch, GroupCommitter
from agent_otlp.store.schema import MIGRATIONS
from agent_otlp.store.sqlite import SpanStore, StoreDamagedError
from agent_otlp.testing import OTLPReceiver

HERE = str(TESTS)
CLI = [sys.executable, "-c", "from agent_otlp.cli import main; main()"]


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, COLUMNS="200"))


def test_traces_open_at_a_kill_get_their_workflow_span_after_delivery(tmp_path: Path) -> None:
    """The spans of five open traces are delivered and the cursor has passed them when the
    process is killed: the next process still finishes the five traces."""
    store = tmp_path / "s.db"
    with OTLPReceiver() as receiver:
        code = (
            f"import sys, time; sys.path.insert(0, {HERE!r}); import store_child;"
            "from agent_otlp import create_exporter;"
            f"e = create_exporter('otlp', endpoint={receiver.endpoint!r}, env={{}}, store={str(store)!r},"
            " schedule_delay=0.02);"
            "e.submit_items(store_child.items(5));"
            "deadline = time.monotonic() + 30\n"
            "while time.monotonic() < deadline and not (e.store.last_seq() and"
            " all(c.seq == e.store.last_seq() for c in e.store.cursors())): time.sleep(0.02)\n"
            "print('DELIVERED', flush=True); time.sleep(60)"
        )
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "DELIVERED"
        finally:
            child.kill()
            child.wait()
        assert receiver.span_count() == 5 * store_child.SPANS_PER_TRACE  # no workflow span yet
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, store=store)
        assert exporter.shutdown(20).delivered  # finishes the traces the killed process left open
        spans = receiver.spans()
    roots = [s for s in spans if s.name.startswith("invoke_workflow")]
    assert sorted(s.span_id for s in roots) == sorted(
        workflow_span_id_for(store_child.trace_id(i)).hex() for i in range(5))
    assert all(s.name == "invoke_workflow crash test" for s in roots)
    by_id = {s.span_id: s for s in spans}
    for index in range(5):  # each workflow span covers its spans
        root = by_id[workflow_span_id_for(store_child.trace_id(index)).hex()]
        child_span = by_id[span_id_for(store_child.span_id(index, 9)).hex()]
        assert root.start_ns <= child_span.start_ns and root.end_ns >= child_span.end_ns


def test_open_traces_of_a_version_1_store_survive_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    start = json.dumps({"object": "trace", "id": "trace_open", "workflow_name": "kept"}).encode()
    rows = [
        (2, "trace_open", "trace_open", None, start),
        (0, "trace_open", "span_a", 2_000, b"{}"),
        (0, "trace_open", "span_b", 5_000, b"{}"),
        (0, "trace_done", "span_c", 3_000, b"{}"),
        (1, "trace_done", "trace_done", 4_000, b"{}"),
    ]
    conn.executemany("INSERT INTO items (kind, trace_id, item_id, ended_ns, stored_ns, size, payload) "
                     "VALUES (?, ?, ?, ?, 0, 2, ?)", rows)
    conn.execute("INSERT INTO cursors (destination, seq, updated_ns) VALUES ('otlp', 5, 0)")  # all delivered
    conn.close()
    store = SpanStore(path)
    try:
        assert store.open_traces() == [("trace_open", start, 2_000, 5_000)]
    finally:
        store.close()


def damaged_store(tmp_path: Path) -> Path:
    path = tmp_path / "damaged.db"
    exporter = create_exporter("otlp", endpoint="http://127.0.0.1:9", env={}, store=path, retry_deadline=1)
    exporter.submit_items(store_child.items(300))
    exporter.shutdown(0.2)
    assert exporter.store is not None
    exporter.store.close()
    with path.open("r+b") as handle:  # pages in the middle of the items table
        handle.seek(100 * 4096)
        handle.write(b"\xa5" * 40 * 4096)
    return path


@pytest.mark.parametrize("command", [["status"], ["serve", "--port", "0", "--adapter", "otlp"]])
def test_a_damaged_store_is_one_line_with_the_remedy(tmp_path: Path, command: list[str]) -> None:
    path = damaged_store(tmp_path)
    done = cli(*command, "--store", str(path), timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], done.stderr
    assert "damaged" in lines[0] and ".recover" in lines[0] and "move it aside" in lines[0]


def test_a_damaged_store_raises_a_config_error(tmp_path: Path) -> None:
    path = damaged_store(tmp_path)
    with pytest.raises(StoreDamagedError, match=r"move it aside.*\.recover") as raised:
        create_exporter("otlp", endpoint="http://127.0.0.1:9", env={}, store=path)
    assert isinstance(raised.value, ConfigError) and str(path) in str(raised.value)


def test_a_read_only_store_can_be_read(tmp_path: Path) -> None:
    source = tmp_path / "traces.jsonl"
    source.write_text("".join(json.dumps(i) + "\n" for i in store_child.items(3)))
    with small_filesystem(tmp_path / "fs", "4m") as fs:
        store = fs / "s.db"
        sent = cli("send", str(source), "--store", str(store), "--adapter", "otlp",
                   "--endpoint", "http://127.0.0.1:9", "--timeout", "0.5")
        assert store.exists(), sent.stderr
        remount_read_only(fs)
        status = cli("status", "--store", str(store))
        assert status.returncode == 0, status.stderr
        assert "otlp" in status.stdout and "Traceback" not in status.stderr
        shown = cli("show", store_child.trace_id(1), "--store", str(store))
        assert shown.returncode == 0, shown.stderr
        assert "tool_9" in shown.stdout
        listed = cli("destinations", "list", "--store", str(store))
        assert listed.returncode == 0 and "no stored destinations" in listed.stdout, listed.stderr


def test_batches_waiting_together_share_one_transaction(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    groups: list[tuple[int, int | None, str | None]] = []
    committer = GroupCommitter(store, lambda group, last, problem: groups.append((len(group), last, problem)))
    try:
        batches = [Batch([(0, f"t{n}", f"s{n}", n, b"{}")], {f"t{n}": (f"t{n}", None, n, n)}) for n in range(3)]
        for batch in batches:
            committer.submit(batch)
        assert committer.wait(batches[-1]) is None  # the first waiter writes all three
        assert all(b.done and b.error is None for b in batches)
        assert groups == [(3, 3, None)]
        finish = Batch([(1, "t1", "t1", 9, b"{}")], finished={"t1": ("t1", None)})
        committer.submit(finish)
        assert committer.wait(finish) is None
        assert [t[0] for t in store.open_traces()] == ["t0", "t2"]
        store.close()  # a write that fails is refused to every batch of its group, never raised
        late = Batch([(0, "t3", "s3", 3, b"{}")])
        committer.submit(late)
        assert committer.wait(late) is not None and groups[-1][1:] == (None, late.error)
    finally:
        store.close()


def test_times_past_sqlites_integer_range_are_stored(tmp_path: Path) -> None:
    """OTLP times go up to 2**64 - 1 ns, SQLite integers to 2**63 - 1: a trace ending past
    2**63 ns (epoch nanoseconds) is committed (its open-trace record clamped), not refused as a write failure."""
    with OTLPReceiver() as receiver:
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={},
                                   store=str(tmp_path / "s.db"), schedule_delay=0.02)
        span = {"object": "trace.span", "id": "span_" + "a" * 24, "trace_id": "trace_" + "b" * 32,
                "parent_id": None, "started_at": 2**63 + 1_000,
                "ended_at": 2**63 + 2_000, "span_data": {"type": "custom", "name": "far"}}
        submission = exporter.submit_items_durable([span])
        assert submission.problem is None
        assert exporter.store is not None and exporter.store.write_problem is None
        assert exporter.shutdown(10).delivered
        assert receiver.wait_for_spans(2, timeout=10)
