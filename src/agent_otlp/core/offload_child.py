"""Offload mode, the child's side and the wire between the two processes.

Frames are length-prefixed (:data:`HEADER`) ``marshal`` dumps of entry tuples whose first
element is one of the entry kinds below; the first frame is the pickled
:class:`OffloadConfig`. The child answers control entries (flush, stats, shutdown) on a
second pipe with pickled ``(ticket, payload)`` frames. See :mod:`agent_otlp.core.offload`.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, Final

from agent_otlp.core.errors import InputError
from agent_otlp.core.exporter import (
    INGEST_END_ALL,
    INGEST_END_TRACE,
    INGEST_ITEM,
    INGEST_TRACE_END,
    INGEST_TRACE_START,
    AgentExporter,
)
from agent_otlp.core.records import AgentSpan, parse_item, parse_timestamp
from agent_otlp.core.secrets import Secret, redact_text, register_secret

__all__ = ["CHILD_NICE", "HEADER", "OffloadConfig", "child_main", "feed", "read_frame", "span_record"]

HEADER: Final = struct.Struct("<I")

# entry kinds (marshal-able tuples)
_SPAN, _SPAN_ITEM, _TRACE_START, _TRACE_END, _ITEM, _END_TRACE, _END_ALL, _IDLE = range(8)
_FLUSH, _STATS, _SHUTDOWN = 10, 11, 12
#: The child's CPU priority below the agent's (``nice`` +10: about a tenth of a core's time
#: when both want it). Export has queues to absorb a short wait; the agent's latency has not.
CHILD_NICE: Final = 10



@dataclass(frozen=True)
class OffloadConfig:
    """What the child needs to build the same exporter (pickled over the pipe)."""

    adapters: str | list[str] | None
    config_file: str | None
    store: bool | str | None
    trace_idle_timeout: float | None
    arguments: dict[str, Any]
    env: dict[str, str]
    #: Added to the child's nice value: the agent's threads win a contended core.
    nice: int = CHILD_NICE

    def create(self) -> AgentExporter:
        from agent_otlp.core.factory import create_exporter

        extra: dict[str, Any] = {}
        if self.trace_idle_timeout is not None:
            extra["trace_idle_timeout"] = self.trace_idle_timeout
        return create_exporter(
            self.adapters, config_file=self.config_file, env=self.env, store=self.store,
            **extra, **self.arguments,
        )



class _ExportedTrace:
    """Stands in for an SDK trace object: the dispatcher only calls ``export()``."""

    __slots__ = ("_data",)

    def __init__(self, data: Any) -> None:
        self._data = data

    def export(self) -> Any:
        return self._data


def span_record(entry: Any) -> AgentSpan:
    """The :class:`AgentSpan` of a ``_SPAN`` entry (raises :class:`InputError` on a bad
    timestamp)."""
    _, span_id, trace_id, parent_id, started, ended, data, error = entry
    return AgentSpan(
        span_id, trace_id, parent_id or None,
        parse_timestamp(started, "started_at", span_id),
        parse_timestamp(ended, "ended_at", span_id),
        data, dict(error) if error else None, None,
    )


def feed(exporter: AgentExporter, entries: Iterable[Any]) -> None:
    """Data entries (a frame's, in order) into ``exporter`` through
    :meth:`~agent_otlp.core.exporter.AgentExporter.ingest`, on this thread: no hand-off to
    the dispatcher thread. Invalid items are reported by ``submit_items`` (which queues
    nothing for them); control entries are not data and are skipped."""
    batch: list[tuple[int, Any, int]] = []
    now = time.time_ns()
    for entry in entries:
        kind = entry[0]
        if kind == _SPAN:
            try:
                record = span_record(entry)
            except InputError:  # the validated path reports it
                _, span_id, trace_id, parent_id, started, ended, data, error = entry
                exporter.submit_items([{
                    "object": "trace.span", "id": span_id, "trace_id": trace_id,
                    "parent_id": parent_id, "started_at": started, "ended_at": ended,
                    "span_data": data, "error": error,
                }])
                continue
            batch.append((INGEST_ITEM, record, now))
        elif kind in (_SPAN_ITEM, _ITEM):
            try:
                parsed = parse_item(entry[1])
            except Exception:  # the validated path reports it
                exporter.submit_items([entry[1]])
                continue
            batch.append((INGEST_ITEM, parsed, now))
        elif kind == _TRACE_START:
            batch.append((INGEST_TRACE_START, _ExportedTrace(entry[1]), entry[2]))
        elif kind == _TRACE_END:
            batch.append((INGEST_TRACE_END, _ExportedTrace(entry[1]), entry[2]))
        elif kind == _END_TRACE:
            batch.append((INGEST_END_TRACE, entry[1], now))
        elif kind == _END_ALL:
            batch.append((INGEST_END_ALL, None, now))
        elif kind == _IDLE:
            exporter.set_trace_idle_timeout(entry[1])
    if batch:
        exporter.ingest(batch)


def read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    size = HEADER.unpack(header)[0]
    body = stream.read(size)
    return body if len(body) == size else None


def _register_secrets(value: Any) -> None:
    if isinstance(value, Secret):
        register_secret(value.reveal())
    elif isinstance(value, Mapping):
        for item in value.values():
            _register_secrets(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _register_secrets(item)


def child_main(reply_fd: int) -> None:
    """The child process: ``python -c '...child_main(FD)'`` with the pipe on stdin."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the agent process decides when to stop
    source = sys.stdin.buffer
    replies = os.fdopen(reply_fd, "wb", buffering=0)

    def reply(ticket: int, payload: Any) -> None:
        data = pickle.dumps((ticket, payload))
        replies.write(HEADER.pack(len(data)) + data)

    first = read_frame(source)
    if first is None:
        return
    config: OffloadConfig = pickle.loads(first)  # noqa: S301 - from the agent process
    _register_secrets(config.arguments)
    if config.nice > 0:
        with contextlib.suppress(OSError):
            os.nice(config.nice)
    try:
        exporter = config.create()
    except Exception as exc:
        reply(0, ("error", redact_text(f"{type(exc).__name__}: {exc}")))
        return
    reply(0, ("ready", os.getpid()))
    while True:
        frame = read_frame(source)
        if frame is None:  # the agent process is gone or closed the pipe: flush and stop
            exporter.shutdown(exporter._exit_timeout)
            return
        data: list[Any] = []
        for entry in marshal.loads(frame):  # noqa: S302 - from the agent process
            kind = entry[0]
            if kind < _FLUSH:
                data.append(entry)
                continue
            feed(exporter, data)  # what came before a command is handled before it
            data = []
            if kind == _FLUSH:
                reply(entry[1], exporter.force_flush(entry[2]))
            elif kind == _STATS:
                reply(entry[1], (exporter.stats.snapshot(), exporter.pending(), _maxrss_kb()))
            elif kind == _SHUTDOWN:
                report = exporter.shutdown(entry[2])
                reply(entry[1], (report, exporter.stats.snapshot(), _maxrss_kb()))
                return
        feed(exporter, data)


def _maxrss_kb() -> int:
    """Peak resident memory of this process in KiB: ``VmHWM`` where Linux has it.
    (``ru_maxrss`` is not: Linux carries it across ``exec``, so a child started from a
    large agent process reports the agent's size at the fork.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


