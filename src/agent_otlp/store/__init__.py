"""The durable span store: agent traces and spans kept in SQLite until every destination
has them. See :mod:`agent_otlp.store.sqlite`."""

from __future__ import annotations

from agent_otlp.store.sqlite import SpanStore, StoredItem, default_store_path

__all__ = ["SpanStore", "StoredItem", "default_store_path"]
