"""``agent-otlp export``: historical export of a time range to one destination, from the span
store (the default), JSON or JSONL files (``--from-file``) or any source plugin (``--from``)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from agent_otlp.adapters.console_tree import printable
from agent_otlp.cli import EXIT_CODES_HELP, ExitCode, app
from agent_otlp.cli._common import (
    ConfigOpt,
    EndpointOpt,
    ProtocolOpt,
    console,
    delivery_exit_code,
    endpoint_arguments,
    err_console,
    stop_on_signals,
)
from agent_otlp.cli.store_cmd import PathStoreOpt, _open
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.historical import (
    ExportInterrupted,
    ExportRange,
    ExportResult,
    ExportTarget,
    HistoricalExport,
    files_source,
    resolve_target,
    store_source,
)
from agent_otlp.sources.plugins.manager import OpenedSource, SourceManager
from agent_otlp.sources.plugins.types import SourceContext, TimeRange
from agent_otlp.store.sqlite import SpanStore

__all__ = ["export_command", "export_source", "open_source", "open_target", "source_options"]

SourceOpt = Annotated[
    str | None, typer.Option("--source", help="Source plugin to read --from with (agent-otlp sources lists them); "
                             "by default the first that takes the location.")]
SourceOptionOpt = Annotated[
    list[str] | None, typer.Option("--source-option", help="KEY=VALUE option of the source (repeatable).")]


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} spans/s" if speed else "- spans/s", style="cyan")


def source_options(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--source-option", pair, "expected KEY=VALUE")
        out[key.strip()] = value
    return out


def open_target(to: str, poll: float, store: Path | None, config: Path | None,
                endpoint: str | None, protocol: str | None) -> tuple[SpanStore, ExportTarget]:
    """The span store and the destination ``to`` of an export or a follow (``--poll`` checked)."""
    if poll <= 0:
        raise ConfigError("--poll", poll, "seconds, a number > 0")
    span_store = _open(store)
    arguments = endpoint_arguments(endpoint, protocol)
    return span_store, resolve_target(to, store=span_store, config_file=config, **arguments)


def open_source(location: str, source: str | None, options: list[str] | None) -> OpenedSource:
    """The source plugin that reads ``location`` (span stores open read-only)."""
    context = SourceContext(env=os.environ, options=source_options(options),
                            open_span_store=lambda path: SpanStore(path, read_only=True))
    return SourceManager().open(location, context, source)


@app.command("export", epilog=EXIT_CODES_HELP)
def export_command(
    to: Annotated[str, typer.Option("--to", help="Stored destination name or adapter name.")],
    since: Annotated[
        str | None, typer.Option(help="Start of the range: ISO 8601 time (UTC unless given), or 2h/7d ago.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End of the range (excluded); same forms as --since.")] = None,
    from_location: Annotated[
        str | None,
        typer.Option("--from", help="Read this URL or path through a source plugin "
                     "(postgresql://user@host/db for RAAF on Rails, a .jsonl file, a span store)."),
    ] = None,
    source: SourceOpt = None,
    source_option: SourceOptionOpt = None,
    from_file: Annotated[
        list[Path] | None,
        typer.Option("--from-file", help="Read JSON or JSONL files (the SDK's export format, as send reads them) instead of the store."),
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", help="With --from: after the range, keep sending new items as they come (Ctrl-C ends).")] = False,
    poll: Annotated[float, typer.Option("--poll", help="With --follow: seconds between looks for new items.")] = 5.0,
    batch_size: Annotated[int, typer.Option(help="Items per page read and per request.")] = 100,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be sent; send nothing.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Start over instead of resuming.")] = False,
    store: PathStoreOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    stop_after: Annotated[int | None, typer.Option("--stop-after", hidden=True)] = None,
) -> None:
    """Send the spans of a time range from the store, JSON or JSONL files, or a source plugin
    (--from) to one destination.

    Resumable: run the same command again after an interruption and it continues after the
    last delivered batch. Relative times (2h, now) are read when the job first runs and kept
    with it, so the same command stays the same job. The live destinations' cursors are not
    moved."""
    _check_range(ExportRange.resolve(since, until, time.time_ns()), until)
    files = list(from_file or [])
    if from_location is not None and files:
        raise ConfigError("--from", from_location, "give either --from or --from-file, not both")
    if (follow or source or source_option) and from_location is None:
        raise ConfigError("--follow/--source/--source-option", "given", "they go with --from LOCATION")
    span_store, target = open_target(to, poll, store, config, endpoint, protocol)
    for path in files:
        if not path.is_file():
            raise ConfigError("--from-file", str(path), "no such file")
    engine = HistoricalExport(target, span_store, batch_size=batch_size, stop_after=stop_after)
    try:
        if from_location is not None:
            with open_source(from_location, source, source_option) as opened:
                export_source(engine, opened, since, until, restart=restart, dry_run=dry_run,
                               follow=poll if follow else None)
            return
        key = files_source(files) if files else store_source(span_store)
        window = engine.export_range(key, since, until, restart=restart, record=not dry_run)
        since_ns, until_ns = window.since_ns, window.until_ns
        if dry_run:
            count = (engine.count_files(files, since_ns, until_ns) if files
                     else engine.count_store(span_store, since_ns, until_ns))
            where = f"{len(files)} file(s)" if files else str(span_store.path)
            _say_dry_run(engine, f"{count} spans from {where}")
            return
        job = (engine.file_job(files, since_ns, until_ns) if files
               else engine.store_job(span_store, since_ns, until_ns))
        if _said_done(engine, job, window, restart):
            return
        _run_export(engine, lambda: engine.from_files(files, since_ns, until_ns, restart=restart)
                    if files else engine.from_store(span_store, since_ns, until_ns, restart=restart))
    finally:
        engine.close()


def export_source(engine: HistoricalExport, opened: OpenedSource, since: str | None,
                   until: str | None, *, restart: bool, dry_run: bool, follow: float | None) -> None:
    window = engine.export_range(opened.key, since, until, restart=restart, record=not dry_run)
    since_ns, until_ns = window.since_ns, window.until_ns
    if dry_run:
        held = opened.inventory(TimeRange(since_ns, until_ns))
        _say_dry_run(engine, f"{held.items} items ({held.traces} traces, {held.spans} spans) from "
                     f"{opened.key}, ending {_span_of(held.first_ns, held.last_ns)}")
        return
    if follow is None and _said_done(engine, engine.source_job(opened, since_ns, until_ns), window, restart):
        return
    _run_export(engine, lambda: engine.from_source(opened, since_ns, until_ns, restart=restart,
                                                   follow=follow), follow=follow is not None)


def _span_of(first_ns: int | None, last_ns: int | None) -> str:
    if first_ns is None or last_ns is None:
        return "nowhere (nothing in the range)"
    return f"from {_iso(first_ns)} to {_iso(last_ns)}"


def _iso(ns: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _say_dry_run(engine: HistoricalExport, what: str) -> None:
    target = engine.target
    console.print(printable(f"dry run: {what} would go to {target.name} "
                            f"({target.settings.endpoint}) in batches of {engine.batch_size}"))


def _said_done(engine: HistoricalExport, job: str, window: ExportRange, restart: bool) -> bool:
    _, sent, done = engine.job_state(job)
    if done and not restart:  # said before any work
        console.print(printable(f"already exported: {sent} spans to {engine.target.name} "
                                f"({window.describe()}); --restart to send again"))
    return done and not restart


def _check_range(window: ExportRange, until: str | None) -> None:
    if window.since_ns is not None and window.until_ns is not None and window.until_ns <= window.since_ns:
        raise ConfigError("--until", until, "must be after --since")


def _run_export(engine: HistoricalExport, run: Callable[[], ExportResult], *, follow: bool = False) -> None:
    columns = (TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
               _RateColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(printable(f"export to {engine.target.name}"), total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, done))

        engine.progress = advance
        started = time.monotonic()
        stopped: list[bool] = []

        def stop() -> None:
            stopped.append(True)
            engine.stop()

        try:
            with stop_on_signals(stop) if follow else contextlib.nullcontext():
                result = run()
        except ExportInterrupted as exc:
            progress.stop()
            err_console.print(printable(
                f"export interrupted: {redact_text(exc.reason)}; {exc.result.sent} spans delivered so far. "
                "Run the same command again to resume."
            ))
            raise typer.Exit(ExitCode.UNDELIVERED) from None
        progress.update(task, total=max(result.total, result.sent), completed=result.sent + result.failed)
    _report(engine, result, time.monotonic() - started)
    if stopped:
        err_console.print("stopped following; run the same command again to go on from here")


def _report(engine: HistoricalExport, result: ExportResult, elapsed: float) -> None:
    if result.already_done:
        console.print(f"already exported: {result.sent} spans to {engine.target.name} "
                      "(--restart to send again)")
        return
    resumed = f", resumed after position {result.resumed_from}" if result.resumed_from else ""
    console.print(f"exported {result.sent} spans to {engine.target.name} in {elapsed:.1f}s{resumed}")
    if result.invalid:
        err_console.print(f"skipped {result.invalid} unreadable items")
    for error in result.errors[:10]:
        err_console.print(printable(f"error: {redact_text(error)}"))
    if result.failed:
        err_console.print(f"{result.failed} spans refused by {engine.target.name}")
    code = delivery_exit_code(rejected=result.invalid, delivered=not result.failed)
    if code:
        raise typer.Exit(code)
