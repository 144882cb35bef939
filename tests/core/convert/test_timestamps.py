"""Epoch numbers in ``started_at``/``ended_at``: the unit is told by the magnitude."""

from __future__ import annotations

from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.records import parse_timestamp
from agent_otlp.testing import OTLPReceiver

#: 2025-12-05T08:00:00.123456789Z in nanoseconds.
MOMENT_NS = 1_764_921_600_123_456_789
TRACE = "trace_" + "5e" * 16


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_764_921_600, 1_764_921_600_000_000_000),  # seconds
        (1_764_921_600.5, 1_764_921_600_500_000_000),
        (1_764_921_600_123, 1_764_921_600_123_000_000),  # milliseconds
        (1_764_921_600_123_456, 1_764_921_600_123_456_000),  # microseconds
        (MOMENT_NS, MOMENT_NS),  # nanoseconds
        (1.5, 1_500_000_000),
        (0, 0),
        (2**64 - 1, 2**64 - 1),
    ],
)
def test_epoch_number_unit_by_magnitude(value: float, expected: int) -> None:
    assert parse_timestamp(value, "started_at") == expected


def test_out_of_range_numbers_name_the_field() -> None:
    with pytest.raises(InputError, match="ended_at=-5"):
        parse_timestamp(-5, "ended_at")
    with pytest.raises(InputError, match="started_at"):
        parse_timestamp(2**64, "started_at")


def _span(index: int, start: float, end: float) -> dict[str, Any]:
    return {"object": "trace.span", "id": f"span_{index:016x}", "trace_id": TRACE,
            "parent_id": None, "started_at": start, "ended_at": end,
            "span_data": {"type": "custom", "name": f"s{index}", "data": {}}}


def test_spans_in_every_unit_land_at_the_same_time(otlp_receiver: OTLPReceiver) -> None:
    """The same second written in four units: all spans (and the workflow span covering
    them) are in 2025, not in 1970."""
    seconds = MOMENT_NS // 10**9
    items = [
        {"object": "trace", "id": TRACE, "workflow_name": "units"},
        _span(1, seconds, seconds + 1),
        _span(2, seconds * 10**3, (seconds + 1) * 10**3),
        _span(3, seconds * 10**6, (seconds + 1) * 10**6),
        _span(4, seconds * 10**9, (seconds + 1) * 10**9),
    ]
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                          schedule_delay=0.02)
    assert exporter.submit_items(items) == []
    assert exporter.shutdown(10).delivered
    spans = otlp_receiver.spans()
    assert len(spans) == 5
    for span in spans:
        assert (span.start_ns, span.end_ns) == (seconds * 10**9, (seconds + 1) * 10**9), span.name
