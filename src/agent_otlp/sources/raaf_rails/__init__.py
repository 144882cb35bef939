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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from agent_otlp.sources.raaf_rails.query import SPANS, TRACES, Columns, Query

if TYPE_CHECKING:
    import psycopg

__all__ = ["RailsHandle"]

Key = tuple[int, str, int, str]
_DEFAULT_SETTLE: Final = 30.0
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class RailsHandle:
    conn: psycopg.Connection[Any]
    name: str
    columns: Columns
    settle_s: float

    def query(self, window: TimeRange) -> Query:
        since = None if window.since_ns is None else window.since_ns // 1000
        until = None if window.until_ns is None else -(-window.until_ns // 1000)
        return Query(self.columns, since, until, self.settle_s)


def _columns(conn: psycopg.Connection[Any], name: str) -> Columns:
    found: dict[str, set[str]] = {}
    with conn.cursor() as cur:
        for table in (TRACES, SPANS):
            cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                        "AND attnum > 0 AND NOT attisdropped", (table,))
            found[table] = {row[0] for row in cur.fetchall()}
    conn.commit()
    missing = [t for t, cols in found.items() if not cols]
    if missing:
        raise ConfigError("--from", name, f"no RAAF tracing tables there ({', '.join(missing)} not "
                          "found; give --source-option schema=NAME if they are in another schema)")
    return Columns.of(found[TRACES], found[SPANS])


def _settle(options: dict[str, str]) -> float:
    text = options.get("settle", str(_DEFAULT_SETTLE))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigError("--source-option settle", text, "seconds, a number >= 0")
    return value


@hookimpl
def agent_otlp_source_open(location: str, context: SourceContext) -> RailsHandle | None:
    if not location.startswith(SCHEMES):
        return None
    options = dict(context.options)
    settle = _settle(options)
    conn, name = connect(location, context.env, options.get("schema"))
    try:
        return RailsHandle(conn, name, _columns(conn, name), settle)
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


def _moment(us: int | None) -> datetime | None:
    try:
        return None if us is None else _EPOCH + timedelta(microseconds=us)
    except OverflowError:  # PostgreSQL holds years a datetime does not
        return None


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
                                    group_id=group_id, start=_moment(start), end=_moment(end_us)))
    span = RaafSpan(sid, trace_id, parent_id, name, kind, status, _moment(start_us), _moment(stop_us),
                    duration, attrs, events, input_tokens, output_tokens, model)
    return span_item(span, parent_is_trace=bool(parent_is_trace))


@hookimpl
def agent_otlp_source_read(handle: RailsHandle, window: TimeRange, cursor: str | None,
                           batch_size: int) -> Iterator[SourcePage]:
    text, params = handle.query(window).rows(_cursor_key(cursor))
    conn = handle.conn
    cur = conn.cursor(name="agent_otlp_export")  # server-side: rows come as they are read
    try:
        cur.itersize = batch_size
        cur.execute(text, params)
        while True:
            rows = cur.fetchmany(batch_size)
            if not rows:
                break
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
