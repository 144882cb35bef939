"""Self-telemetry: what the exporter did, readable from Python and shown by the CLI."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["DestinationStats", "ExporterStats"]

_DROP_LOCK = threading.Lock()


@dataclass(slots=True)
class DestinationStats:
    """Counters of one destination. Spans are counted once each, at the point they leave."""

    name: str
    received: int = 0
    exported: int = 0
    #: spans dropped, by reason: ``queue_full``, ``failed``, ``rejected``, ``sampled_out``,
    #: ``adapter`` (removed by an adapter's batch hook), ``store_full`` (the span store could
    #: not write them: disk full, I/O error).
    dropped: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    failed_batches: int = 0
    requests: int = 0
    queue_depth: int = 0
    breaker: str = "closed"
    breaker_opened: int = 0
    last_error: str = ""

    def drop(self, reason: str, count: int) -> None:
        if count > 0:
            with _DROP_LOCK:  # the dispatcher and the worker both drop
                self.dropped[reason] = self.dropped.get(reason, 0) + count

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self)
        data["dropped_total"] = sum(self.dropped.values())
        return data


@dataclass(slots=True)
class ExporterStats:
    """Counters of the shared intake, plus every destination's."""

    received_items: int = 0
    converted_spans: int = 0
    invalid_items: int = 0
    dropped_intake_full: int = 0
    last_input_error: str = ""
    #: span store writes (group commits) that failed, and why the last one did; empty
    #: once a write commits again
    store_write_errors: int = 0
    store_problem: str = ""
    destinations: dict[str, DestinationStats] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, Any]:
        return {
            "received_items": self.received_items,
            "converted_spans": self.converted_spans,
            "invalid_items": self.invalid_items,
            "dropped_intake_full": self.dropped_intake_full,
            "last_input_error": self.last_input_error,
            "store_write_errors": self.store_write_errors,
            "store_problem": self.store_problem,
            "destinations": {n: d.snapshot() for n, d in self.destinations.items()},
        }
