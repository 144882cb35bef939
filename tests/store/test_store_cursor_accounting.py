"""The store's count of undelivered bytes as cursors move, here and in other processes."""

from __future__ import annotations

from pathlib import Path

from agent_otlp.store.sqlite import SpanStore


def test_items_passed_by_cursors_moved_elsewhere_leave_the_undelivered_count(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    store.cursor("a")
    store.cursor("b")
    last = store.append([(0, "t", f"span_{i}", 1, b"x" * 100) for i in range(10)])
    assert store.undelivered_bytes == 1000
    other = SpanStore(tmp_path / "s.db")  # another process on the same file
    other.advance("a", last, delivered=10)
    other.advance("b", last, delivered=10)
    store.advance("b", last)  # moves nothing here: the lowest cursor moved in the other one
    assert store.undelivered_bytes == 0
    other.close()
    store.close()
