"""The built-in ``store`` source: agent-otlp's own span store file, read page by page.

Takes a path to an existing SQLite file (``--from ~/.local/share/agent-otlp/spans.db``). The
store is opened through the host (``SourceContext.open_span_store``: sources do not import the
store) and read with the paging of :mod:`agent_otlp.sources.store`'s protocol; the cursor is
the last store ``seq`` read. Stored items are already in the SDK's export shape; the trace
objects kept only to finish open traces after a crash are left out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.sources.plugins import (
    SourceContext,
    SourceInventory,
    SourcePage,
    TimeRange,
    hookimpl,
)
from agent_otlp.sources.store import StoredRow, StoredRows, store_source

__all__ = ["StoreHandle"]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
#: The store's item kinds (agent_otlp.store.rows): spans and finished traces are sent.
_SENT_KINDS: Final = (0, 1)


class PayloadRow(StoredRow, Protocol):
    @property
    def kind(self) -> int: ...

    @property
    def payload(self) -> bytes: ...


class ItemStore(StoredRows[PayloadRow], Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def close(self) -> None: ...


class StoreHandle:
    def __init__(self, store: ItemStore) -> None:
        self.store = store


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _has_items(path: Path) -> bool:
    """Whether the SQLite file has the store's ``items`` table (looked at read-only)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                     "AND name = 'items'").fetchone())
        finally:
            conn.close()
    except sqlite3.Error:
        return False


@hookimpl
def agent_otlp_source_open(location: str, context: SourceContext) -> StoreHandle | None:
    path = Path(location.removeprefix("store:")).expanduser()
    if not path.is_file() or not _is_sqlite(path):
        if location.startswith("store:"):
            raise ConfigError("--from", location, "no agent-otlp span store (SQLite file) there")
        return None
    if context.open_span_store is None:
        raise ConfigError("--from", location, "this host cannot open span stores")
    if not _has_items(path):
        if location.startswith("store:"):
            raise ConfigError("--from", location, "a SQLite file, but not an agent-otlp span store")
        return None  # another source may read this SQLite file
    store: ItemStore = context.open_span_store(path)
    return StoreHandle(store)


@hookimpl
def agent_otlp_source_key(handle: StoreHandle) -> str:
    return store_source(handle.store).removeprefix("store:")


def _range(window: TimeRange) -> tuple[str, list[int]]:
    clause, params = "kind IN (0, 1)", list[int]()
    if window.since_ns is not None:
        clause, params = clause + " AND ended_ns >= ?", [*params, window.since_ns]
    if window.until_ns is not None:
        clause, params = clause + " AND ended_ns < ?", [*params, window.until_ns]
    return clause, params


@hookimpl
def agent_otlp_source_inventory(handle: StoreHandle, window: TimeRange) -> SourceInventory:
    clause, params = _range(window)
    rows = handle.store.execute(
        f"SELECT kind, count(*), min(ended_ns), max(ended_ns) FROM items WHERE {clause} "  # noqa: S608 - fixed text
        "GROUP BY kind", params)
    counts = {kind: (n, first, last) for kind, n, first, last in rows}
    firsts = [v[1] for v in counts.values() if v[1] is not None]
    lasts = [v[2] for v in counts.values() if v[2] is not None]
    return SourceInventory(traces=counts.get(1, (0,))[0], spans=counts.get(0, (0,))[0],
                           first_ns=min(firsts, default=None), last_ns=max(lasts, default=None))


@hookimpl
def agent_otlp_source_read(handle: StoreHandle, window: TimeRange, cursor: str | None,
                           batch_size: int) -> Iterator[SourcePage]:
    position = int(cursor or 0)
    while True:
        rows = handle.store.read_after(position, batch_size, since_ns=window.since_ns,
                                       until_ns=window.until_ns)
        if not rows:
            return
        position = rows[-1].seq
        yield SourcePage([_item(row) for row in rows if row.kind in _SENT_KINDS], str(position))


def _item(row: PayloadRow) -> dict[str, Any]:
    """The stored item; one that is not JSON any more stands as an item naming its seq, which
    the export reports as unreadable and skips."""
    try:
        item = json.loads(row.payload)
    except ValueError as exc:
        return {"object": "unreadable", "id": f"seq {row.seq}: {exc}"}
    return item if isinstance(item, dict) else {"object": "unreadable", "id": f"seq {row.seq}"}


@hookimpl
def agent_otlp_source_close(handle: StoreHandle) -> None:
    handle.store.close()
