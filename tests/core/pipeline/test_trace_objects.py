"""A trace object without times opens no trace by itself: RAAF repeats the object of the first
trace that ever ended in its process at the top of every later POST, with other traces'
spans; it never becomes a workflow span of its own, in one process or after a restart on the
same store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import agent_otlp
import raaf_payloads as raaf
from agent_otlp.core.convert.ids import workflow_span_id_for
from agent_otlp.store.sqlite import KIND_TRACE_START, SpanStore
from agent_otlp.testing import OTLPReceiver


def _exporter(receiver: OTLPReceiver, store: Path | None = None) -> Any:
    kwargs: dict[str, Any] = {"schedule_delay": 0.02}
    if store is not None:
        kwargs["store"] = str(store)
    return agent_otlp.create_exporter("otlp", endpoint=receiver.endpoint, env={}, **kwargs)


def _workflows(receiver: OTLPReceiver) -> list[tuple[str, str]]:
    return sorted((s.span_id, s.name) for s in receiver.spans() if s.name.startswith("invoke_workflow"))


def test_a_trace_object_alone_makes_no_span(otlp_receiver: OTLPReceiver) -> None:
    exporter = _exporter(otlp_receiver)
    assert exporter.submit_items([raaf.trace_object(raaf.trace_id())]) == []
    assert exporter.shutdown(10).delivered
    assert otlp_receiver.spans() == []


def test_a_stale_trace_object_repeated_in_later_posts(otlp_receiver: OTLPReceiver) -> None:
    first, second = raaf.trace_id(), raaf.trace_id()
    exporter = _exporter(otlp_receiver)
    exporter.submit_items([raaf.trace_object(first),
                           raaf.span(first, raaf.span_id(), None, raaf.agent_data("A"))])
    exporter.end_trace(first)
    for _ in range(3):  # later POSTs: the first trace's object, the second trace's spans
        assert exporter.submit_items([raaf.trace_object(first),
                                      raaf.span(second, raaf.span_id(), None, raaf.agent_data("B"))]) == []
    assert exporter.shutdown(10).delivered
    assert _workflows(otlp_receiver) == sorted([
        (workflow_span_id_for(first).hex(), f"invoke_workflow {raaf.WORKFLOW}"),
        (workflow_span_id_for(second).hex(), "invoke_workflow Agent workflow"),
    ])


def test_the_object_waits_for_its_first_span(otlp_receiver: OTLPReceiver) -> None:
    trace = raaf.trace_id()
    exporter = _exporter(otlp_receiver)
    exporter.submit_items([raaf.trace_object(trace)])
    exporter.submit_items([raaf.span(trace, raaf.span_id(), None, raaf.agent_data("A"))])
    assert exporter.shutdown(10).delivered
    assert _workflows(otlp_receiver) == [(workflow_span_id_for(trace).hex(), f"invoke_workflow {raaf.WORKFLOW}")]


def test_after_a_restart_on_the_same_store(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    store, first, second = tmp_path / "s.db", raaf.trace_id(), raaf.trace_id()
    exporter = _exporter(otlp_receiver, store)
    exporter.submit_items_durable([raaf.trace_object(first),
                                   raaf.span(first, raaf.span_id(), None, raaf.agent_data("A"))])
    assert exporter.shutdown(10).delivered  # finishes the first trace
    exporter = _exporter(otlp_receiver, store)  # a new process: it has not seen the first trace end
    exporter.submit_items_durable([raaf.trace_object(first),
                                   raaf.span(second, raaf.span_id(), None, raaf.agent_data("B"))])
    assert exporter.shutdown(10).delivered
    assert [span_id for span_id, _ in _workflows(otlp_receiver)] == sorted(
        workflow_span_id_for(t).hex() for t in (first, second))


def test_an_open_trace_left_with_only_its_object_is_not_finished_after_a_restart(
        otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A store where a stopped process had opened a trace for its object alone."""
    path, trace = tmp_path / "s.db", raaf.trace_id()
    payload = json.dumps(raaf.trace_object(trace)).encode()
    store = SpanStore(path)
    store.append([(KIND_TRACE_START, trace, trace, None, payload)], opened=[(trace, payload, None, None)])
    store.close()
    exporter = _exporter(otlp_receiver, path)
    assert exporter.shutdown(10).delivered
    assert otlp_receiver.spans() == []
