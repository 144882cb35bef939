"""``instrument_openai_agents()`` called more than once installs one processor."""

from __future__ import annotations

import logging
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.testing import OTLPReceiver  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")


def _installed() -> list[Any]:
    return list(agents_tracing.get_trace_provider()._multi_processor._processors)


def _one_trace(name: str) -> None:
    with agents_tracing.trace(name), agents_tracing.custom_span("step", {}):
        pass


def _instrument(receiver: OTLPReceiver, **extra: Any) -> Any:
    return agent_otlp.instrument_openai_agents(
        adapters="otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.02, **extra
    )


def test_second_call_returns_the_installed_processor_and_warns(
    otlp_receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    first = _instrument(otlp_receiver)
    with caplog.at_level(logging.WARNING, logger="agent_otlp"):
        second = _instrument(otlp_receiver, headers={"x-api-key": "s3cret-value"})
    assert second is first
    assert _installed() == [first]
    warning = caplog.text
    assert "called again" in warning
    assert "ignored arguments: adapters, endpoint, env, headers, schedule_delay" in warning
    assert "s3cret-value" not in warning
    _one_trace("once")
    first.shutdown()
    spans = otlp_receiver.spans()
    assert len(spans) == 2, [s.name for s in spans]  # the custom span and the workflow span
    assert len({s.span_id for s in spans}) == 2


def test_after_shutdown_a_new_call_replaces_the_processor(otlp_receiver: OTLPReceiver) -> None:
    first = _instrument(otlp_receiver)
    first.shutdown()
    second = _instrument(otlp_receiver)
    assert second is not first
    assert _installed() == [second]
    _one_trace("again")
    second.shutdown()
    assert otlp_receiver.span_count() == 2


def test_processors_cleared_by_the_sdk_are_installed_again(otlp_receiver: OTLPReceiver) -> None:
    first = _instrument(otlp_receiver)
    agents_tracing.set_trace_processors([])
    second = _instrument(otlp_receiver)
    assert second is not first and _installed() == [second]
    first.shutdown()
    second.shutdown()
