"""``agent-otlp follow``: send what a source writes, as it is written, to one destination.

The source reads its new items at least once (:func:`agent_otlp_source_tail`: a watermark and
a lookback window, for writers that commit out of order); the items it gives are deduplicated
by key in agent-otlp's store (``delivered_items``), so that nothing is sent twice, and a key is
recorded once its page is delivered. The source's cursor (its watermark) is kept with the job
(``source_cursors``), so a follower started again goes on where it stopped.

While the source is unreachable (its database restarted), the follower waits, 0.5 s at first
and twice as long each time up to 30 s, and reads again. :meth:`Follower.stop` (SIGTERM,
Ctrl-C) ends it after the page in flight: every page read is delivered or left for the next
run, never half-recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Final

from agent_otlp.core.config.errors import AgentOTLPError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.historical import ExportResult, HistoricalExport, job_key
from agent_otlp.sources.plugins.convert import item_records
from agent_otlp.sources.plugins.manager import OpenedSource
from agent_otlp.sources.plugins.types import SourcePage
from agent_otlp.store.delivered_items import delivered_keys, forget_delivered, mark_delivered
from agent_otlp.store.source_cursors import load_cursor, save_cursor

__all__ = ["FollowStats", "Follower", "item_key"]

logger = logging.getLogger("agent_otlp.following")

_FIRST_DELAY: Final = 0.5
_LONGEST_DELAY: Final = 30.0
_KEEP_KEYS_S: Final = 7 * 86_400.0  # far longer than any lookback window
_PRUNE_EVERY_S: Final = 3600.0
_RECENT_KEYS: Final = 200_000  # delivered keys remembered in memory (about 25 MiB at most)


def item_key(item: dict[str, object]) -> str:
    """``span:<id>`` or ``trace:<id>``: the key an item is deduplicated by."""
    kind = "trace" if item.get("object") == "trace" else "span"
    return f"{kind}:{item.get('id')}"


@dataclass(slots=True)
class FollowStats:
    """What a follower did: items and spans delivered, looks, unreachable spells."""

    items: int = 0
    spans_sent: int = 0
    refused: int = 0
    invalid: int = 0
    looks: int = 0
    outages: int = 0
    last_error: str = ""


class Follower:
    """Follow one opened source into the destination of ``engine`` until :meth:`stop`.

    :param poll: seconds between looks when nothing was new.
    :param on_page: called after each delivered page (progress display).
    """

    def __init__(self, engine: HistoricalExport, source: OpenedSource, *, poll: float = 0.5,
                 on_page: Callable[[FollowStats], None] | None = None) -> None:
        self.engine = engine
        self.source = source
        self.poll = poll
        self.on_page = on_page
        self.job = job_key(f"follow:{source.key}", None, None, engine.destination_key())
        self.stats = FollowStats()
        self._stopping = threading.Event()
        self._result = ExportResult(job=self.job)
        self._recent: dict[str, None] = {}

    def stop(self) -> None:
        """End after the page in flight (from a signal handler or another thread)."""
        self._stopping.set()

    def delivered(self, keys: Sequence[str]) -> Collection[str]:
        """Those of ``keys`` delivered: the recent ones remembered here, the others (after a
        restart) looked up in the store."""
        recent = self._recent
        unknown = [key for key in keys if key not in recent]
        found = delivered_keys(self.engine.jobs, self.job, unknown) if unknown else set()
        self._remember(found)
        return found.union(key for key in keys if key in recent)

    def _remember(self, keys: Collection[str]) -> None:
        recent = self._recent
        for key in keys:
            recent[key] = None
        while len(recent) > _RECENT_KEYS:  # the oldest first (insertion order)
            del recent[next(iter(recent))]

    def run(self) -> FollowStats:
        store = self.engine.jobs
        cursor = load_cursor(store, self.job)
        delay = _FIRST_DELAY
        pruned = -_PRUNE_EVERY_S
        while not self._stopping.is_set():
            self.stats.looks += 1
            began = time.monotonic()
            if began - pruned >= _PRUNE_EVERY_S:  # keys older than a week go, hourly
                forget_delivered(store, self.job, _KEEP_KEYS_S)
                pruned = began
            try:
                cursor, got = self._look(cursor)
            except (AgentOTLPError, KeyboardInterrupt):
                raise
            except Exception as exc:  # the source is unreachable: wait, longer each time
                self._unreachable(exc, delay)
                delay = min(delay * 2, _LONGEST_DELAY)
                continue
            if self.stats.outages and delay > _FIRST_DELAY:
                logger.warning("agent-otlp follow: %s reachable again", self.source.name)
            delay = _FIRST_DELAY
            self._stopping.wait(max(0.0, self.poll - (time.monotonic() - began)) if got else self.poll)
        return self.stats

    def _unreachable(self, exc: Exception, delay: float) -> None:
        self.stats.outages += 1
        self.stats.last_error = redact_text(f"{type(exc).__name__}: {exc}".strip())
        logger.warning("agent-otlp follow: from %s: %s; trying again in %.1fs",
                       self.source.name, self.stats.last_error, delay)
        self._stopping.wait(delay)

    def _look(self, cursor: str | None) -> tuple[str | None, bool]:
        """Deliver every page that is new; the cursor after them and whether any item came."""
        got = False
        for page in self.source.tail(cursor, self.engine.batch_size, self.delivered):
            if page.items:
                self._deliver(page)
                got = True
            cursor = page.cursor
            save_cursor(self.engine.jobs, self.job, cursor)
            if self._stopping.is_set():
                break
        return cursor, got

    def _deliver(self, page: SourcePage) -> None:
        result = self._result

        def unreadable(problem: str) -> None:
            self.stats.invalid += 1
            result.errors.append(problem)

        records = item_records(page.items, self.engine.options, unreadable)
        if records:
            sent, refused = self.engine.send(records, result)
            self.stats.spans_sent += sent
            self.stats.refused += refused
        keys = [item_key(item) for item in page.items]
        mark_delivered(self.engine.jobs, self.job, keys)
        self._remember(keys)
        self.stats.items += len(page.items)
        del result.errors[:-10]
        if self.on_page:
            self.on_page(self.stats)
