"""What the span store's tables hold, as Python values: the kinds of item, a stored item,
an open trace, a destination's cursor status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "KIND_SPAN",
    "KIND_TRACE",
    "KIND_TRACE_START",
    "CursorStatus",
    "ItemRow",
    "OpenTrace",
    "StoredItem",
    "time_column",
]

KIND_SPAN: Final = 0
KIND_TRACE: Final = 1
#: The trace object when first seen (not delivered; used to finish traces after a crash).
KIND_TRACE_START: Final = 2
_SQLITE_MAX: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class StoredItem:
    seq: int
    kind: int
    trace_id: str
    item_id: str
    ended_ns: int | None
    payload: bytes


#: A trace still open: (trace id, the trace object as first seen or None, earliest and
#: latest time its spans cover).
OpenTrace = tuple[str, bytes | None, int | None, int | None]

#: An item to store: (kind, trace id, item id, end time in Unix ns or None, payload).
ItemRow = tuple[int, str, str, int | None, bytes]


@dataclass(frozen=True, slots=True)
class CursorStatus:
    destination: str
    seq: int
    queued: int
    delivered: int
    failed: int
    oldest_undelivered_ns: int | None


def time_column(ns: int | None) -> int | None:
    """OTLP times reach 2**64 - 1 ns; SQLite integers stop at 2**63 - 1."""
    return None if ns is None else min(ns, _SQLITE_MAX)
