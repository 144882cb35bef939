"""What the bridge needs of an exporter, and when it refuses new items (answered with 429).

:class:`BridgeExporter` is the narrow part of :class:`~agent_otlp.core.pipeline.api.Exporter`
the bridge uses; :class:`StoreBackedExporter` adds what an exporter with a span store offers
(items committed before the answer, the store's write problem for ``/healthz``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agent_otlp.core.config.errors import InputError
    from agent_otlp.core.convert.producer import Producer
    from agent_otlp.core.pipeline.exporter import FlushReport, Submission
    from agent_otlp.core.pipeline.stats import ExporterStats

__all__ = [
    "DEFAULT_MAX_PENDING",
    "Backpressure",
    "BridgeExporter",
    "QueueBackpressure",
    "StoreBackedExporter",
    "default_backpressure",
    "pending_spans",
    "store_backed",
]

DEFAULT_MAX_PENDING: Final = 50_000


class Backpressure(Protocol):
    """Says whether the bridge must refuse new items for now (answered with 429)."""

    def __call__(self) -> bool: ...


class BridgeExporter(Protocol):
    """What the bridge needs of an exporter: a narrow
    :class:`~agent_otlp.core.pipeline.api.Exporter`."""

    @property
    def stats(self) -> ExporterStats: ...

    def submit_items(self, items: Iterable[Any]) -> list[InputError]: ...

    def end_all_traces(self) -> None: ...

    def pending(self) -> int: ...

    def is_full(self) -> bool: ...

    def shutdown(self, timeout: float = ...) -> FlushReport: ...


@runtime_checkable
class StoreBackedExporter(Protocol):
    """An exporter that may keep items in a span store
    (:class:`~agent_otlp.core.pipeline.exporter.AgentExporter`)."""

    @property
    def store(self) -> object | None: ...

    def submit_items_durable(
        self, items: Iterable[Any], raw: list[bytes | None] | None = None,
        producer: Producer | None = None,
    ) -> Submission: ...

    def store_problem(self) -> str | None: ...

    def delivery_problem(self) -> str | None: ...


def store_backed(exporter: BridgeExporter) -> StoreBackedExporter | None:
    """``exporter`` when it has a span store (items are committed before the answer)."""
    if isinstance(exporter, StoreBackedExporter) and exporter.store is not None:
        return exporter
    return None


def pending_spans(exporter: BridgeExporter) -> int:
    """Items accepted but not yet delivered or dropped."""
    return exporter.pending()


class QueueBackpressure:
    """Full when :func:`pending_spans` reaches ``max_pending``."""

    def __init__(self, exporter: BridgeExporter, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self.exporter = exporter
        self.max_pending = max_pending

    def pending(self) -> int:
        return pending_spans(self.exporter)

    def __call__(self) -> bool:
        return self.pending() >= self.max_pending


def default_backpressure(exporter: BridgeExporter, max_pending: int) -> Backpressure:
    """With a span store, spans wait on disk, not in memory: full means the exporter's
    ``is_full`` (its undelivered budget used up); else :class:`QueueBackpressure`."""
    if store_backed(exporter) is not None:
        return exporter.is_full
    return QueueBackpressure(exporter, max_pending)
