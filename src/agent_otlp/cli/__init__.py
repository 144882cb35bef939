"""The ``agent-otlp`` command line. Each command group lives in its own module and is
registered on :data:`app` by :func:`_register`."""

from __future__ import annotations

import logging
import sys
from enum import IntEnum
from importlib import import_module
from typing import Final

import typer

from agent_otlp.core.config.errors import AgentOTLPError
from agent_otlp.core.config.secrets import redact_text

__all__ = ["EXIT_CODES_HELP", "ExitCode", "app", "main"]


class ExitCode(IntEnum):
    """What a command's exit status says. 1 and 2 keep click's meaning."""

    OK = 0
    #: an error (also Ctrl-C, or ``doctor`` finding a destination that fails)
    ERROR = 1
    #: a usage or configuration error: nothing was done
    USAGE = 2
    #: some input items were invalid and skipped; every valid one was delivered
    REJECTED = 3
    #: some spans were not delivered (kept in the store, when on, for the next run)
    UNDELIVERED = 4


EXIT_CODES_HELP: Final = (
    "Exit codes: 0 everything delivered; 1 error; 2 usage or configuration error; "
    "3 some items rejected as invalid (the valid ones delivered); "
    "4 some spans not delivered (wins over 3)."
)

app = typer.Typer(
    name="agent-otlp",
    help="Deliver AI agent traces to Jaeger, Tempo, Honeycomb or any OpenTelemetry Collector.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules that add commands to :data:`app` when imported.
COMMAND_MODULES: Final = (
    "agent_otlp.cli.run", "agent_otlp.cli.info", "agent_otlp.cli.serve_cmd",
    "agent_otlp.cli.adapters_cmd", "agent_otlp.cli.store_cmd", "agent_otlp.cli.export_cmd",
    "agent_otlp.cli.sources_cmd", "agent_otlp.cli.follow_cmd", "agent_otlp.cli.collector_cmd",
)


def _register() -> None:
    for name in COMMAND_MODULES:
        import_module(name)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(message)s"))
    root = logging.getLogger("agent_otlp")
    if not root.handlers:
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False


def main() -> None:
    """Entry point of the ``agent-otlp`` script: errors become one clear line, exit 2."""
    _register()
    _configure_logging()
    try:
        app()
    except AgentOTLPError as exc:
        typer.secho(f"error: {redact_text(str(exc))}", err=True, fg=typer.colors.RED)
        sys.exit(ExitCode.USAGE)
