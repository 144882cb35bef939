"""Options and helpers shared by the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent_otlp.core.exporter import AgentExporter
from agent_otlp.core.factory import create_exporter

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

AdaptersOpt = Annotated[
    str | None,
    typer.Option(
        "--adapter",
        "-a",
        help="Destination(s) by adapter name, comma-separated (default: AGENT_OTLP_ADAPTERS, "
        "the config file, else console).",
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (default: AGENT_OTLP_CONFIG).")
]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint", help="OTLP endpoint URL.")]
ProtocolOpt = Annotated[
    str | None, typer.Option("--protocol", help="http/protobuf or grpc.")
]
ContentOpt = Annotated[
    bool | None,
    typer.Option("--capture-content/--no-capture-content", help="Record messages and tool I/O."),
]


def build_exporter(
    adapters: str | None,
    config: Path | None,
    endpoint: str | None,
    protocol: str | None,
    capture_content: bool | None,
) -> AgentExporter:
    arguments: dict[str, Any] = {}
    if endpoint:
        arguments["endpoint"] = endpoint
    if protocol:
        arguments["protocol"] = protocol
    if capture_content is not None:
        arguments["capture_content"] = capture_content
    return create_exporter(adapters, config_file=config, **arguments)


def stats_table(exporter: AgentExporter) -> Table:
    """Self-telemetry of an exporter as a table."""
    snapshot = exporter.stats.snapshot()
    table = Table(title="export", title_justify="left")
    for column in ("destination", "received", "exported", "dropped", "retries", "failed batches",
                   "breaker", "last error"):
        table.add_column(column)
    for name, dest in snapshot["destinations"].items():
        dropped = ", ".join(f"{k}={v}" for k, v in dest["dropped"].items()) or "0"
        table.add_row(
            name,
            str(dest["received"]),
            str(dest["exported"]),
            dropped,
            str(dest["retries"]),
            str(dest["failed_batches"]),
            dest["breaker"],
            dest["last_error"] or "-",
        )
    if snapshot["invalid_items"]:
        table.caption = (
            f"{snapshot['invalid_items']} invalid items skipped; last: {snapshot['last_input_error']}"
        )
    return table
