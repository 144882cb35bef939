"""The SELECT statements of the raaf-rails source, over the tables RAAF's migrations create
(``rails/db/migrate/001_create_raaf_tracing_traces.rb``, ``002_create_raaf_tracing_spans.rb``)
and the columns ``ActiveRecordProcessor`` writes when an application added them
(``group_id`` on traces; ``input_tokens``, ``output_tokens``, ``agent_model`` on spans).

A trace belongs to the range its end falls in: the latest of its ``ended_at`` and its spans'
ends (else its ``started_at``, else its ``created_at``), so a whole trace goes out together.
Rows come in one stable order, ``(end, trace_id, 0 for spans and 1 for the trace, span_id)``;
the cursor is that key of the last row read, and reading resumes just after it. With an open
end, traces that ended within the last ``settle`` seconds (of the database's clock) wait:
their spans may still be being written; and a trace is taken only once its root span (kind
``trace``, written when the trace ends) is there, or no span of it was written (``created_at``)
for ``settle`` seconds.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["SPANS", "TRACES", "Columns", "Query", "decoded", "stream"]

TRACES: Final = "raaf_tracing_traces"
SPANS: Final = "raaf_tracing_spans"
_US: Final = "(extract(epoch FROM {}) * 1000000)::bigint"
#: the columns of :func:`stream` that PostgreSQL sends as JSON text: attributes, events, metadata
_JSON: Final = (11, 12, 17)


@dataclass(frozen=True, slots=True)
class Columns:
    """The optional columns the tables have."""

    group_id: bool = False
    input_tokens: bool = False
    output_tokens: bool = False
    agent_model: bool = False

    @classmethod
    def of(cls, traces: Collection[str], spans: Collection[str]) -> Columns:
        return cls("group_id" in traces, "input_tokens" in spans, "output_tokens" in spans,
                   "agent_model" in spans)


def _us(column: str) -> str:
    return _US.format(column)


@dataclass(frozen=True, slots=True)
class Query:
    """The statements for one set of columns, range and settle time."""

    columns: Columns
    since_us: int | None
    until_us: int | None
    settle_s: float

    def _chosen(self) -> tuple[str, dict[str, Any]]:
        """The traces in the range, with the time their spans cover."""
        group = "t.group_id::text" if self.columns.group_id else "NULL::text"
        where, params = ["end_us IS NOT NULL"], {}
        if self.since_us is not None:
            where.append("end_us >= %(since)s")
            params["since"] = self.since_us
        if self.until_us is not None:
            where.append("end_us < %(until)s")
            params["until"] = self.until_us
        else:  # ended a while ago, and either whole (its root span is written) or quiet
            where.append(f"end_us < {_us('now()')} - %(settle)s")
            where.append(f"(has_root OR written_us < {_us('now()')} - %(settle)s)")
            params["settle"] = round(self.settle_s * 1_000_000)
        # fixed text only (table names, column expressions); every value is a bound parameter
        text = f"""
        WITH bounds AS (
            SELECT trace_id, min(coalesce(start_time, end_time)) AS first_at,
                   max(coalesce(end_time, start_time)) AS last_at,
                   max(created_at) AS written_at, bool_or(kind = 'trace') AS has_root
            FROM {SPANS} GROUP BY trace_id
        ), traces AS (
            SELECT t.trace_id, t.workflow_name, t.status, t.metadata, {group} AS group_id,
                   {_us('least(t.started_at, b.first_at)')} AS first_us,
                   {_us('coalesce(greatest(t.ended_at, b.last_at), t.started_at, t.created_at)')} AS end_us,
                   {_us('coalesce(b.written_at, t.created_at)')} AS written_us,
                   coalesce(b.has_root, false) AS has_root
            FROM {TRACES} t LEFT JOIN bounds b ON b.trace_id = t.trace_id
        ), chosen AS (
            SELECT * FROM traces WHERE {' AND '.join(where)}
        )"""  # noqa: S608 - fixed text, bound values
        return text, params

    def count(self) -> tuple[str, dict[str, Any]]:
        chosen, params = self._chosen()
        text = f"""{chosen}
        SELECT (SELECT count(*) FROM chosen),
               (SELECT count(*) FROM {SPANS} s JOIN chosen c ON c.trace_id = s.trace_id
                WHERE s.kind <> 'trace'),
               (SELECT min(end_us) FROM chosen), (SELECT max(end_us) FROM chosen)"""  # noqa: S608
        return text, params

    def rows(self, after: tuple[int, str, int, str] | None) -> tuple[str, dict[str, Any]]:
        """Every span and trace of the range after the key ``after``, in key order."""
        chosen, params = self._chosen()
        cols = self.columns
        resume = ""
        if after is not None:
            resume = "WHERE (end_us, trace_id, ord, sid) > (%(a_end)s, %(a_trace)s, %(a_ord)s, %(a_sid)s)"
            params.update(a_end=after[0], a_trace=after[1], a_ord=after[2], a_sid=after[3])
        text = f"""{chosen}
        {stream(cols)} {resume}
        ORDER BY end_us, trace_id, ord, sid"""
        return text, params

    def newer(self, after: tuple[int, str, int, str] | None) -> tuple[str, dict[str, Any]]:
        """Whether any trace of the range ends after the key ``after``."""
        chosen, params = self._chosen()
        if after is None:
            return f"{chosen} SELECT EXISTS (SELECT 1 FROM chosen)", params  # noqa: S608
        params.update(a_end=after[0], a_trace=after[1])
        text = f"{chosen} SELECT EXISTS (SELECT 1 FROM chosen WHERE (end_us, trace_id) > "  # noqa: S608
        return text + "(%(a_end)s, %(a_trace)s))", params


def decoded(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of :func:`stream` with their JSON columns parsed, all in one ``json.loads`` (one
    call a value costs more than parsing the small values RAAF writes)."""
    if not rows:
        return rows
    values = json.loads("[" + ",".join([row[i] or "null" for row in rows for i in _JSON]) + "]")
    return [(*row[:11], values[at], values[at + 1], *row[13:17], values[at + 2], *row[18:])
            for at, row in zip(range(0, len(values), 3), rows, strict=True)]


def _events(table: str) -> str:
    """A span's events, ``NULL`` for none (what RAAF writes for most spans: nothing to parse)."""
    return f"nullif({table}.events::jsonb, '[]'::jsonb)::text"


def stream(cols: Columns, spans_where: str = "", traces_where: str = "") -> str:
    """The rows of the traces of a ``chosen`` CTE (``trace_id``, ``workflow_name``, ``status``,
    ``metadata``, ``group_id``, ``first_us``, ``end_us``): their spans (order 0) and the traces
    themselves with their own ``trace``-kind span (order 1), as ``SELECT * FROM (...) stream``.
    ``spans_where`` and ``traces_where`` narrow each part (fixed text, bound values)."""
    tokens = ", ".join((
        "s.input_tokens::bigint" if cols.input_tokens else "NULL::bigint",
        "s.output_tokens::bigint" if cols.output_tokens else "NULL::bigint",
        "s.agent_model::text" if cols.agent_model else "NULL::text",
    ))
    return f"""SELECT * FROM (
            SELECT c.end_us, c.trace_id, 0 AS ord, s.span_id::text AS sid,
                   s.parent_id::text, s.name::text, s.kind::text, s.status::text,
                   {_us('s.start_time')} AS start_us, {_us('s.end_time')} AS stop_us,
                   s.duration_ms::float8, s.span_attributes::jsonb::text, {_events('s')},
                   {tokens}, coalesce(p.kind = 'trace', false) AS parent_is_trace,
                   NULL::text AS metadata, NULL::text AS group_id, NULL::bigint AS first_us
            FROM chosen c JOIN {SPANS} s ON s.trace_id = c.trace_id
            LEFT JOIN {SPANS} p ON p.span_id = s.parent_id
            WHERE s.kind <> 'trace' {spans_where}
            UNION ALL
            SELECT c.end_us, c.trace_id, 1, '', ts.span_id::text, c.workflow_name::text, 'trace',
                   c.status::text, NULL, NULL, NULL, ts.span_attributes::jsonb::text, {_events('ts')},
                   NULL, NULL, ts.status::text, false, c.metadata::jsonb::text, c.group_id, c.first_us
            FROM chosen c LEFT JOIN LATERAL (
                SELECT span_id, status, span_attributes, events FROM {SPANS} x
                WHERE x.trace_id = c.trace_id AND x.kind = 'trace'
                ORDER BY x.start_time NULLS LAST, x.span_id LIMIT 1
            ) ts ON true
            WHERE true {traces_where}
        ) stream"""  # noqa: S608 - fixed text, bound values
