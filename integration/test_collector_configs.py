"""Every OpenTelemetry Collector configuration the project ships (``deploy/``) or prints
(``agent-otlp collector-config``, ``collector-config --fleet``) passes the built
Collector's own ``validate`` command: the components exist in the distribution and every
setting is one they accept. Jaeger v2 is a Collector distribution too: the Jaeger
configurations in ``deploy/jaeger`` pass the built Jaeger's ``validate``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "deploy" / "otel-collector").rglob("*.yaml"))
JAEGER = sorted((ROOT / "deploy" / "jaeger").glob("*.yaml"))
PRINTED = {
    "default": ["collector-config"],
    "backends": ["collector-config", "--to", "jaeger=http://jaeger:4317",
                 "--to", "tempo=http://tempo:4318", "--to", "honeycomb=https://api.honeycomb.io",
                 "--header", "tempo=X-Scope-OrgID:team-a", "--to", "gw=grpcs://gw.example:4317"],
}
FLEETS = {
    "fleet-rate-1": ["collector-config", "--fleet"],
    "fleet-rate-0.1": ["collector-config", "--fleet", "--rate", "0.1", "--sampler", "a:4317",
                       "--sampler", "b:4317", "--sampler", "c:4317",
                       "--to", "jaeger=http://jaeger:4317", "--to", "tempo=http://tempo:4318"],
}


def _validate(binary: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), "validate", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)


def _printed(args: list[str]) -> str:
    _register()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_configurations_deploy_ships_are_found() -> None:
    names = {p.relative_to(ROOT / "deploy").as_posix() for p in SHIPPED}
    assert {"otel-collector/config.yaml", "otel-collector/fleet/loadbalancer.yaml",
            "otel-collector/fleet/sampler.yaml"} <= names
    assert [p.name for p in JAEGER] == ["config.yaml", "local.yaml"]


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shipped_configuration_is_valid(otelcol_binary: Path, config: Path) -> None:
    result = _validate(otelcol_binary, config)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", JAEGER, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shipped_jaeger_configuration_is_valid(jaeger_binary: Path, config: Path) -> None:
    result = _validate(jaeger_binary, config)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(PRINTED))
def test_printed_configuration_is_valid(otelcol_binary: Path, tmp_path: Path, name: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(_printed(PRINTED[name]))
    result = _validate(otelcol_binary, config)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(FLEETS))
def test_fleet_tiers_are_valid(otelcol_binary: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "fleet"
    _printed([*FLEETS[name], "--out", str(out)])
    tiers = sorted(out.glob("*.yaml"))
    assert [p.name for p in tiers] == ["loadbalancer.yaml", "sampler.yaml"]
    for config in tiers:
        result = _validate(otelcol_binary, config)
        assert result.returncode == 0, f"{config.name}: {result.stdout}{result.stderr}"


def test_validate_refuses_a_component_the_distribution_lacks(otelcol_binary: Path, tmp_path: Path) -> None:
    """The check above can fail: a configuration naming a missing exporter is refused."""
    config = tmp_path / "config.yaml"
    config.write_text(_printed(PRINTED["default"]).replace("otlp/jaeger", "kafka/jaeger"))
    result = _validate(otelcol_binary, config)
    assert result.returncode != 0
    assert "kafka" in result.stdout + result.stderr
