"""Span records from agent-otlp's own span store, for a historical export of a time range.

The store is read in pages (``read_after`` with the range), never whole; each row becomes
a span record through the function the caller gives (for
:class:`~agent_otlp.store.sqlite.SpanStore`, :func:`agent_otlp.store.outbox.stored_records`:
stored trace rows become the workflow spans of their traces, as in live delivery). A row that
cannot be read is reported and skipped, never stops the export.

Sources do not import the store: :class:`StoredRows` is what this module needs of it, and
:class:`~agent_otlp.store.sqlite.SpanStore` has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from agent_otlp.core.convert.records import SpanRecord
from agent_otlp.core.convert.spans import ConvertOptions

__all__ = ["StoreSource", "StoredRow", "StoredRows", "store_source"]


class StoredRow(Protocol):
    """One stored item: its position in the store."""

    @property
    def seq(self) -> int: ...


Row = TypeVar("Row", bound=StoredRow)
Row_co = TypeVar("Row_co", bound=StoredRow, covariant=True)


class StoredRows(Protocol[Row_co]):
    """The part of a span store that historical export reads."""

    @property
    def path(self) -> Path: ...

    def read_after(
        self, seq: int, limit: int, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> Sequence[Row_co]: ...

    def count(
        self, *, after: int = 0, since_ns: int | None = None, until_ns: int | None = None,
        deliverable: bool = False,
    ) -> int: ...


def store_source(store: StoredRows[StoredRow]) -> str:
    """The source part of a historical export job's key for a store."""
    return f"store:{Path(store.path).resolve()}"


class StoreSource(Generic[Row]):
    """The items of ``store`` in a range, as pages of span records keyed by store ``seq``;
    ``to_record`` gives a row's span record, or ``None`` for a row that is not sent."""

    def __init__(self, store: StoredRows[Row], options: ConvertOptions,
                 to_record: Callable[[Row, ConvertOptions], SpanRecord | None]) -> None:
        self.store = store
        self.options = options
        self.to_record = to_record

    @property
    def key(self) -> str:
        return store_source(self.store)

    def count(self, since_ns: int | None, until_ns: int | None, after: int = 0) -> int:
        """Items that would go (spans and finished traces in the range) after ``after``."""
        return self.store.count(after=after, since_ns=since_ns, until_ns=until_ns, deliverable=True)

    def pages(self, after: int, since_ns: int | None, until_ns: int | None, batch_size: int,
              unreadable: Callable[[str], None]) -> Iterator[tuple[int, list[SpanRecord]]]:
        """``(last seq, records)`` of each page of ``batch_size`` rows after ``after``;
        ``unreadable`` is told about each row that cannot be read."""
        position = after
        while True:
            page = self.store.read_after(position, batch_size, since_ns=since_ns, until_ns=until_ns)
            if not page:
                return
            position = page[-1].seq
            records = []
            for row in page:
                try:
                    record = self.to_record(row, self.options)
                except Exception as exc:  # a corrupt row must not stop the export
                    unreadable(f"seq {row.seq}: unreadable ({exc!r})")
                    continue
                if record is not None:
                    records.append(record)
            yield position, records
