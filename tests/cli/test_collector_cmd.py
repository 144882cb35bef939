"""``agent-otlp collector-config --fleet``: the load-balancing and sampling tiers behind a
fleet of bridges (their validity is checked by the built Collector in
integration/test_collector_configs.py; here, what they say)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app
from agent_otlp.cli._collector_fleet import FleetOptions, loadbalancer_document, sampler_document
from agent_otlp.cli._collector_yaml import to_yaml
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.convert.attributes import (
    GUARDRAIL_RESULT_TYPE,
    GUARDRAIL_RESULT_VALUE,
    TRIPWIRE,
)
from agent_otlp.core.plugins.sampling import RATE_ATTRIBUTE

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ["--fleet", "--sampler", "otelcol-sampler-1:4317", "--sampler", "otelcol-sampler-2:4317",
            "--rate", "0.1", "--to", "jaeger=http://jaeger:4317"]


def _options(rate: float = 0.25) -> FleetOptions:
    return FleetOptions(["s1:4317", "s2:4317"], [("jaeger", "http://jaeger:4317")], rate=rate)


def _invoke(*args: str) -> Any:
    _register()
    return CliRunner().invoke(app, ["collector-config", *args])


def test_loadbalancer_routes_by_trace_id_to_the_samplers_from_a_disk_queue() -> None:
    document = loadbalancer_document(_options())
    exporter = document["exporters"]["loadbalancing"]
    assert exporter["routing_key"] == "traceID"
    assert exporter["resolver"] == {"static": {"hostnames": ["s1:4317", "s2:4317"]}}
    assert exporter["sending_queue"]["storage"] == "file_storage/queue"
    assert exporter["retry_on_failure"]["max_elapsed_time"] == 0  # never given up
    # the per-endpoint exporters hold nothing in memory: a batch stays on disk until acknowledged
    assert exporter["protocol"]["otlp"]["sending_queue"] == {"enabled": False}
    assert "file_storage/queue" in document["service"]["extensions"]


def _policies(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return list(document["processors"][name]["policies"])


def test_sampler_keeps_errors_and_tripped_guardrails_and_samples_the_rest() -> None:
    document = sampler_document(_options(0.25))
    kept = _policies(document, "tail_sampling/kept")
    assert [p["type"] for p in kept] == ["status_code", "ottl_condition"]
    assert kept[0]["status_code"] == {"status_codes": ["ERROR"]}
    condition = kept[1]["ottl_condition"]["span"][0]
    assert GUARDRAIL_RESULT_TYPE in condition and GUARDRAIL_RESULT_VALUE in condition
    assert f'"{TRIPWIRE}"' in condition
    sampled = _policies(document, "tail_sampling/sampled")
    # what the kept pipeline keeps, the sampled one drops: no trace is delivered twice
    assert [p["type"] for p in sampled] == ["drop", "drop", "probabilistic"]
    assert [p["drop"]["drop_sub_policy"][0] for p in sampled[:2]] == kept
    assert sampled[2]["probabilistic"] == {"sampling_percentage": 25.0}
    pipelines = document["service"]["pipelines"]
    assert pipelines["traces/sampled"]["processors"] == [
        "groupbytrace", "tail_sampling/sampled", "attributes/sample_rate", "batch"]
    assert pipelines["traces/kept"]["processors"] == ["groupbytrace", "tail_sampling/kept", "batch"]
    # the rate is recorded as the bridge's own sampling records it: the weight 1/rate
    assert document["processors"]["attributes/sample_rate"]["actions"] == [
        {"key": RATE_ATTRIBUTE, "value": 4, "action": "upsert"}]
    exporter = document["exporters"]["otlp/jaeger"]
    assert exporter["sending_queue"]["storage"] == "file_storage/queue"


def test_sampler_at_rate_one_records_no_rate() -> None:
    document = sampler_document(_options(1.0))
    assert "attributes/sample_rate" not in document["processors"]
    assert document["service"]["pipelines"]["traces/sampled"]["processors"] == [
        "groupbytrace", "tail_sampling/sampled", "batch"]


def test_yaml_writes_lists_of_mappings_and_quotes_what_needs_it() -> None:
    lines = to_yaml({"policies": [{"name": "a", "when": ['x["k"] == "v"'], "n": 4}], "on": "true"})
    assert lines == [
        "policies:",
        "  - name: a",
        "    when:",
        "      - 'x[\"k\"] == \"v\"'",
        "    n: 4",
        "\"on\": \"true\"",
    ]


def test_fleet_writes_both_tiers_to_a_directory(tmp_path: Path) -> None:
    result = _invoke("--fleet", "--sampler", "127.0.0.1:4417", "--out", str(tmp_path / "tiers"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "tiers").iterdir()) == ["loadbalancer.yaml", "sampler.yaml"]
    assert "- 127.0.0.1:4417" in (tmp_path / "tiers" / "loadbalancer.yaml").read_text()


def test_fleet_prints_both_tiers_without_out() -> None:
    result = _invoke("--fleet")
    assert result.exit_code == 0, result.output
    assert "# --- loadbalancer.yaml" in result.output and "# --- sampler.yaml" in result.output
    assert "- sampler-1:4317" in result.output


def test_deploy_ships_the_generated_tiers(tmp_path: Path) -> None:
    """deploy/otel-collector/fleet/ is exactly what the command writes (docs/scale-out.md)."""
    assert _invoke(*DEPLOYED, "--out", str(tmp_path)).exit_code == 0
    for name in ("loadbalancer.yaml", "sampler.yaml"):
        shipped = ROOT / "deploy" / "otel-collector" / "fleet" / name
        assert shipped.read_text() == (tmp_path / name).read_text(), name


@pytest.mark.parametrize(("args", "option", "value"), [
    (["--fleet", "--sampler", "nohost"], "--sampler", "nohost"),
    (["--fleet", "--rate", "0"], "--rate", "0.0"),
    (["--fleet", "--rate", "1.5"], "--rate", "1.5"),
    (["--fleet", "--decision-wait", "0"], "--decision-wait", "0.0"),
    (["--sampler", "a:4317"], "--sampler", "a:4317"),
    (["--rate", "0.5"], "--rate", "0.5"),
])
def test_fleet_options_are_checked(args: list[str], option: str, value: str) -> None:
    result = _invoke(*args)
    assert isinstance(result.exception, ConfigError), result.output
    assert option in str(result.exception) and value in str(result.exception)
