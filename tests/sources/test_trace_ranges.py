"""The time each trace of a file covers, as both file readers (``FileSource`` behind
``export --from-file`` and the ``jsonl`` source) note it item by item."""

from __future__ import annotations

from typing import Any

from agent_otlp.core.convert.records import parse_item
from agent_otlp.sources.trace_ranges import note_range

T = "trace_" + "a" * 32


def _span(span_id: str, started: str | None, ended: str | None) -> dict[str, Any]:
    return {"object": "trace.span", "id": f"span_{span_id}", "trace_id": T, "parent_id": None,
            "started_at": started, "ended_at": ended, "span_data": {"type": "custom", "name": "x"}}


def _noted(*items: dict[str, Any]) -> tuple[dict[str, list[int]], set[str]]:
    ranges: dict[str, list[int]] = {}
    has_trace: set[str] = set()
    for item in items:
        note_range(ranges, has_trace, parse_item(item))
    note_range(ranges, has_trace, None)  # an unreadable item notes nothing
    return ranges, has_trace


def _ns(second: int) -> int:
    return 1_700_000_000_000_000_000 + second * 1_000_000_000


def _at(second: int) -> str:
    return f"2023-11-14T22:13:{20 + second:02d}+00:00"


def test_spans_widen_their_trace_from_first_start_to_last_end() -> None:
    ranges, has_trace = _noted(_span("1", _at(5), _at(7)), _span("2", _at(2), _at(4)),
                               _span("3", _at(6), _at(9)))
    assert ranges == {T: [_ns(2), _ns(9)]} and has_trace == set()


def test_a_span_with_one_time_covers_that_instant_and_one_without_any_only_names_its_trace() -> None:
    assert _noted(_span("1", None, _at(3)))[0] == {T: [_ns(3), _ns(3)]}
    assert _noted(_span("1", _at(4), None))[0] == {T: [_ns(4), _ns(4)]}
    assert _noted(_span("1", None, None))[0] == {T: []}


def test_a_span_ending_before_it_starts_covers_its_start() -> None:
    assert _noted(_span("1", _at(5), _at(1)))[0] == {T: [_ns(5), _ns(5)]}


def test_a_trace_object_is_seen_and_its_own_times_count() -> None:
    trace = {"object": "trace", "id": T, "workflow_name": "w", "started_at": _at(1),
             "ended_at": _at(2)}
    ranges, has_trace = _noted(trace, _span("1", _at(3), _at(8)))
    assert ranges == {T: [_ns(1), _ns(8)]} and has_trace == {T}
    untimed = {"object": "trace", "id": T, "workflow_name": "w"}
    assert _noted(untimed) == ({}, {T})
