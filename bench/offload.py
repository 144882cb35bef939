"""Prototype: agent-otlp's pipeline in a child process, fed through a pipe.

Superseded by the product feature ``create_exporter(..., offload=True)``
(:mod:`agent_otlp.offload.parent`), which the bench row ``agent-otlp-offload`` now runs; kept
as the minimal reference the feature grew from (no flush or stats round trips, no bounded
wait, no child-death handling). In one interpreter the
agent's thread pays for all of agent-otlp's background Python work (the GIL), about
25-35 µs per span today. Here the agent's thread only copies the span's fields into a tuple
(``span_data.export()`` included) and every :data:`FRAME` spans one ``marshal.dumps``; a
writer thread writes the frames to a pipe (the GIL is released while it writes). A child
process (its own interpreter and GIL, the other core) reads the frames and runs the normal
pipeline: conversion, the adapter's mapping and limits, encoding, OTLP/HTTP.

    OffloadProcessor(sink_url, adapter)      # a TracingProcessor for the parent
    python bench/offload.py --child --endpoint URL --adapter otlp   # the child (internal)

Memory in the parent: frames waiting for the pipe are bounded (:data:`MAX_PENDING_BYTES`);
beyond that, spans are dropped and counted. The child reports its own peak RSS at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import marshal
import os
import resource
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

FRAME = 256
MAX_PENDING_BYTES = 8_000_000
_HEADER = struct.Struct("<I")
_SPAN, _TRACE_END = 0, 1


def _marshal_safe(entries: list[Any]) -> bytes:
    try:
        return marshal.dumps(entries)
    except ValueError:  # an object marshal cannot write: its JSON-able form instead
        return marshal.dumps(json.loads(json.dumps(entries, default=str)))


class OffloadProcessor:
    """An SDK ``TracingProcessor`` shipping spans to a child exporter process."""

    def __init__(self, endpoint: str, adapter: str = "otlp") -> None:
        self._child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", "--endpoint", endpoint,
             "--adapter", adapter],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert self._child.stdin is not None
        self._fd = self._child.stdin.fileno()
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._fd, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MB pipe buffer
        self._entries: list[Any] = []
        self._frames: deque[bytes] = deque()
        self._pending_bytes = 0
        self._starts: dict[str, int] = {}
        self.dropped = 0
        self._wake = threading.Event()
        self._closed = False
        self._writer = threading.Thread(target=self._write, name="offload-writer", daemon=True)
        self._writer.start()

    # --- agent thread ----------------------------------------------------------------------

    def on_trace_start(self, trace: Any) -> None:
        self._starts[trace.trace_id] = time.time_ns()

    def on_trace_end(self, trace: Any) -> None:
        start = self._starts.pop(trace.trace_id, None)
        self._add((_TRACE_END, trace.trace_id, trace.name, trace.group_id, trace.metadata,
                   start, time.time_ns()))

    def on_span_start(self, span: Any) -> None:
        return None

    def on_span_end(self, span: Any) -> None:
        self._add((_SPAN, span.span_id, span.trace_id, span.parent_id, span.started_at,
                   span.ended_at, span.span_data.export(), span.error))

    def _add(self, entry: tuple[Any, ...]) -> None:
        entries = self._entries
        entries.append(entry)
        if len(entries) >= FRAME:
            self._ship()

    def _ship(self) -> None:
        entries, self._entries = self._entries, []
        if not entries:
            return
        frame = _marshal_safe(entries)
        if self._pending_bytes + len(frame) > MAX_PENDING_BYTES:
            self.dropped += sum(1 for e in entries if e[0] == _SPAN)
            return
        self._pending_bytes += len(frame)
        self._frames.append(_HEADER.pack(len(frame)) + frame)
        if not self._wake.is_set():
            self._wake.set()

    # --- writer thread ---------------------------------------------------------------------

    def _write(self) -> None:
        while True:
            self._wake.wait(0.05)
            self._wake.clear()
            while self._frames:
                frame = self._frames.popleft()
                view = memoryview(frame)
                while view:
                    view = view[os.write(self._fd, view):]
                self._pending_bytes -= len(frame) - _HEADER.size
            if self._closed and not self._frames:
                return

    def force_flush(self) -> None:
        self._ship()

    def shutdown(self) -> dict[str, Any]:
        self._ship()
        self._closed = True
        self._wake.set()
        self._writer.join()
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.close()
        out = self._child.stdout.read()
        self._child.wait()
        result: dict[str, Any] = json.loads(out) if out.strip() else {}
        result["parent_dropped"] = self.dropped
        return result


# --- child -------------------------------------------------------------------------------------


def child(endpoint: str, adapter: str) -> None:
    import agent_otlp
    from agent_otlp.core.convert.records import AgentSpan, AgentTrace, parse_timestamp
    from agent_otlp.core.pipeline.intake import ITEM as _ITEM

    exporter = agent_otlp.create_exporter(adapter, endpoint=endpoint, env={})
    put = exporter._intake.put  # the intake, as the SDK processor's calls fill it
    read = sys.stdin.buffer.read
    while True:
        header = read(_HEADER.size)
        if len(header) < _HEADER.size:
            break
        entries = marshal.loads(read(_HEADER.unpack(header)[0]))
        for entry in entries:
            if entry[0] == _SPAN:
                _, span_id, trace_id, parent_id, started, ended, data, error = entry
                put(_ITEM, AgentSpan(
                    span_id, trace_id, parent_id or None,
                    parse_timestamp(started, "started_at", span_id),
                    parse_timestamp(ended, "ended_at", span_id),
                    data, dict(error) if error else None, None,
                ))
            else:
                _, trace_id, name, group_id, metadata, start, end = entry
                put(_ITEM, AgentTrace(trace_id, name or "Agent workflow", group_id or None,
                                      metadata or None, start, end))
                exporter.end_trace(trace_id)
    report = exporter.shutdown(60)
    print(json.dumps({
        "delivered": report.delivered,
        "pending": report.pending,
        "child_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "stats": json.loads(json.dumps(exporter.stats.snapshot(), default=str)),
    }), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--adapter", default="otlp")
    args = parser.parse_args(argv)
    child(args.endpoint, args.adapter)


if __name__ == "__main__":
    main()
