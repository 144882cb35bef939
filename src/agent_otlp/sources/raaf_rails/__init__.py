"""The built-in ``raaf-rails`` source: the traces a RAAF application on Rails keeps in
PostgreSQL (``raaf_tracing_traces`` and ``raaf_tracing_spans``, written by RAAF's
``ActiveRecordProcessor``), read-only.

``--from postgresql://user@host:port/db``. Options (``--source-option KEY=VALUE``): ``schema``
(the tables' schema, else the role's search path) and ``settle`` (seconds a trace must have
ended before an export with an open end takes it, default 30). The rows are streamed through
a server-side (named) cursor, ``batch_size`` rows at a time, so memory stays flat whatever the
table holds. :mod:`agent_otlp.sources.raaf.spans` turns rows into SDK items, :mod:`.query`
holds the statements.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.sources.plugins import (
    SourceContext,
    SourceInventory,
    SourcePage,
    TimeRange,
    hookimpl,
)
from agent_otlp.sources.raaf.spans import RaafSpan, RaafTrace, span_item, trace_item
from agent_otlp.sources.raaf_rails.connection import SCHEMES, connect
from agent_otlp.sources.raaf_rails.prefetch import prefetched
from agent_otlp.sources.raaf_rails.query import SPANS, TRACES, Columns, Query, decoded
from agent_otlp.sources.raaf_rails.tail import tail_pages

if TYPE_CHECKING:
    import psycopg

__all__ = ["RailsHandle"]

Key = tuple[int, str, int, str]
_DEFAULT_SETTLE: Final = 30.0
_DEFAULT_LOOKBACK: Final = 60.0
_FETCH_ROWS: Final = 2000


@dataclass(slots=True)
class RailsHandle:
    conn: psycopg.Connection[Any]
    name: str
    columns: Columns
    settle_s: float
    location: str = field(default="", repr=False)  # may hold the password: never shown
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    schema: str | None = None
    lookback_s: float = _DEFAULT_LOOKBACK
    fetch_rows: int = _FETCH_ROWS

    def reopen(self) -> None:
        """Connect again when the connection was lost (the database restarted)."""
        if not self.conn.closed and not self.conn.broken:
            return
        self.conn.close()
        try:
            self.conn, _ = connect(self.location, self.env, self.schema)
        except ConfigError as exc:  # it answered before: down for a while, not misconfigured
            raise ConnectionError(str(exc)) from None

    def query(self, window: TimeRange) -> Query:
        since = None if window.since_ns is None else window.since_ns // 1000
        until = None if window.until_ns is None else -(-window.until_ns // 1000)
        return Query(self.columns, since, until, self.settle_s)


_MIGRATIONS: Final = {
    TRACES: "rails/db/migrate/001_create_raaf_tracing_traces.rb",
    SPANS: "rails/db/migrate/002_create_raaf_tracing_spans.rb",
}
_REQUIRED: Final = {
    TRACES: ("trace_id", "workflow_name", "status", "started_at", "ended_at", "metadata",
             "created_at", "updated_at"),
    SPANS: ("span_id", "trace_id", "parent_id", "name", "kind", "status", "start_time", "end_time",
            "duration_ms", "span_attributes", "events", "created_at", "updated_at"),
}


def _columns(conn: psycopg.Connection[Any], name: str) -> Columns:
    """The optional columns the tables have; a missing table or column (named with the RAAF
    migration that creates it) is a :class:`ConfigError`."""
    found: dict[str, set[str]] = {}
    with conn.cursor() as cur:
        for table in (TRACES, SPANS):
            cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                        "AND attnum > 0 AND NOT attisdropped", (table,))
            found[table] = {row[0] for row in cur.fetchall()}
    conn.commit()
    missing = [t for t, cols in found.items() if not cols]
    if missing:
        made_by = ", ".join(f"{t} (RAAF's {_MIGRATIONS[t]})" for t in missing)
        raise ConfigError("--from", name, f"no table {made_by} in the search path; run the raaf-rails "
                          "migrations, or give --source-option schema=NAME if the tables are in "
                          "another schema (the role needs USAGE on it)")
    for table, columns in _REQUIRED.items():
        lacking = [c for c in columns if c not in found[table]]
        if lacking:
            raise ConfigError("--from", name, f"table {table} has no column {', '.join(lacking)}, "
                              f"which RAAF's {_MIGRATIONS[table]} creates")
    return Columns.of(found[TRACES], found[SPANS])


def _seconds(options: dict[str, str], name: str, default: float, what: str = "seconds") -> float:
    text = options.get(name, str(default))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigError(f"--source-option {name}", text, f"{what}, a number >= 0")
    return value


@hookimpl
def agent_otlp_source_open(location: str, context: SourceContext) -> RailsHandle | None:
    if not location.startswith(SCHEMES):
        return None
    options = dict(context.options)
    settle = _seconds(options, "settle", _DEFAULT_SETTLE)
    lookback = _seconds(options, "lookback", _DEFAULT_LOOKBACK)
    fetch_rows = int(_seconds(options, "fetch_rows", _FETCH_ROWS, "rows")) or 1
    conn, name = connect(location, context.env, options.get("schema"))
    try:
        return RailsHandle(conn, name, _columns(conn, name), settle, location, dict(context.env),
                           options.get("schema"), lookback, fetch_rows)
    except BaseException:
        conn.close()
        raise


@hookimpl
def agent_otlp_source_key(handle: RailsHandle) -> str:
    return handle.name


@hookimpl
def agent_otlp_source_inventory(handle: RailsHandle, window: TimeRange) -> SourceInventory:
    text, params = handle.query(window).count()
    with handle.conn.cursor() as cur:
        row = cur.execute(text, params).fetchone()
    handle.conn.commit()
    traces, spans, first, last = row if row else (0, 0, None, None)
    return SourceInventory(int(traces), int(spans), None if first is None else first * 1000,
                           None if last is None else last * 1000)


def _cursor_key(cursor: str | None) -> Key | None:
    if not cursor:
        return None
    try:
        end, trace, ord_, sid = json.loads(cursor)
        return int(end), str(trace), int(ord_), str(sid)
    except (ValueError, TypeError):
        raise ConfigError("cursor", cursor, "a raaf-rails cursor [end, trace, order, span]") from None


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    """The SDK item of a row of :meth:`.Query.rows`: a span, or (order 1) a trace with its
    own ``trace``-kind span (``parent_id`` carries that span's id, ``agent_model`` its status)."""
    (end_us, trace_id, ord_, sid, parent_id, name, kind, status, start_us, stop_us, duration, attrs,
     events, input_tokens, output_tokens, model, parent_is_trace, metadata, group_id, first_us) = row
    if ord_ == 1:
        root = None if parent_id is None else RaafSpan(
            parent_id, trace_id, None, "", "trace", model, None, None, attributes=attrs, events=events)
        start = first_us if first_us is not None else end_us
        return trace_item(RaafTrace(trace_id, root, workflow_name=name, status=status, metadata=metadata,
                                    group_id=group_id, start=start, end=end_us))
    span = RaafSpan(sid, trace_id, parent_id, name, kind, status, start_us, stop_us,
                    duration, attrs, events, input_tokens, output_tokens, model)
    return span_item(span, parent_is_trace=bool(parent_is_trace))


@hookimpl
def agent_otlp_source_read(handle: RailsHandle, window: TimeRange, cursor: str | None,
                           batch_size: int) -> Iterator[SourcePage]:
    text, params = handle.query(window).rows(_cursor_key(cursor))
    conn = handle.conn
    # server-side: rows come as they are read; binary: numbers and times cost no text parsing
    cur = conn.cursor(name="agent_otlp_export", binary=True)
    fetch = max(batch_size, handle.fetch_rows)  # rows per round trip; pages of batch_size
    try:
        cur.itersize = fetch
        cur.execute(text, params)
        for chunk in prefetched(lambda: decoded(cur.fetchmany(fetch))):
            for at in range(0, len(chunk), batch_size):
                rows = chunk[at:at + batch_size]
                last = rows[-1]
                key = json.dumps([last[0], last[1], last[2], last[3]])
                yield SourcePage([_item(row) for row in rows], key)
    finally:
        _end_read(conn, cur)


def _end_read(conn: psycopg.Connection[Any], cur: psycopg.ServerCursor[Any]) -> None:
    """Close the cursor and end the (read-only) transaction. A reader left unfinished may be
    collected after the close; one stopped in the middle of a fetch (Ctrl-C) leaves the
    connection unusable, and it is closed."""
    import psycopg

    if conn.closed:
        return
    try:
        cur.close()
        conn.rollback()
    except psycopg.Error:
        conn.close()


@hookimpl
def agent_otlp_source_wait(handle: RailsHandle, cursor: str | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    text, params = Query(handle.columns, None, None, handle.settle_s).newer(_cursor_key(cursor))
    while True:
        with handle.conn.cursor() as cur:
            row = cur.execute(text, params).fetchone()
        handle.conn.rollback()
        if row and row[0]:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(1.0, left))


@hookimpl
def agent_otlp_source_close(handle: RailsHandle) -> None:
    handle.conn.close()


@hookimpl
def agent_otlp_source_tail(handle: RailsHandle, cursor: str | None, batch_size: int,
                           delivered: Callable[[Sequence[str]], Collection[str]]) -> Iterator[SourcePage]:
    """What was written since ``cursor`` (:mod:`.tail`); a lost connection is opened again on
    the next call (the host waits between calls, longer each time)."""
    handle.reopen()
    try:
        yield from tail_pages(handle.conn, handle.columns, cursor, lookback_s=handle.lookback_s,
                              settle_s=handle.settle_s, batch_size=batch_size, delivered=delivered,
                              item=_item)
    except BaseException:
        if handle.conn.broken:
            handle.conn.close()
        raise
