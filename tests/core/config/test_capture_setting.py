"""The content capture setting: OpenTelemetry's modes and the booleans, from every source."""

from __future__ import annotations

from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.settings import TransportDefaults, resolve_settings

ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.mark.parametrize(("value", "captured", "mode"), [
    ("SPAN_ONLY", True, "span_only"), ("EVENT_ONLY", True, "event_only"),
    ("SPAN_AND_EVENT", True, "span_and_event"), ("NO_CONTENT", False, "no_content"),
    ("span_and_event", True, "span_and_event"), ("true", True, "span_only"),
    ("false", False, "no_content"),
])
def test_from_the_otel_variable(value: str, captured: bool, mode: str) -> None:
    settings = resolve_settings("otlp", env={ENV: value})
    assert (settings.capture_content, settings.content_mode) == (captured, mode)
    assert settings.origins["capture_content"] == f"env {ENV}"


def test_argument_and_adapter_default() -> None:
    assert resolve_settings("otlp", env={}, arguments={"capture_content": "EVENT_ONLY"}
                            ).content_mode == "event_only"
    assert resolve_settings("otlp", env={}, arguments={"capture_content": True}
                            ).content_mode == "span_only"

    def defaults(*_: Any) -> TransportDefaults:
        return {"capture_content": True}

    assert resolve_settings("otlp", env={}, adapter_defaults=defaults).content_mode == "span_only"
    assert resolve_settings("otlp", env={}).content_mode == "no_content"


def test_an_exporter_is_built_with_a_mode() -> None:
    exporter = agent_otlp.create_exporter("otlp", env={ENV: "SPAN_AND_EVENT"})
    try:
        assert exporter.destinations[0].settings.content_mode == "span_and_event"
    finally:
        exporter.shutdown(1)


def test_an_unknown_value_is_refused_naming_variable_and_value() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings("otlp", env={ENV: "EVENTS_PLEASE"})
    assert ENV in str(caught.value) and "EVENTS_PLEASE" in str(caught.value)
