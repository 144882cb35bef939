"""Options and helpers shared by the commands.

Output goes through :data:`console` and :data:`err_console`, which print strings as they are:
no rich markup, no ``:emoji:`` codes, so ids, names and messages from files, clients and
backends can never style the terminal, link out or crash the print. Styling uses
:class:`rich.text.Text`. Text from data passes through :func:`~agent_otlp.adapters.console_tree.printable`,
which shows control characters (an escape sequence in a span name) as ``\x1b``. When the
output is not a terminal (CI logs, pipes, files) lines are not cut at 80 columns.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Final, TextIO

import typer
from rich.console import Console
from rich.table import Table

from agent_otlp.adapters.console_tree import printable
from agent_otlp.cli import ExitCode
from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.errors import InputError
from agent_otlp.core.config.loading import load_config_file
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.factory import create_exporter, open_store

if TYPE_CHECKING:
    from agent_otlp.store.sqlite import SpanStore

#: Width of output that is not a terminal, unless ``COLUMNS`` says otherwise: tables and
#: lines are as wide as their content (a terminal's own width still applies to terminals).
PLAIN_WIDTH: Final = 4096


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def make_console(*, stderr: bool = False) -> Console:
    """A console that prints data literally (no markup, no emoji codes, no highlighting),
    full width when its stream is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not _is_terminal(stream) and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False,
                   width=PLAIN_WIDTH if wide else None)


console = make_console()
err_console = make_console(stderr=True)

AdaptersOpt = Annotated[
    str | None,
    typer.Option(
        "--adapter",
        "-a",
        help="Destination(s) by adapter name, comma-separated (default: AGENT_OTLP_ADAPTERS, "
        "the config file, stored destinations, otlp with --endpoint, else console).",
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
    store: Path | None, no_store: bool = False, env: Mapping[str, str] | None = None,
    *, read_only: bool = False,
) -> SpanStore | None:
    """The span store of a command: ``--no-store`` turns it off; ``--store PATH`` beats
    ``AGENT_OTLP_STORE`` (which may say ``off``); on by default, in the user data directory.
    ``read_only`` for commands that only read it (``status``, ``show``)."""
    env = os.environ if env is None else env
    if no_store:
        return None
    return open_store(cli_store_asked(store, env), env, read_only=read_only)


def cli_store_asked(store: Path | None, env: Mapping[str, str]) -> Path | str | bool:
    """The store a command asks for: ``--store PATH``, else ``AGENT_OTLP_STORE``, else on."""
    return store if store is not None else env.get(ev.AGENT_OTLP_STORE) or True


def destination_chosen_elsewhere(config: Path | None, env: Mapping[str, str]) -> bool:
    """Whether a destination is chosen without ``--adapter``: ``AGENT_OTLP_ADAPTERS``, an
    OTLP endpoint variable, or ``adapters`` in the config file."""
    return bool(
        env.get(ev.AGENT_OTLP_ADAPTERS)
        or env.get(ev.OTEL_EXPORTER_OTLP_ENDPOINT)
        or env.get(ev.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
        or load_config_file(config, env).get("adapters") is not None
    )


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
    if destination_chosen_elsewhere(config, env):
        return adapters, {}
    stored = DestinationStore(store).exporter_arguments(env)
    if not stored["adapters"]:
        return adapters, {}
    return ",".join(stored["adapters"]), stored["destinations"]


def endpoint_arguments(endpoint: str | None, protocol: str | None) -> dict[str, Any]:
    """The ``--endpoint`` and ``--protocol`` given, as keyword arguments of the settings."""
    arguments: dict[str, Any] = {}
    if endpoint:
        arguments["endpoint"] = endpoint
    if protocol:
        arguments["protocol"] = protocol
    return arguments


def build_exporter(
    adapters: str | None,
    config: Path | None,
    endpoint: str | None,
    protocol: str | None,
    capture_content: bool | None,
    *,
    store: Path | None = None,
    no_store: bool = True,
    delivery: str | None = None,
) -> AgentExporter:
    """An exporter for a command; with the span store unless ``no_store`` (its destinations
    in a delivery process of their own with ``delivery="process"``)."""
    arguments = endpoint_arguments(endpoint, protocol)
    if capture_content is not None:
        arguments["capture_content"] = capture_content
    span_store = cli_store(store, no_store)
    adapters, destinations = stored_destination_arguments(adapters, config, span_store, os.environ)
    if destinations:
        arguments["destinations"] = destinations
    if delivery is not None and span_store is not None:
        arguments["delivery"] = delivery
    try:
        exporter: AgentExporter = create_exporter(
            adapters, config_file=config, store=span_store or False, **arguments
        )
        return exporter
    except BaseException:
        if span_store is not None:
            span_store.close()
        raise


def stats_table(exporter: AgentExporter, *, input_errors: bool = True) -> Table:
    """Self-telemetry of an exporter as a table; its caption counts the invalid items
    (unless ``input_errors`` is false: the command reports them itself)."""
    snapshot = exporter.stats.snapshot()
    table = Table(title="export", title_justify="left")
    for column in ("destination", "received", "exported", "dropped", "retries", "failed batches",
                   "breaker", "last error"):
        table.add_column(column)
    for name, dest in snapshot["destinations"].items():
        dropped = ", ".join(f"{k}={v}" for k, v in dest["dropped"].items()) or "0"
        table.add_row(*(printable(cell) for cell in (
            name, dest["received"], dest["exported"], dropped, dest["retries"],
            dest["failed_batches"], dest["breaker"], dest["last_error"] or "-",
        )))
    if snapshot["invalid_items"] and input_errors:
        table.caption = printable(
            f"{snapshot['invalid_items']} invalid items skipped; last: {snapshot['last_input_error']}"
        )
    return table


def delivery_exit_code(*, rejected: int, delivered: bool) -> ExitCode:
    """The exit code of a command that delivers: spans not delivered outrank rejected items."""
    if not delivered:
        return ExitCode.UNDELIVERED
    return ExitCode.REJECTED if rejected else ExitCode.OK


class _InvalidItemLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("agent-otlp: skipped invalid item")


def submit_listed(exporter: AgentExporter, items: Iterable[Any]) -> list[InputError]:
    """:meth:`AgentExporter.submit_items` for a command that lists the invalid items itself:
    the exporter does not log each of them too (each is reported once)."""
    log = logging.getLogger("agent_otlp.export")
    quiet = _InvalidItemLogFilter()
    log.addFilter(quiet)
    try:
        return exporter.submit_items(items)
    finally:
        log.removeFilter(quiet)


def report_invalid_items(errors: list[InputError], shown: int = 20) -> None:
    """Each invalid item on stderr, once (the first ``shown``), then how many there were."""
    for error in errors[:shown]:
        err_console.print(printable(f"skipped: {error}"))
    if len(errors) > shown:
        err_console.print(f"... and {len(errors) - shown} more invalid items")
    if errors:
        err_console.print(f"{len(errors)} invalid items skipped")


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM and SIGINT call ``stop`` (a follower ends after the page in flight) instead of
    raising ``KeyboardInterrupt`` wherever the main thread happens to be (inside a callback
    whose exceptions Python ignores, the interrupt would be lost)."""
    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
