"""``agent-otlp sources``: the installed source plugins, or what one location holds."""

from __future__ import annotations

import json
import time
from typing import Annotated, Final

import typer

from agent_otlp.adapters.console_tree import printable
from agent_otlp.cli import app
from agent_otlp.cli._common import console
from agent_otlp.cli._plugin_list import show_plugins
from agent_otlp.cli.export_cmd import SourceOpt, SourceOptionOpt, open_source
from agent_otlp.historical import ExportRange
from agent_otlp.sources.plugins.manager import ENTRY_POINT_GROUP, SourceManager
from agent_otlp.sources.plugins.types import TimeRange

__all__ = ["list_sources"]

_PREFIX: Final = "agent_otlp_source_"


@app.command("sources")
def list_sources(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    from_location: Annotated[
        str | None, typer.Option("--from", help="Show what this URL or path holds instead.")] = None,
    source: SourceOpt = None,
    source_option: SourceOptionOpt = None,
    since: Annotated[str | None, typer.Option(help="With --from: start of the range.")] = None,
    until: Annotated[str | None, typer.Option(help="With --from: end of the range (excluded).")] = None,
) -> None:
    """List installed sources (distribution, version, hooks, load errors); with --from, count
    the traces and spans a location holds and the time they cover."""
    if from_location is not None:
        _inventory(from_location, source, source_option, since, until, as_json)
        return
    show_plugins(SourceManager().sources.values(), as_json=as_json, prefix=_PREFIX,
                 title=f"sources (entry-point group {ENTRY_POINT_GROUP})")


def _inventory(location: str, source: str | None, options: list[str] | None,
               since: str | None, until: str | None, as_json: bool) -> None:
    window = ExportRange.resolve(since, until, time.time_ns())
    with open_source(location, source, options) as opened:
        held = opened.inventory(TimeRange(window.since_ns, window.until_ns))
        key = opened.key
        name = opened.name
    first = ExportRange(held.first_ns, held.last_ns).describe() if held.first_ns else "-"
    if as_json:
        typer.echo(json.dumps({"source": name, "location": key, "traces": held.traces,
                               "spans": held.spans, "first_ns": held.first_ns,
                               "last_ns": held.last_ns}, indent=2))
        return
    console.print(printable(f"{key} (source {name}): {held.traces} traces, {held.spans} spans, "
                            f"ending {first}"))
