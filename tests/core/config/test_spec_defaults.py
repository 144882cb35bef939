"""Batch size and export timeout default to RAAF's OpenTelemetry-protocol spec (the
``raaf_otlp_configurations`` table: ``batch_size`` 100, ``timeout`` 10 s), for live export and
for stored destinations alike; ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` still overrides."""

from __future__ import annotations

from agent_otlp.core.config.settings import resolve_settings
from agent_otlp.factory import resolve_all
from agent_otlp.store.destinations import StoredDestination


def test_live_export_defaults_to_100_spans_and_10_seconds() -> None:
    settings = resolve_settings("otlp", env={})
    assert (settings.batch_size, settings.timeout) == (100, 10.0)
    assert settings.origins["batch_size"] == "default"


def test_a_stored_destination_without_its_own_values_gets_the_same_defaults() -> None:
    stored = StoredDestination(name="archive", adapter="otlp", endpoint="http://127.0.0.1:4318")
    arguments = stored.arguments({}, installed=["otlp"])
    [(settings, _)] = resolve_all("archive", env={}, destinations={"archive": arguments})
    assert (settings.batch_size, settings.timeout) == (100, 10.0)


def test_the_opentelemetry_variable_still_overrides_the_batch_size() -> None:
    settings = resolve_settings("otlp", env={"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512"})
    assert settings.batch_size == 512
