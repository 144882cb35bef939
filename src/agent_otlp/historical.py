"""Historical export: send what a source holds for a time range to one destination,
resumably and in constant memory.

* The source is read in pages of ``batch_size`` items: the store through
  :class:`~agent_otlp.sources.store.StoreSource`, files through
  :class:`~agent_otlp.sources.files.FileSource` (read the way ``agent-otlp send`` reads them),
  any source plugin (``agent_otlp.sources``: ``store``, ``jsonl``, ``raaf-rails``...) through
  :meth:`HistoricalExport.from_source`; nothing is loaded whole.
* Each page is converted (stored trace rows become the workflow root spans), run through the
  destination adapter's ``map_attributes`` and ``process_batch`` hooks, encoded and sent with
  retries, up to 4 requests in flight (:mod:`agent_otlp.inflight`). A retryable failure is
  retried until the destination's ``retry_deadline``; then the export stops, resumable. A
  source plugin's pages are converted and encoded in a process of their own when the export
  is large (:mod:`agent_otlp.conversion`, ``process_from``); this one reads and sends.
* Progress is a job row (``export_jobs``) keyed by a hash of the source, the range and the
  destination (name and endpoint): after each accepted batch it records the last store ``seq`` (or file item
  number, or items read from a source plugin, whose own cursor is kept beside it in
  ``source_cursors``) delivered, written on a thread of its own (the newest each time). Running
  the same export again continues after it: at most the batches in flight when the export was
  interrupted, and those delivered while the last position was being written, are sent twice.
  A finished job is not sent again (``restart=True`` starts it over).
* The live destinations' cursors are never touched.
* ``follow``: after the range is read, the source is asked for new items (or polled) and the
  export goes on until :meth:`HistoricalExport.stop` (or Ctrl-C); such a job is never done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent_otlp.conversion import (
    ConversionError,
    ConversionLost,
    ConversionProcess,
    Converted,
    Converting,
    converted_ahead,
    start_conversion,
)
from agent_otlp.core.config.errors import AgentOTLPError, ConfigError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import AttrValue, SpanRecord
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.core.plugins.manager import DestinationHooks
from agent_otlp.core.wire.encode import WireEncoder
from agent_otlp.core.wire.transport import Transport
from agent_otlp.export_range import ExportRange, is_relative, parse_time
from agent_otlp.factory import resolve_all, resource_for
from agent_otlp.inflight import InOrder, Latest, Unavailable, prepare, transmit
from agent_otlp.sources.files import FileSource, files_source
from agent_otlp.sources.plugins.convert import item_records
from agent_otlp.sources.plugins.manager import OpenedSource
from agent_otlp.sources.plugins.types import TimeRange
from agent_otlp.sources.store import StoreSource, store_source
from agent_otlp.store.destinations import DestinationStore
from agent_otlp.store.outbox import stored_records
from agent_otlp.store.source_cursors import load_cursor, save_cursor
from agent_otlp.store.sqlite import KIND_TRACE_START, SpanStore, StoredItem

__all__ = [
    "ExportInterrupted", "ExportRange", "ExportResult", "ExportTarget", "HistoricalExport",
    "destination_arguments", "files_source", "is_relative", "parse_time", "resolve_target",
    "store_source",
]

logger = logging.getLogger("agent_otlp.historical")

Progress = Callable[[int, int], None]
#: a page to send: the position after it, its spans (or the conversion process's request of
#: them), what to do once it is delivered
Page = tuple[int, list[SpanRecord] | Converting, Callable[[], None] | None]
#: a page answered: spans accepted, spans refused, the request sent
Sent = tuple[int, int, Converted]
#: items of a source plugin to go, from which they are converted in a process of their own
PROCESS_FROM: Final = 20_000
_NOTHING: Final = Converted(None, 0, 0, [], [])


def destination_arguments(
    names: Sequence[str], store: SpanStore | None, env: Mapping[str, str]
) -> dict[str, Any]:
    """``destinations={...}`` arguments for the names that are stored destinations (a
    disabled one is a :class:`ConfigError`); other names are left to adapters and config."""
    if store is None:
        return {}
    table = DestinationStore(store)
    out: dict[str, Any] = {}
    for name in names:
        stored = table.get(name)
        if stored is None:
            continue
        if not stored.enabled:
            raise ConfigError("destination", name, "disabled; run: agent-otlp destinations enable " + name)
        out[name] = stored.arguments(env)
    return out


@dataclass(slots=True)
class ExportTarget:
    """One destination ready to send to: its settings, adapter hooks, transport, resource."""

    settings: Settings
    hooks: DestinationHooks
    transport: Transport
    resource: dict[str, AttrValue]
    #: the environment the hooks were loaded with by a default adapter manager (a
    #: conversion process loads them the same way); ``None``: they cannot be loaded elsewhere
    env: Mapping[str, str] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.settings.name


def resolve_target(
    name: str,
    *,
    store: SpanStore | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    transport_factory: Callable[[Settings], Transport] | None = None,
    **arguments: Any,
) -> ExportTarget:
    """The destination ``name``: a stored destination, a config-file destination or an adapter."""
    env = os.environ if env is None else env
    stored = destination_arguments([name], store, env)
    if stored:
        arguments["destinations"] = {**(arguments.get("destinations") or {}), **stored}
    [(settings, hooks)] = resolve_all([name], config_file=config_file, env=env, **arguments)
    transport = transport_factory(settings) if transport_factory else hooks.make_transport(settings)
    return ExportTarget(settings, hooks, transport, resource_for(settings, hooks),
                        None if "manager" in arguments else env)


def _stored_record(item: StoredItem, options: ConvertOptions) -> SpanRecord | None:
    """A stored row as the span to send; the trace objects kept only to finish open traces
    after a crash are not sent."""
    return None if item.kind == KIND_TRACE_START else stored_records(item, options)


@contextmanager
def _source_failures(name: str, result: ExportResult) -> Iterator[None]:
    """A source that fails while it is read (its database went away, say) interrupts the
    export, resumably, with the reason (secrets masked)."""
    try:
        yield
    except (ExportInterrupted, AgentOTLPError, GeneratorExit):
        raise
    except Exception as exc:
        reason = redact_text(f"{type(exc).__name__}: {exc}".strip())
        raise ExportInterrupted(f"source {name} failed: {reason}", result) from None


class ExportInterrupted(Exception):
    """The export stopped before its end (the destination kept failing, or a stop was asked);
    running it again resumes after the last delivered batch."""

    def __init__(self, reason: str, result: ExportResult) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


@dataclass(slots=True)
class ExportResult:
    job: str
    total: int = 0
    sent: int = 0
    failed: int = 0
    invalid: int = 0
    batches: int = 0
    position: int = 0
    resumed_from: int = 0
    already_done: bool = False
    errors: list[str] = field(default_factory=list)


def job_key(source: str, since_ns: int | None, until_ns: int | None, destination: str) -> str:
    text = json.dumps([source, since_ns, until_ns, destination])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class HistoricalExport:
    """Export one source range to one :class:`ExportTarget`, recording progress in ``jobs``.

    :param jobs: the store holding the ``export_jobs`` rows (the source store, or the default
        store for file exports).
    :param batch_size: items per page read and per request sent.
    :param progress: called with (items handled, items in total) after each batch.
    :param stop_after: stop (resumably) after this many batches (tests, trial runs).
    :param process_from: a source plugin's items are converted and encoded in a process of
        their own (:mod:`agent_otlp.conversion`) when at least this many are to go (``None``:
        never); the source is read in this one meanwhile.
    """

    def __init__(
        self,
        target: ExportTarget,
        jobs: SpanStore,
        *,
        batch_size: int = 100,
        progress: Progress | None = None,
        stop_after: int | None = None,
        process_from: int | None = PROCESS_FROM,
    ) -> None:
        if batch_size < 1:
            raise ConfigError("--batch-size", batch_size, "a number >= 1")
        self.target = target
        self.jobs = jobs
        self.batch_size = batch_size
        self.progress = progress
        self.stop_after = stop_after
        self.process_from = process_from
        self._state: dict[str, Any] = {}
        self._stopping = threading.Event()
        settings = target.settings
        self.options = ConvertOptions(settings.capture_content, settings.legacy_attributes)
        self._encoder = WireEncoder(target.resource)
        #: requests on the wire at once (one when the transport cannot send from threads)
        self.in_flight = min(settings.max_in_flight, 4) if target.transport.thread_safe else 1

    # --- sources -------------------------------------------------------------------------

    def store_job(self, store: SpanStore, since_ns: int | None, until_ns: int | None) -> str:
        return job_key(store_source(store), since_ns, until_ns, self._destination())

    def file_job(self, paths: Sequence[Path], since_ns: int | None, until_ns: int | None) -> str:
        return job_key(files_source(paths), since_ns, until_ns, self._destination())

    def export_range(self, source: str, since: str | None, until: str | None, *,
                     restart: bool = False, record: bool = True, now_ns: int | None = None
                     ) -> ExportRange:
        """The range of the export ``since``..``until`` (texts as given) of ``source``.

        Relative times are resolved once per job: the same command (source, texts,
        destination) run again reuses the moment they were first resolved at, stored with
        the job, while that job is unfinished (so it resumes), and after it finished for as
        long as the range is long (so it says "already exported"); later, or with
        ``restart``, they are resolved again from now. ``record=False`` (a dry run) stores
        nothing.
        """
        now_ns = time.time_ns() if now_ns is None else now_ns
        fresh = ExportRange.resolve(since, until, now_ns)
        if fresh.resolved_ns is None:
            return fresh
        anchor_job = "resolved:" + job_key(source, None, None, f"{since}|{until}|{self._destination()}")
        anchor, _, _ = self.jobs.job_position(anchor_job)  # its position: the resolution time
        if anchor and not restart:
            earlier = ExportRange.resolve(since, until, anchor)
            done = self.job_state(job_key(source, earlier.since_ns, earlier.until_ns,
                                          self._destination()))[2]
            if not done or now_ns < anchor + earlier.length_ns():
                return earlier
        if record:
            self.jobs.save_job(anchor_job, fresh.resolved_ns, 0)
        return fresh

    def job_state(self, job: str) -> tuple[int, int, bool]:
        """``(position, sent, done)`` of a job (zeros when it never ran)."""
        return self.jobs.job_position(job)

    def destination_key(self) -> str:
        return self._destination()

    def _destination(self) -> str:
        """The destination part of a job's key: its name and where it sends."""
        return f"{self.target.name} {self.target.settings.endpoint}"

    def count_store(self, store: SpanStore, since_ns: int | None, until_ns: int | None,
                    after: int = 0) -> int:
        """Items that would go (spans and finished traces in the range)."""
        return StoreSource(store, self.options, _stored_record).count(since_ns, until_ns, after)

    def from_store(self, store: SpanStore, since_ns: int | None = None, until_ns: int | None = None,
                   *, restart: bool = False) -> ExportResult:
        source = StoreSource(store, self.options, _stored_record)
        job = job_key(source.key, since_ns, until_ns, self._destination())
        result = self._start(job, restart)
        if result.already_done:
            return result
        result.total = result.sent + source.count(since_ns, until_ns, result.position)

        def unreadable(problem: str) -> None:
            result.invalid += 1
            result.errors.append(problem)

        pages = source.pages(result.position, since_ns, until_ns, self.batch_size, unreadable)
        return self._run(job, result, ((position, records, None) for position, records in pages))

    def from_files(self, paths: Sequence[Path], since_ns: int | None = None,
                   until_ns: int | None = None, *, restart: bool = False) -> ExportResult:
        job = self.file_job(paths, since_ns, until_ns)
        result = self._start(job, restart)
        if result.already_done:
            return result
        source = FileSource(paths, self.options)
        result.total = result.sent + source.count(since_ns, until_ns, result.position)

        def pages() -> Iterator[Page]:
            for position, records in source.pages(result.position, since_ns, until_ns, self.batch_size):
                yield position, records, None
            result.invalid = source.invalid

        return self._run(job, result, pages())

    def count_files(self, paths: Sequence[Path], since_ns: int | None, until_ns: int | None) -> int:
        return FileSource(paths, self.options).count(since_ns, until_ns)

    def source_job(self, source: OpenedSource, since_ns: int | None, until_ns: int | None) -> str:
        return job_key(source.key, since_ns, until_ns, self._destination())

    def from_source(self, source: OpenedSource, since_ns: int | None = None,
                    until_ns: int | None = None, *, restart: bool = False,
                    follow: float | None = None) -> ExportResult:
        """Export a source plugin's items of the range, resuming after the cursor of its last
        delivered page; with ``follow`` (seconds between looks), then wait for new items and
        send them as they come, until :meth:`stop`."""
        window = TimeRange(since_ns, until_ns)
        job = self.source_job(source, since_ns, until_ns)
        result = self._start(job, restart)
        if result.already_done:
            return result
        cursor = [None if restart else load_cursor(self.jobs, job)]

        def unreadable(problem: str) -> None:
            result.invalid += 1
            result.errors.append(problem)

        def delivered(text: str) -> Callable[[], None]:
            def after() -> None:  # the page is delivered: resume after it
                cursor[0] = text
                save_cursor(self.jobs, job, text)
            return after

        def read_pages() -> Iterator[tuple[int, list[Any], Callable[[], None]]]:
            read = result.position
            for page in source.read(window, cursor[0], self.batch_size):
                read += len(page.items)
                yield read, page.items, delivered(page.cursor)

        process: list[ConversionProcess | None] = [None]  # started once the size is known

        def pages() -> Iterator[Page]:
            with _source_failures(source.name, result):
                result.total = max(result.sent, source.inventory(window).items)
                if process[0] is None and self._wants_process(result.total - result.sent):
                    process[0] = start_conversion(self.target.settings, self.options,
                                                  self.target.resource, self.target.env)
                if process[0] is not None:
                    yield from converted_ahead(process[0], read_pages())
                    return
                for position, items, after in read_pages():
                    yield position, item_records(items, self.options, unreadable), after

        try:
            while True:
                self._run(job, result, pages(), finish=follow is None)
                if follow is None or self._stopping.is_set():
                    return result
                while not self._stopping.is_set() and not source.wait(cursor[0], follow):
                    pass
                if self._stopping.is_set():
                    return result
        finally:
            if process[0] is not None:
                process[0].close()

    def _wants_process(self, items: int) -> bool:
        return self.process_from is not None and items >= self.process_from

    def stop(self) -> None:
        """End a ``follow`` export after the batch in flight (from another thread)."""
        self._stopping.set()

    # --- sending -------------------------------------------------------------------------

    def _start(self, job: str, restart: bool) -> ExportResult:
        position, sent, done = (0, 0, False) if restart else self.jobs.job_position(job)
        result = ExportResult(job=job, position=position, sent=sent, resumed_from=position)
        if done:
            result.already_done = True
            result.total = sent
        return result

    def _run(self, job: str, result: ExportResult, pages: Iterator[Page], *,
             finish: bool = True) -> ExportResult:
        """Send the pages, ``in_flight`` requests at a time; a page's position is saved (and
        its ``after`` called, both on the ``saver``'s thread) once it and every page before it
        were answered."""
        if self.progress:
            self.progress(result.sent, result.total)
        flight: InOrder[Sent] = InOrder(self.in_flight)
        saver, started = Latest("agent-otlp-export-position"), result.batches
        try:
            for page in pages:
                if self.stop_after is not None and started >= self.stop_after:
                    flight.drain()
                    raise ExportInterrupted(f"stopped after {result.batches} batches", result)
                ready = self._ready(page[1], result)
                started += bool(page[1])

                def done(outcome: Sent, page: Page = page) -> None:
                    saver.hand(self._delivered(job, result, page, outcome))

                def send(ready: Callable[[], Converted] = ready) -> Sent:
                    return self._send_ready(ready, result)

                flight.submit(send, done)
            flight.drain()
            saver.flush()
        finally:
            flight.close()
            saver.close()
        self.jobs.save_job(job, result.position, result.sent, done=finish)
        return result

    def _ready(self, batch: list[SpanRecord] | Converting, result: ExportResult) -> Callable[[], Converted]:
        """The page's request: prepared here now, or the conversion process's to wait for."""
        if isinstance(batch, Converting):
            return batch.result
        if not batch:
            return lambda: _NOTHING
        converted = Converted(*self._prepare(batch, result), [], [])
        return lambda: converted

    def _send_ready(self, ready: Callable[[], Converted], result: ExportResult) -> Sent:
        """Send a page's request once it is ready (any thread)."""
        try:
            converted = ready()
        except ConversionError as exc:
            reason = str(exc) if isinstance(exc, ConversionLost) else f"converting a page failed: {exc}"
            raise ExportInterrupted(reason, result) from None
        sent, refused = self._transmit(converted.body, converted.spans, result)
        return sent, refused, converted

    def _delivered(self, job: str, result: ExportResult, page: Page, outcome: Sent) -> Callable[[], None]:
        """Count a delivered page; what saves its position (and calls its ``after``)."""
        accepted, refused, converted = outcome
        if page[1]:
            result.sent += accepted
            result.failed += refused + converted.dropped
            result.batches += 1
        if converted.unreadable:
            result.invalid += len(converted.unreadable)
            result.errors.extend(converted.unreadable)
        result.errors.extend(converted.errors)
        result.position, sent, after = page[0], result.sent, page[2]
        if self.progress:
            self.progress(result.sent + result.failed, result.total)

        def save() -> None:
            self.jobs.save_job(job, page[0], sent)
            if after is not None:
                after()
        return save

    def send(self, records: list[SpanRecord], result: ExportResult) -> tuple[int, int]:
        """Send one batch (hooks, encoding, retries): ``(accepted, refused)``; raises
        :class:`ExportInterrupted` when the destination stays unavailable."""
        body, count, dropped = self._prepare(records, result)
        sent, refused = self._transmit(body, count, result)
        return sent, refused + dropped

    def _prepare(self, records: list[SpanRecord], result: ExportResult) -> tuple[bytes | None, int, int]:
        return prepare(self.target.hooks, self.target.settings, self._state, self._encoder, records,
                       result.errors)

    def _transmit(self, body: bytes | None, count: int, result: ExportResult) -> tuple[int, int]:
        """Send with retries (any thread): ``(accepted, refused)``."""
        if body is None:
            return 0, 0
        try:
            return transmit(self.target.transport, self.target.settings, body, count, result.errors)
        except Unavailable as exc:
            raise ExportInterrupted(f"{self.target.name} unavailable: {exc}", result) from None

    def close(self) -> None:
        self.target.transport.close()
