"""``agent-otlp follow``: send what a source writes as it is written (the sidecar of a RAAF
application on Rails), until SIGTERM or Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from agent_otlp.adapters.console_tree import printable
from agent_otlp.cli import EXIT_CODES_HELP, ExitCode, app
from agent_otlp.cli._common import (
    ConfigOpt,
    EndpointOpt,
    ProtocolOpt,
    console,
    err_console,
    stop_on_signals,
)
from agent_otlp.cli.export_cmd import (
    SourceOpt,
    SourceOptionOpt,
    export_source,
    open_source,
    open_target,
)
from agent_otlp.cli.store_cmd import PathStoreOpt
from agent_otlp.following import Follower, FollowStats
from agent_otlp.historical import HistoricalExport

__all__ = ["follow_command"]


@app.command("follow", epilog=EXIT_CODES_HELP)
def follow_command(
    from_location: Annotated[str, typer.Option("--from", help="The source's URL or path "
                                               "(postgresql://user@host/db for RAAF on Rails).")],
    to: Annotated[str, typer.Option("--to", help="Stored destination name or adapter name.")],
    source: SourceOpt = None,
    source_option: SourceOptionOpt = None,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between looks for new items.")] = 0.5,
    batch_size: Annotated[int, typer.Option(help="Items per page read and per request.")] = 100,
    store: PathStoreOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
) -> None:
    """Send new traces from a source as they are written, until SIGTERM or Ctrl-C.

    Starts where the same command stopped (its watermark is kept in the store), the first
    time from now. Items are deduplicated in the store, so a restart sends nothing twice.
    A source that cannot be followed (no agent_otlp_source_tail hook) is polled as
    export --follow does."""
    span_store, target = open_target(to, poll, store, config, endpoint, protocol)
    engine = HistoricalExport(target, span_store, batch_size=batch_size)
    try:
        with open_source(from_location, source, source_option) as opened:
            if not opened.tails:  # export --follow's loop, which stops on the same signals
                export_source(engine, opened, None, None, restart=False, dry_run=False, follow=poll)
                return
            follower = Follower(engine, opened, poll=poll)
            err_console.print(printable(
                f"following {opened.key} into {target.name} ({target.settings.endpoint}): new traces "
                f"go out within about {poll:g}s of their end; SIGTERM or Ctrl-C stops"))
            with stop_on_signals(follower.stop):
                stats = follower.run()
    finally:
        engine.close()
    _report(target.name, stats)


def _report(name: str, stats: FollowStats) -> None:
    console.print(f"stopped following: {stats.items} items, {stats.spans_sent} spans sent to {name}"
                  + (f", {stats.outages} failed looks" if stats.outages else ""))
    if stats.invalid:
        err_console.print(f"skipped {stats.invalid} unreadable items")
    if stats.refused:
        err_console.print(f"{stats.refused} spans refused by {name}")
        raise typer.Exit(ExitCode.UNDELIVERED)
