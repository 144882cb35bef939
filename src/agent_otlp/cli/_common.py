"""Options and helpers shared by the commands."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent_otlp.core import envvars as ev
from agent_otlp.core.exporter import AgentExporter
from agent_otlp.core.factory import create_exporter, open_store
from agent_otlp.core.settings import load_config_file

if TYPE_CHECKING:
    from agent_otlp.store.sqlite import SpanStore

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
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Span store file (default: AGENT_OTLP_STORE, else the user data directory).",
        show_default=False,
    ),
]
NoStoreOpt = Annotated[
    bool,
    typer.Option("--no-store", help="Stream without the durable span store."),
]
ContentOpt = Annotated[
    bool | None,
    typer.Option("--capture-content/--no-capture-content", help="Record messages and tool I/O."),
]


def cli_store(
    store: Path | None, no_store: bool = False, env: Mapping[str, str] | None = None
) -> SpanStore | None:
    """The span store of a command: ``--no-store`` turns it off; ``--store PATH`` beats
    ``AGENT_OTLP_STORE`` (which may say ``off``); on by default, in the user data directory."""
    env = os.environ if env is None else env
    if no_store:
        return None
    return open_store(store if store is not None else env.get(ev.AGENT_OTLP_STORE) or True, env)


def stored_destination_arguments(
    adapters: str | None, config: Path | None, store: SpanStore | None, env: Mapping[str, str]
) -> tuple[str | None, dict[str, Any]]:
    """Adapters and ``destinations`` arguments naming stored destinations.

    Names in ``--adapter`` that are stored destinations use their stored settings. With no
    destination chosen anywhere (``--adapter``, ``AGENT_OTLP_ADAPTERS``, the config file, an
    OTLP endpoint variable), the enabled stored destinations are used, if there are any.
    """
    from agent_otlp.historical import destination_arguments
    from agent_otlp.store.destinations import DestinationStore

    if store is None:
        return adapters, {}
    if adapters is not None:
        names = [n.strip() for n in adapters.split(",") if n.strip()]
        return adapters, destination_arguments(names, store, env)
    chosen = (
        env.get(ev.AGENT_OTLP_ADAPTERS)
        or env.get(ev.OTEL_EXPORTER_OTLP_ENDPOINT)
        or env.get(ev.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
        or load_config_file(config, env).get("adapters") is not None
    )
    if chosen:
        return adapters, {}
    stored = DestinationStore(store).exporter_arguments(env)
    if not stored["adapters"]:
        return adapters, {}
    return ",".join(stored["adapters"]), stored["destinations"]


def build_exporter(
    adapters: str | None,
    config: Path | None,
    endpoint: str | None,
    protocol: str | None,
    capture_content: bool | None,
    *,
    store: Path | None = None,
    no_store: bool = True,
) -> AgentExporter:
    """An exporter for a command; with the span store unless ``no_store``."""
    arguments: dict[str, Any] = {}
    if endpoint:
        arguments["endpoint"] = endpoint
    if protocol:
        arguments["protocol"] = protocol
    if capture_content is not None:
        arguments["capture_content"] = capture_content
    span_store = cli_store(store, no_store)
    adapters, destinations = stored_destination_arguments(adapters, config, span_store, os.environ)
    if destinations:
        arguments["destinations"] = destinations
    try:
        return create_exporter(adapters, config_file=config, store=span_store or False, **arguments)
    except BaseException:
        if span_store is not None:
            span_store.close()
        raise


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
