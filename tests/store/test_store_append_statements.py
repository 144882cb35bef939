"""Appends of any size: the rows written a few statements at a time keep their order, their
contents and contiguous seqs; open traces are recorded and forgotten in bulk."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_otlp.store.sqlite import SpanStore


def rows(tag: str, count: int) -> list[tuple[int, str, str, int | None, bytes]]:
    return [(0, f"trace_{tag}", f"span_{tag}_{n}", None if n % 7 == 0 else n, f"payload {tag} {n}".encode())
            for n in range(count)]


@pytest.mark.parametrize("counts", [(1, 3, 2), (255, 256, 257), (700, 1, 513)])
def test_appended_rows_read_back_in_order_with_contiguous_seqs(tmp_path: Path, counts: tuple[int, ...]) -> None:
    store = SpanStore(tmp_path / "s.db")
    expected: list[tuple[int, str, str, int | None, bytes]] = []
    last = 0
    for index, count in enumerate(counts):
        batch = rows(str(index), count)
        assert store.append(batch) == last + count
        last += count
        expected += batch
    read = store.read_after(0, 10_000)
    assert [i.seq for i in read] == list(range(1, last + 1))
    assert [(i.kind, i.trace_id, i.item_id, i.ended_ns, i.payload) for i in read] == expected
    store.close()


def test_many_open_traces_are_recorded_and_forgotten_in_one_append(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    opened = [(f"trace_{n}", b"{}" if n % 2 else None, n, n + 10) for n in range(300)]
    store.append(rows("a", 2), opened)
    assert sorted(store.open_traces()) == sorted(opened)
    store.append(rows("b", 1), (), [f"trace_{n}" for n in range(0, 300, 3)])
    assert sorted(store.open_traces()) == sorted(o for o in opened if int(o[0][6:]) % 3)
    store.append([], (), [f"trace_{n}" for n in range(300)])
    assert store.open_traces() == []
    store.close()
