"""Moving a cursor while items are being committed: the move rides with that commit instead
of waiting for the store and writing a transaction of its own."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from agent_otlp.store.committer import Batch, GroupCommitter
from agent_otlp.store.sqlite import SpanStore, StoreWriteError

HELD = 1.5  # seconds another process keeps the file's write lock


def rows(first: int, count: int) -> list[tuple[int, str, str, int | None, bytes]]:
    return [(0, "trace_moves", f"span_{n}", n, b'{"n": %d}' % n) for n in range(first, first + count)]


def cursor_on_disk(path: Path, destination: str) -> tuple[int, int] | None:
    """(seq, delivered) of ``destination`` as another connection reads the file."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT seq, delivered FROM cursors WHERE destination = ?",
                           (destination,)).fetchone()
    finally:
        conn.close()
    return None if row is None else (int(row[0]), int(row[1]))


def test_a_cursor_move_does_not_wait_for_a_commit_in_progress_and_is_written_by_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SpanStore(path)
    store.cursor("d")
    delivered_up_to = store.append(rows(0, 10))
    # another process holds the write lock: the commit below waits for it, holding the store
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    committer = GroupCommitter(store, lambda group, last, problem: None)
    batch = Batch(rows(10, 5))
    committer.submit(batch)
    leader = threading.Thread(target=committer.wait, args=(batch,))
    leader.start()
    time.sleep(0.3)  # the leader is inside its transaction, waiting for the file
    released = threading.Timer(HELD, other.rollback)
    released.start()
    started = time.monotonic()
    store.advance("d", delivered_up_to, delivered=10)
    waited = time.monotonic() - started
    leader.join(10)
    released.join()
    other.close()
    assert waited < HELD / 3, f"moving the cursor waited {waited:.2f}s for the commit"
    assert batch.done and batch.error is None
    # written by the commit's transaction, not left in memory
    assert cursor_on_disk(path, "d") == (delivered_up_to, 10)
    assert store.cursor("d") == delivered_up_to
    store.close()


def test_without_a_commit_on_its_way_a_cursor_move_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SpanStore(path)
    store.cursor("d")
    last = store.append(rows(0, 3))
    store.advance("d", last, delivered=3)
    assert cursor_on_disk(path, "d") == (last, 3)
    store.close()


def test_moves_waiting_for_an_announced_commit_are_written_when_the_store_closes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SpanStore(path)
    store.cursor("d")
    last = store.append(rows(0, 3))
    store.write_coming()  # a commit was announced and never came (the process stops)
    store.advance("d", 2, delivered=2)
    store.advance("d", last, delivered=1)
    assert cursor_on_disk(path, "d") == (0, 0)
    store.close()
    assert cursor_on_disk(path, "d") == (last, 3)


def test_moves_taken_by_a_commit_that_failed_are_written_by_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SpanStore(path)
    store.cursor("d")
    last = store.append(rows(0, 3))
    store.write_coming()
    store.advance("d", last, delivered=3)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TRIGGER refuse BEFORE INSERT ON items BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(StoreWriteError):
        store.append(rows(3, 2))
    assert cursor_on_disk(path, "d") == (0, 0)  # rolled back with the items
    other.execute("DROP TRIGGER refuse")
    other.close()
    store.append(rows(3, 2))
    assert cursor_on_disk(path, "d") == (last, 3)
    store.close()
