"""Following RAAF's tables as they are written (``agent-otlp follow``): a watermark on the
spans' ``created_at`` with a lookback window, at-least-once, the host leaving out what it
already delivered.

``ActiveRecordProcessor`` inserts a span when it ends, in the application's transactions, which
commit in any order: a row stamped before the watermark may become visible after it. Each look
therefore reads again the traces written since ``watermark - lookback - settle``:

* a trace is *ready* once its root span (kind ``trace``, written when the trace ends) is
  there, or none of its spans was written for ``settle`` seconds (by the database's clock);
* of the ready traces, the spans and trace items the host has not delivered are read whole
  (the same rows as a historical export), in pages;
* a span written after its trace was delivered is read the same way: a late span of it.

The watermark is the newest ``created_at`` among the ready traces' spans. A row committed
more than ``lookback`` seconds after its ``created_at`` is not seen.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.sources.plugins import SourcePage
from agent_otlp.sources.raaf_rails.query import _US, SPANS, TRACES, Columns, decoded, stream

if TYPE_CHECKING:
    import psycopg

__all__ = ["Watermark", "tail_pages"]

_EPOCH: Final = datetime(1970, 1, 1)  # naive UTC, as Rails stores datetimes

# fixed text only; every value is a bound parameter
_READY: Final = f"""
    WITH recent AS (
        SELECT DISTINCT trace_id FROM {SPANS} WHERE created_at >= %(since)s
    ), state AS (
        SELECT s.trace_id, bool_or(s.kind = 'trace') AS has_root, max(s.created_at) AS written_at
        FROM {SPANS} s WHERE s.trace_id IN (SELECT trace_id FROM recent) GROUP BY s.trace_id
    )
    SELECT s.trace_id::text, s.span_id::text, s.kind = 'trace', {_US.format('s.created_at')}
    FROM {SPANS} s JOIN state ON state.trace_id = s.trace_id
    WHERE state.has_root OR state.written_at < LOCALTIMESTAMP - make_interval(secs => %(settle)s)
"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class Watermark:
    """The newest ``created_at`` read (Unix microseconds, the application's clock)."""

    us: int

    @classmethod
    def parse(cls, cursor: str) -> Watermark:
        try:
            return cls(int(json.loads(cursor)["watermark_us"]))
        except (ValueError, TypeError, KeyError):
            raise ConfigError("cursor", cursor, 'a raaf-rails follow cursor {"watermark_us": N}') from None

    def text(self) -> str:
        return json.dumps({"watermark_us": self.us})

    def moment(self, back_s: float) -> datetime:
        return _EPOCH + timedelta(microseconds=self.us - round(back_s * 1_000_000))


def start(conn: psycopg.Connection[Any], cursor: str | None) -> Watermark:
    """The cursor's watermark; the first time, the database's now."""
    if cursor:
        return Watermark.parse(cursor)
    with conn.cursor() as cur:
        row = cur.execute(f"SELECT {_US.format('LOCALTIMESTAMP')}").fetchone()
    conn.rollback()
    return Watermark(int(row[0]) if row else int((datetime.now(UTC).timestamp()) * 1_000_000))


def _rows_sql(cols: Columns) -> str:
    group = "t.group_id::text" if cols.group_id else "NULL::text"
    return f"""
    WITH bounds AS (
        SELECT trace_id, min(coalesce(start_time, end_time)) AS first_at,
               max(coalesce(end_time, start_time)) AS last_at
        FROM {SPANS} WHERE trace_id = ANY(%(traces)s) GROUP BY trace_id
    ), chosen AS (
        SELECT t.trace_id, t.workflow_name, t.status, t.metadata, {group} AS group_id,
               {_US.format('least(t.started_at, b.first_at)')} AS first_us,
               {_US.format('coalesce(greatest(t.ended_at, b.last_at), t.started_at, t.created_at)')} AS end_us
        FROM {TRACES} t LEFT JOIN bounds b ON b.trace_id = t.trace_id
        WHERE t.trace_id = ANY(%(traces)s)
    )
    {stream(cols, "AND s.span_id = ANY(%(spans)s)", "AND c.trace_id = ANY(%(new_traces)s)")}
    ORDER BY end_us, trace_id, ord, sid"""  # noqa: S608 - fixed text, bound values


def _new(conn: psycopg.Connection[Any], mark: Watermark, back_s: float, settle_s: float,
         delivered: Callable[[Sequence[str]], Collection[str]]) -> tuple[list[str], list[str], list[str], int]:
    """The spans and traces of the ready traces not delivered yet, the traces they are of,
    and the new watermark."""
    with conn.cursor() as cur:
        rows = cur.execute(_READY, {"since": mark.moment(back_s), "settle": settle_s}).fetchall()
    conn.rollback()
    keys = {f"trace:{trace}" for trace, _, _, _ in rows}
    keys.update(f"span:{span}" for _, span, is_root, _ in rows if not is_root)
    done = set(delivered(sorted(keys)))
    fresh = [(trace, span) for trace, span, is_root, _ in rows if not is_root and f"span:{span}" not in done]
    traces = sorted({trace for trace, _, _, _ in rows if f"trace:{trace}" not in done})
    newest = max((int(written) for _, _, _, written in rows if written is not None), default=mark.us)
    reached = sorted({trace for trace, _ in fresh}.union(traces))
    return sorted(span for _, span in fresh), traces, reached, max(newest, mark.us)


def tail_pages(conn: psycopg.Connection[Any], cols: Columns, cursor: str | None, *, lookback_s: float,
               settle_s: float, batch_size: int, delivered: Callable[[Sequence[str]], Collection[str]],
               item: Callable[[tuple[Any, ...]], dict[str, Any]]) -> Iterator[SourcePage]:
    """The pages of what is new since ``cursor``; the last page carries the new watermark."""
    mark = start(conn, cursor)
    spans, new_traces, traces, newest = _new(conn, mark, lookback_s + settle_s, settle_s, delivered)
    if not spans and not new_traces:
        if newest != mark.us or cursor is None:
            yield SourcePage([], Watermark(newest).text())
        return
    params = {"traces": traces, "spans": spans, "new_traces": new_traces}
    cur = conn.cursor(name="agent_otlp_follow")
    try:
        cur.execute(_rows_sql(cols), params)
        rows = decoded(cur.fetchmany(batch_size))
        while rows:
            following = decoded(cur.fetchmany(batch_size))
            mark_text = (mark if following else Watermark(newest)).text()
            yield SourcePage([item(row) for row in rows], mark_text)
            rows = following
    finally:
        if not conn.closed:
            cur.close()
            conn.rollback()

