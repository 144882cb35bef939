"""``agent-otlp collector-config``: an OpenTelemetry Collector configuration forwarding to
the backends, or (``--fleet``) the two Collector tiers behind a fleet of bridges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent_otlp.cli import app
from agent_otlp.cli._collector_fleet import FleetOptions, fleet_configs
from agent_otlp.cli._collector_yaml import collector_config_yaml, pairs
from agent_otlp.core.config.errors import ConfigError

__all__ = ["collector_config"]


def _headers(values: list[str], names: set[str]) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {}
    for name, spec in pairs(values, "--header", "NAME=KEY:VALUE"):
        key, sep, value = spec.partition(":")
        if not sep or not key.strip():
            raise ConfigError("--header", spec, "expected NAME=KEY:VALUE")
        headers.setdefault(name, {})[key.strip()] = value.strip()
    unknown = set(headers) - names
    if unknown:
        raise ConfigError("--header", ", ".join(sorted(unknown)), "names no --to backend")
    return headers


def _write(files: dict[str, str], out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--out", str(out), f"cannot write there: {exc.strerror}") from None
    for name in files:
        typer.echo(str(out / name))


def _only_with_fleet(sampler: list[str] | None, out: Path | None, rate: float,
                     decision_wait: float) -> None:
    given = {"--sampler": ", ".join(sampler or []), "--out": str(out or ""),
             "--rate": "" if rate == 1.0 else str(rate),
             "--decision-wait": "" if decision_wait == 10.0 else str(decision_wait)}
    for option, value in given.items():
        if value:
            raise ConfigError(option, value, "only with --fleet")


@app.command("collector-config")
def collector_config(
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="Backend as NAME=URL (repeatable); port 4317 or grpc:// "
                     "means OTLP/gRPC, otherwise OTLP/HTTP."),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="Header for one backend as NAME=KEY:VALUE (repeatable)."),
    ] = None,
    fleet: Annotated[
        bool,
        typer.Option("--fleet", help="The two tiers behind a fleet of bridges "
                     "(docs/scale-out.md): a load-balancing tier and a sampling tier."),
    ] = False,
    sampler: Annotated[
        list[str] | None,
        typer.Option("--sampler", help="With --fleet: a sampling-tier instance as HOST:PORT "
                     "(OTLP/gRPC; repeatable)."),
    ] = None,
    rate: Annotated[
        float,
        typer.Option("--rate", help="With --fleet: share of the traces without an error or a "
                     "tripped guardrail that is kept (0 < rate <= 1)."),
    ] = 1.0,
    decision_wait: Annotated[
        float,
        typer.Option("--decision-wait", help="With --fleet: seconds the sampling tier waits "
                     "after a trace's first span before deciding it."),
    ] = 10.0,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="With --fleet: write loadbalancer.yaml and sampler.yaml "
                     "into this directory instead of printing them."),
    ] = None,
) -> None:
    """Print an OpenTelemetry Collector config (YAML) that forwards to your backends."""
    targets = pairs(to or [], "--to", "NAME=URL, e.g. --to jaeger=http://jaeger:4317")
    if not targets:
        targets = [("jaeger", "http://jaeger:4317")]
    headers = _headers(header or [], {name for name, _ in targets})
    if not fleet:
        _only_with_fleet(sampler, out, rate, decision_wait)
        typer.echo(collector_config_yaml(targets, headers), nl=False)
        return
    samplers = list(sampler or ["sampler-1:4317", "sampler-2:4317"])
    files = fleet_configs(FleetOptions(samplers, targets, headers, rate, decision_wait))
    if out is not None:
        _write(files, out)
        return
    for name, text in files.items():
        typer.echo(f"# --- {name}")
        typer.echo(text, nl=False)
