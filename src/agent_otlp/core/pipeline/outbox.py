"""What the pipeline needs of a durable outbox: :class:`Outbox`.

With an outbox the exporter does not hand records to its destinations: it turns items into
rows (:meth:`Outbox.span_row`, :meth:`Outbox.trace_row`, :meth:`Outbox.trace_start_row`),
submits them in batches with the open-trace records that go with them, waits for their
commit, and the destinations hear of rows only once committed (the listener given to
:meth:`Outbox.listen`). :class:`agent_otlp.store.outbox.StoreOutbox` implements it over the
SQLite span store; :mod:`agent_otlp.factory` wires the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from agent_otlp.core.convert.records import AgentSpan, AgentTrace, SpanRecord
    from agent_otlp.core.convert.spans import ConvertOptions

__all__ = ["CommitListener", "OpenTraceRecord", "Outbox", "OutboxBatch", "Row"]

#: ``(kind, trace id, item id, time column, payload)``: one stored item.
Row = tuple[int, str, str, int | None, bytes]
#: ``(trace id, trace start payload or None, first ns, last ns)`` of a trace left open.
OpenTraceRecord = tuple[str, bytes | None, int | None, int | None]


class OutboxBatch(Protocol):
    """One writer's rows and open-trace changes, as :meth:`Outbox.batch` made them."""

    #: traces opened or covering more: ``trace id -> (key, start payload, first, last)``
    opened: dict[str, Any]
    #: traces whose workflow span is among the rows: ``trace id -> (key, writer's state)``
    finished: dict[str, Any]
    #: a client is told the outcome: a failure is refused to it, not counted as dropped
    answered: bool

    def spans(self) -> int:
        """OpenTelemetry spans among the rows."""
        ...


BatchT = TypeVar("BatchT", bound=OutboxBatch)

#: Called after each group commit (any thread) with the group, the last stored seq
#: (``None`` on failure), the rows committed for the destinations' live tails (opaque to
#: the pipeline, ``None`` on failure) and the failure's reason (``None`` when committed).
CommitListener = Callable[[list[Any], "int | None", Any, "str | None"], None]


class Outbox(Protocol[BatchT]):
    """A durable outbox: rows in, committed in groups, destinations read them back."""

    @property
    def store(self) -> Any:
        """The underlying store, for callers that inspect it (``AgentExporter.store``)."""
        ...

    @property
    def write_problem(self) -> str | None:
        """Why the outbox cannot write at the moment; ``None`` when it can."""
        ...

    def listen(self, committed: CommitListener) -> None:
        """Call ``committed`` after each group commit (see :data:`CommitListener`)."""

    def span_row(self, span: AgentSpan, raw: bytes | None = None) -> Row:
        """The row of ``span``: ``raw`` as its payload when given (reads back to ``span``)."""
        ...

    def trace_row(self, trace: AgentTrace, start_ns: int, end_ns: int, synthesized: bool) -> Row:
        """The row of a finished trace's workflow span covering ``start_ns``..``end_ns``."""
        ...

    def trace_start_row(self, trace: AgentTrace) -> Row:
        """The trace object as first seen (lets a restarted exporter finish it)."""
        ...

    def batch(
        self, rows: list[Row], opened: dict[str, Any], finished: dict[str, Any], *,
        answered: bool, parsed: list[AgentSpan | None],
        records: list[SpanRecord | None] | None = None, options: ConvertOptions | None = None,
    ) -> BatchT:
        """A batch of ``rows`` (``parsed``: the span each row reads back to, or ``None``;
        ``records``: those spans converted with ``options`` already, or ``None``)."""
        ...

    def submit(self, batch: BatchT) -> None:
        """Queue ``batch`` behind every batch submitted before it."""

    def wait(self, batch: BatchT) -> str | None:
        """Return once ``batch`` is committed (``None``) or failed (the reason)."""
        ...

    def open_traces(self) -> Iterable[OpenTraceRecord]:
        """Traces a previous process left open, to reopen at start."""
        ...

    def prune(self) -> None:
        """Apply retention (delivered and expired rows)."""

    def is_full(self) -> bool:
        """True when the undelivered budget is used up."""
        ...
