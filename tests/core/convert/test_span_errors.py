"""A span's ``error`` in every shape clients send it: the SDK's object or null, and what RAAF
copies from a span's ``error`` attribute as it is (a string, ``true``, any value)."""

from __future__ import annotations

from typing import Any

import pytest

import agent_otlp
import raaf_payloads as raaf
from agent_otlp.core.convert.records import ERROR_WITHOUT_MESSAGE, AgentSpan, StatusCode, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span
from agent_otlp.testing import OTLPReceiver


def _item(error: Any) -> dict[str, Any]:
    trace = raaf.trace_id()
    return raaf.span(trace, raaf.span_id(), None, raaf.agent_data("Writer"), error=error)


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (None, StatusCode.UNSET, ""),
        (False, StatusCode.UNSET, ""),
        ({"message": "Payment gateway timeout", "data": {"order": "A-1"}}, StatusCode.ERROR,
         "Payment gateway timeout"),
        ({"data": {"code": 7}}, StatusCode.ERROR, ERROR_WITHOUT_MESSAGE),
        ("Net::ReadTimeout: execution expired", StatusCode.ERROR, "Net::ReadTimeout: execution expired"),
        ("", StatusCode.ERROR, ERROR_WITHOUT_MESSAGE),
        (True, StatusCode.ERROR, ERROR_WITHOUT_MESSAGE),
        (429, StatusCode.ERROR, "429"),
        (["quota", "exceeded"], StatusCode.ERROR, '["quota", "exceeded"]'),
    ],
    ids=["null", "false", "object", "object-without-message", "string", "empty-string", "true",
         "number", "list"],
)
def test_every_error_shape_is_accepted(error: Any, status: int, message: str) -> None:
    span = parse_item(_item(error))  # refused before for anything but an object or null
    assert isinstance(span, AgentSpan)
    record = convert_span(span, ConvertOptions())
    assert record.status_code == status
    assert record.status_message == message
    exceptions = [e for e in record.events if e.name == "exception"]
    assert len(exceptions) == (status == StatusCode.ERROR)
    if exceptions:
        assert exceptions[0].attributes["exception.message"] == message


def test_a_raaf_post_with_string_and_true_errors_is_exported_whole(otlp_receiver: OTLPReceiver) -> None:
    trace = raaf.trace_id()
    post = [
        raaf.trace_object(trace),
        raaf.span(trace, raaf.span_id(), None, raaf.agent_data("A"), error="boom"),
        raaf.span(trace, raaf.span_id(), None, raaf.agent_data("B"), error=True),
        raaf.span(trace, raaf.span_id(), None, raaf.agent_data("C"), error=None),
    ]
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                          schedule_delay=0.02)
    assert exporter.submit_items(post) == []
    assert exporter.shutdown(10).delivered
    by_name = {s.name: s for s in otlp_receiver.spans()}
    assert by_name["invoke_agent A"].status_message == "boom"
    assert by_name["invoke_agent B"].status_message == ERROR_WITHOUT_MESSAGE
    assert by_name["invoke_agent C"].status_code == StatusCode.UNSET


class _Unprintable:
    """A Python caller's object whose ``str`` and ``repr`` raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__


@pytest.mark.parametrize("error", [_Unprintable(), [_Unprintable()], {"message": None, "data": _Unprintable()}],
                         ids=["object", "in-a-list", "in-an-object"])
def test_an_error_value_that_cannot_be_shown_is_named_by_its_type(error: Any) -> None:
    span = parse_item(_item(error))
    assert isinstance(span, AgentSpan)
    record = convert_span(span, ConvertOptions())
    assert record.status_code == StatusCode.ERROR
    if not isinstance(error, dict):
        assert "<unrepresentable _Unprintable>" in record.status_message
