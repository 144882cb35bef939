"""``AGENT_OTLP_TRACE_PLUGINS=true``: every hook call is logged, the per-span ones included."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.plugins.manager import AdapterManager
from agent_otlp.testing import OTLPReceiver
from test_core_retry import items


class Recorder:
    """Counts the calls of every hook a destination makes during an export."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @agent_otlp.hookimpl
    def agent_otlp_resource_attributes(self) -> None:
        self.calls["agent_otlp_resource_attributes"] += 1

    @agent_otlp.hookimpl
    def agent_otlp_map_attributes(self, span: Any) -> None:
        self.calls["agent_otlp_map_attributes"] += 1

    @agent_otlp.hookimpl
    def agent_otlp_process_batch(self, spans: Any) -> None:
        self.calls["agent_otlp_process_batch"] += 1

    @agent_otlp.hookimpl
    def agent_otlp_sample_trace(self) -> None:
        self.calls["agent_otlp_sample_trace"] += 1


def _traced_calls(text: str) -> Counter[str]:
    """Hook calls in pluggy's trace output: one ``finish <hook> --> ...`` line per call."""
    return Counter(re.findall(r"finish (agent_otlp_\w+) -->", text))


@pytest.mark.parametrize("traced", [True, False])
def test_every_hook_call_of_an_export_is_traced(
    otlp_receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture, traced: bool
) -> None:
    env = {"AGENT_OTLP_TRACE_PLUGINS": "true"} if traced else {}
    manager = AdapterManager(env=env)
    recorder = Recorder()
    manager.register_global(recorder, name="recorder")
    with caplog.at_level(logging.DEBUG, logger="agent_otlp.plugins"):
        exporter = agent_otlp.create_exporter(
            "otlp", endpoint=otlp_receiver.endpoint, env={}, manager=manager, schedule_delay=0.02
        )
        exporter.submit_items(items(5))
        assert exporter.shutdown(10).delivered
    assert otlp_receiver.span_count() == 6
    assert recorder.calls["agent_otlp_map_attributes"] == 6
    assert set(recorder.calls) == {
        "agent_otlp_resource_attributes", "agent_otlp_map_attributes",
        "agent_otlp_process_batch", "agent_otlp_sample_trace",
    }
    traced_calls = _traced_calls(caplog.text)
    if traced:
        for hook, count in recorder.calls.items():
            assert traced_calls[hook] == count, (hook, traced_calls)
    else:
        assert not traced_calls
