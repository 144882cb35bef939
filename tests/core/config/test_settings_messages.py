"""Messages of refused settings say the rule the parser applies."""

from __future__ import annotations

import pytest

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.settings import resolve_settings


@pytest.mark.parametrize("raw", ["0", "-5", "0.0"])
def test_an_otel_timeout_must_be_positive_milliseconds(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings("otlp", env={"OTEL_EXPORTER_OTLP_TIMEOUT": raw})
    assert str(caught.value) == (
        f"invalid OTEL_EXPORTER_OTLP_TIMEOUT={raw!r}: expected a number of milliseconds, > 0"
    )


def test_the_same_rule_in_seconds_and_the_accepted_values() -> None:
    with pytest.raises(ConfigError, match=r"AGENT_OTLP_TIMEOUT='0': expected a number > 0$"):
        resolve_settings("otlp", env={"AGENT_OTLP_TIMEOUT": "0"})
    assert resolve_settings("otlp", env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1"}).timeout == 0.001
    assert resolve_settings("otlp", env={"AGENT_OTLP_TIMEOUT": "0.25"}).timeout == 0.25


def test_durations_that_may_be_zero_say_so() -> None:
    assert resolve_settings("otlp", env={"OTEL_BSP_SCHEDULE_DELAY": "0"}).schedule_delay == 0
    with pytest.raises(ConfigError, match=r"OTEL_BSP_SCHEDULE_DELAY='-1': expected a number "
                                          r"of milliseconds, >= 0$"):
        resolve_settings("otlp", env={"OTEL_BSP_SCHEDULE_DELAY": "-1"})
