"""Commands over the span store: ``destinations``, ``status``, ``show`` (``export`` is in
:mod:`agent_otlp.cli.export_cmd`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from agent_otlp.adapters.console_tree import TreeSpan, printable, render_tree
from agent_otlp.cli import app
from agent_otlp.cli._common import (
    cli_store,
    console,
    err_console,
)
from agent_otlp.cli._serve_state import LiveState, read_live_state, state_path
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.convert.ids import trace_id_for
from agent_otlp.core.convert.records import SpanRecord, StatusCode
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.store.destinations import DestinationStore, StoredDestination, parse_header_spec
from agent_otlp.store.outbox import stored_records
from agent_otlp.store.sqlite import KIND_TRACE_START, SpanStore

__all__ = ["destinations_app"]

PathStoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Span store file (default: AGENT_OTLP_STORE, else the user data directory)."),
]

destinations_app = typer.Typer(
    name="destinations", help="Named export destinations kept in the span store.", no_args_is_help=True
)
app.add_typer(destinations_app)


def _open(store: Path | None, *, read_only: bool = False) -> SpanStore:
    opened = cli_store(store, read_only=read_only)
    if opened is None:
        raise ConfigError("AGENT_OTLP_STORE", "off", "this command needs the span store; give --store PATH")
    return opened


# --- stored destinations -------------------------------------------------------------------


def _metadata(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--metadata", pair, "expected KEY=VALUE")
        out[key.strip()] = value
    return out


def _destination_table(rows: list[StoredDestination]) -> Table:
    table = Table(title="destinations", title_justify="left")
    for column in ("name", "adapter", "endpoint", "protocol", "headers", "batch", "timeout",
                   "enabled", "metadata"):
        table.add_column(column)
    for d in rows:
        headers = ", ".join(f"{k}={v}" for k, v in d.shown_headers().items()) or "-"
        metadata = ", ".join(f"{k}={v}" for k, v in d.metadata.items()) or "-"
        table.add_row(*(printable(cell) for cell in (
            d.name, d.adapter, d.endpoint or "-", d.protocol or "-", headers, d.batch_size or "-",
            d.timeout or "-", "yes" if d.enabled else "no", metadata,
        )))
    return table


@destinations_app.command("add")
def destinations_add(
    name: Annotated[str, typer.Argument(help="Unique name, used with --adapter / --to.")],
    adapter: Annotated[str, typer.Option("--adapter", "-a", help="Adapter: otlp, jaeger, tempo, honeycomb...")],
    endpoint: Annotated[str | None, typer.Option(help="OTLP endpoint URL.")] = None,
    protocol: Annotated[str | None, typer.Option(help="http/protobuf or grpc.")] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="NAME=env:VAR (read at send time; recommended) or NAME=VALUE."),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Spans per request.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per request.")] = None,
    metadata: Annotated[list[str] | None, typer.Option("--metadata", help="KEY=VALUE notes.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it disabled.")] = False,
    store: PathStoreOpt = None,
) -> None:
    """Add a named destination."""
    headers = dict(parse_header_spec(spec) for spec in header or [])
    table = DestinationStore(_open(store))
    added = table.add(StoredDestination(
        name=name, adapter=adapter, endpoint=endpoint, protocol=protocol, headers=headers,
        batch_size=batch_size, timeout=timeout, enabled=not disabled, metadata=_metadata(metadata or []),
    ))
    console.print(_destination_table([added]))


@destinations_app.command("list")
def destinations_list(store: PathStoreOpt = None) -> None:
    """List the stored destinations (secret header values masked)."""
    rows = DestinationStore(_open(store, read_only=True)).list()
    if not rows:
        console.print("no stored destinations; add one with: agent-otlp destinations add NAME --adapter A")
        return
    console.print(_destination_table(rows))


@destinations_app.command("enable")
def destinations_enable(name: str, store: PathStoreOpt = None) -> None:
    """Enable a destination."""
    DestinationStore(_open(store)).set_enabled(name, True)
    console.print(f"{name}: enabled")


@destinations_app.command("disable")
def destinations_disable(name: str, store: PathStoreOpt = None) -> None:
    """Disable a destination (kept, not used by default)."""
    DestinationStore(_open(store)).set_enabled(name, False)
    console.print(f"{name}: disabled")


@destinations_app.command("remove")
def destinations_remove(name: str, store: PathStoreOpt = None) -> None:
    """Remove a destination and its delivery cursor (its backlog no longer holds spans)."""
    span_store = _open(store)
    DestinationStore(span_store).remove(name)
    span_store.forget_destination(name)
    console.print(f"{name}: removed")


# --- status and show -----------------------------------------------------------------------


def _age(ns: int | None) -> str:
    if ns is None:
        return "-"
    seconds = max(0.0, (time.time_ns() - ns) / 1e9)
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _breaker(live: LiveState | None, name: str) -> str:
    """The breaker column: from the running ``serve``'s published state, if any."""
    if live is None:
        return "n/a (not running)"
    found = live.destination(name)
    if found is None:
        return "n/a (stale state)" if live.problem else "n/a (not in serve)"
    return f"{found.get('breaker', '?')} (in memory: {found.get('queue_depth', '?')})"


def _serve_line(live: LiveState | None, path: Path) -> str:
    if live is None:
        return "serve: not running on this store"
    if live.problem is not None:
        return f"serve: {live.problem} ({path})"
    data = live.data
    age = max(0.0, time.time() - float(data.get("updated", 0)))
    return (f"serve: running, pid {data.get('pid')}, {data.get('ingest_url')} "
            f"(bound {data.get('address')}), {data.get('pending')} pending, updated {age:.0f}s ago")


@app.command("status")
def status_command(store: PathStoreOpt = None) -> None:
    """Per destination: queued, delivered and failed spans, age of the oldest undelivered
    span, breaker state (from a running ``serve``); and the store's size, undelivered bytes
    against the budget, evictions."""
    span_store = _open(store, read_only=True)
    live_path = state_path(span_store.path)
    live = read_live_state(live_path)
    cursors = span_store.cursors()
    stored = {d.name: d for d in DestinationStore(span_store).list()}
    table = Table(title="destinations", title_justify="left")
    for column in ("destination", "queued", "delivered", "failed", "oldest undelivered", "breaker", "stored"):
        table.add_column(column)
    seen = set()
    for cursor in cursors:
        seen.add(cursor.destination)
        kept = stored.get(cursor.destination)
        table.add_row(*(printable(cell) for cell in (
            cursor.destination, str(cursor.queued), str(cursor.delivered), str(cursor.failed),
            _age(cursor.oldest_undelivered_ns), _breaker(live, cursor.destination),
            ("enabled" if kept.enabled else "disabled") if kept else "-",
        )))
    for name, kept in stored.items():
        if name not in seen:
            table.add_row(*(printable(cell) for cell in (
                name, "-", "0", "0", "-", _breaker(live, name),
                "enabled" if kept.enabled else "disabled")))
    console.print(table)
    console.print(_serve_line(live, live_path))
    path = Path(span_store.path)
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    budget = span_store.undelivered_budget
    used = span_store.undelivered_bytes
    console.print(f"store {path}: {_bytes(size)} on disk, {span_store.count()} items")
    console.print(f"undelivered {_bytes(used)} of {_bytes(budget)} budget ({100 * used / budget:.1f}%)")
    evicted = span_store.counter("evicted_undelivered")
    line = f"evicted undelivered items: {evicted}"
    if evicted:
        err_console.print(Text.assemble((line, "bold red"), " (the undelivered budget was exceeded)"))
    else:
        console.print(line)


def _find_trace(span_store: SpanStore, text: str) -> str | None:
    raw = text.strip()
    candidates = [raw]
    hex_part = raw.removeprefix("trace_")
    if len(hex_part) == 32:
        candidates += [f"trace_{hex_part.lower()}", hex_part.lower()]
    for candidate in dict.fromkeys(candidates):
        if span_store.execute("SELECT 1 FROM items WHERE trace_id = ? LIMIT 1", (candidate,)):
            return candidate
    if len(hex_part) == 32:  # the OTel id of a hashed (non-SDK) trace id
        wanted = bytes.fromhex(hex_part)
        for (trace_id,) in span_store.execute("SELECT DISTINCT trace_id FROM items"):
            if trace_id_for(trace_id) == wanted:
                return str(trace_id)
    return None


def tree_span(record: SpanRecord) -> TreeSpan:
    error = (record.status_message or "error") if record.status_code == StatusCode.ERROR else None
    return TreeSpan(
        record.span_id.hex(), record.parent_span_id.hex(), record.name, record.start_ns,
        record.end_ns, record.attributes, error, tuple(e.name for e in record.events),
    )


@app.command("show")
def show_command(
    trace_id: Annotated[str, typer.Argument(help="trace_<hex> (the SDK's id) or the 32-hex OpenTelemetry id.")],
    store: PathStoreOpt = None,
) -> None:
    """Show one stored trace as a tree: durations, models, tokens, errors."""
    span_store = _open(store, read_only=True)
    found = _find_trace(span_store, trace_id)
    if found is None:
        raise ConfigError("TRACE_ID", trace_id, f"not in the span store {span_store.path}")
    options = ConvertOptions(capture_content=False, legacy_attributes=False)
    spans = [tree_span(stored_records(item, options))
             for item in span_store.trace_items(found) if item.kind != KIND_TRACE_START]
    title = f"{found}  (OTel trace id {trace_id_for(found).hex()})"
    console.print(render_tree(spans, title=title))
    if not any(not s.parent_id for s in spans):
        console.print("(trace not finished yet: no workflow span stored)")
