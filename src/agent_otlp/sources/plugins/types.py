"""What source plugins return and receive: an inventory, a page of items, the context a
source is opened with. Plain frozen dataclasses, so a third-party source builds them without
importing anything else of agent-otlp."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SourceContext", "SourceInventory", "SourcePage", "TimeRange"]


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[since_ns, until_ns)`` in Unix nanoseconds; ``None`` is an open end. An item belongs
    to the range its *end* falls in (a trace: the end of its last span)."""

    since_ns: int | None = None
    until_ns: int | None = None

    def holds(self, end_ns: int | None) -> bool:
        if end_ns is None:
            return self.since_ns is None and self.until_ns is None
        return (self.since_ns is None or end_ns >= self.since_ns) and (
            self.until_ns is None or end_ns < self.until_ns
        )


@dataclass(frozen=True, slots=True)
class SourceInventory:
    """What a source holds in a range: items (traces and spans as the SDK exports them) and
    the first and last end time among them (``None`` when empty)."""

    traces: int
    spans: int
    first_ns: int | None = None
    last_ns: int | None = None

    @property
    def items(self) -> int:
        return self.traces + self.spans


@dataclass(frozen=True, slots=True)
class SourcePage:
    """Items in the SDK's export shape (``object: "trace"`` / ``"trace.span"`` dicts), and the
    cursor just after the last of them: handed back to ``agent_otlp_source_read``, it resumes
    after this page. ``cursor`` is text the source alone interprets (never a secret)."""

    items: list[dict[str, Any]]
    cursor: str


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What the host lends a source when it opens one.

    :param env: the environment to read settings and credentials from (not ``os.environ``).
    :param open_span_store: opens an agent-otlp span store file for reading (the built-in
        ``store`` source uses it; sources do not import the store).
    :param options: source-specific options (``--source-option KEY=VALUE``).
    """

    env: Mapping[str, str] = field(default_factory=dict)
    open_span_store: Callable[[Path], Any] | None = None
    options: Mapping[str, str] = field(default_factory=dict)
