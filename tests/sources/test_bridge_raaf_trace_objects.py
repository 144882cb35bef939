"""Which trace objects of one ingest request are RAAF's stale ones, ignored by the bridge."""

from __future__ import annotations

import secrets
from typing import Any

import raaf_payloads as raaf
from agent_otlp.sources.bridge.raaf import stale_trace_objects


def sdk_span(trace: str) -> dict[str, Any]:
    """A span as the Python and JavaScript SDKs send it: ``span_`` and 24 hex digits."""
    return raaf.span(trace, f"span_{secrets.token_hex(12)}", None, raaf.agent_data("A"))


def raaf_span(trace: str) -> dict[str, Any]:
    return raaf.span(trace, raaf.span_id(), None, raaf.agent_data("A"))


def test_a_raaf_trace_object_is_believed_only_for_a_request_of_its_trace_alone() -> None:
    first, other = raaf.trace_id(), raaf.trace_id()
    assert stale_trace_objects([raaf.trace_object(first), raaf_span(first), raaf_span(first)]) == set()
    assert stale_trace_objects([raaf.trace_object(first), raaf_span(other)]) == {0}
    assert stale_trace_objects([raaf.trace_object(first), raaf_span(first), raaf_span(other)]) == {0}
    # RAAF's ids on one span are enough; spans after the object count as those before it
    assert stale_trace_objects([sdk_span(other), raaf.trace_object(first), raaf_span(first)]) == {1}


def test_trace_objects_with_times_and_other_producers_are_always_believed() -> None:
    first, other = raaf.trace_id(), raaf.trace_id()
    timed = {**raaf.trace_object(first), "started_at": raaf.at(1), "ended_at": raaf.at(2)}
    assert stale_trace_objects([timed, raaf_span(other)]) == set()
    assert stale_trace_objects([raaf.trace_object(first), sdk_span(other)]) == set()
    assert stale_trace_objects([raaf.trace_object(first)]) == set()  # no spans: nothing to tell


def test_items_of_any_shape_are_read_without_failing() -> None:
    first = raaf.trace_id()
    odd: list[Any] = [None, 7, "text", [], {"object": "trace.span", "id": 5, "trace_id": ["x"]},
                      {"object": "trace", "id": ["not", "text"]}, raaf.trace_object(first), raaf_span(first)]
    # the span with a list for its trace names no trace; the object with a list for its id is
    # left to the item checks, which refuse it
    assert stale_trace_objects(odd) == {6}
