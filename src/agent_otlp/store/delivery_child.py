"""The delivery process: the destinations of a store-backed exporter, run from their cursors
in a process of their own (see :mod:`agent_otlp.store.delivery_process` for the writer's side).

It opens the same span store (WAL: it reads while the writer commits) and never writes to it:
every cursor move goes to the writer process over the report pipe, which writes it with its
next commit, so the store keeps one writer. The writer wakes it after each commit with the
last committed seq; without a wake it looks at the store every :data:`POLL` seconds.

Lines from the writer (stdin, after the pickled :class:`DeliveryConfig`): ``w SEQ`` (items
are committed up to ``SEQ``), ``f TICKET INDEX`` (flush destination ``INDEX``), ``q`` (stop).
End of input (the writer is gone) stops it too. Lines to the writer: JSON objects, see
:func:`main`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

from agent_otlp.core.pipeline.destination import FlushResult
from agent_otlp.store.sqlite import SpanStore

__all__ = ["POLL", "STATS_EVERY", "ChildStore", "DeliveryConfig", "Reporter", "main"]

#: Seconds between two looks at the store when no wake came.
POLL: Final = 0.2
#: Seconds between two reports of the destinations' counters.
STATS_EVERY: Final = 0.25
#: Seconds the destinations get to finish the request they are sending when stopping.
CLOSE_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """What the delivery process builds its destinations from: the writer's own arguments
    and a snapshot of its environment, and the store's file."""

    store_path: str
    adapters: str | list[str] | None = None
    config_file: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


class Reporter:
    """JSON lines to the writer process, one writer thread at a time."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self.broken = False

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            if self.broken:
                return
            try:
                self._out.write(line)
                self._out.flush()
            except (OSError, ValueError):  # the writer is gone: stop quietly
                self.broken = True


class ChildStore(SpanStore):
    """The span store as the delivery process sees it: read like any handle, its cursor
    moves reported to the writer process instead of written."""

    reporter: Reporter

    def advance(self, destination: str, seq: int, *, delivered: int = 0, failed: int = 0) -> None:
        self.reporter.send({"m": [destination, seq, delivered, failed]})


def _stats(destinations: list[Any]) -> dict[str, Any]:
    return {destination.name: destination.stats.snapshot() for destination in destinations}


def _read_exact(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the writer process closed the pipe")
        data += chunk
    return data


def _flush(reporter: Reporter, destinations: list[Any], ticket: int, index: int) -> None:
    destination = destinations[index]
    result = destination.flush(30.0)
    reporter.send({"f": [ticket, index, result.delivered, result.pending]})


def _commands(stdin: int, stop: threading.Event) -> Any:
    """Batches of command lines from the writer, ``[]`` when :data:`POLL` passed without
    one; ends with the input (the writer is gone) or ``q``."""
    pending = b""
    while not stop.is_set():
        ready, _, _ = select.select([stdin], [], [], POLL)
        if not ready:
            yield []
            continue
        chunk = os.read(stdin, 65536)
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield lines


def _obey(lines: list[bytes], destinations: list[Any], store: SpanStore, reporter: Reporter,
          stop: threading.Event) -> int | None:
    """Carry out the writer's command lines; returns the last committed seq they name."""
    latest = None
    for line in lines:
        if not line.strip():
            continue
        word, *rest = line.split()
        if word == b"w":
            latest = max(latest or 0, int(rest[0]))
        elif word == b"f":
            for destination in destinations:  # everything committed before the flush
                destination.notify_stored(store.last_seq())
            threading.Thread(target=_flush, args=(reporter, destinations, int(rest[0]), int(rest[1])),
                             name="agent-otlp-delivery-flush", daemon=True).start()
        elif word == b"q":
            stop.set()
    return latest


def _serve(config: DeliveryConfig, build: Callable[..., Any], stdin: int, reporter: Reporter) -> None:
    store = ChildStore(config.store_path)
    store.reporter = reporter
    destinations: list[Any] = build(config, store)
    reporter.send({"ready": os.getpid()})
    stop = threading.Event()

    def report_stats() -> None:
        while not stop.wait(STATS_EVERY):
            reporter.send({"s": _stats(destinations)})

    threading.Thread(target=report_stats, name="agent-otlp-delivery-stats", daemon=True).start()
    try:
        for lines in _commands(stdin, stop):
            latest = _obey(lines, destinations, store, reporter, stop)
            if not lines and not stop.is_set():
                latest = store.last_seq()  # no wake: look at the store
            if latest is not None:
                for destination in destinations:
                    destination.notify_stored(latest)
    finally:
        # asked to stop (the writer flushed already) or the writer is gone: no new request
        stop.set()
        closed = {}
        for destination in destinations:
            done = FlushResult(destination.name, True, 0)
            closed[destination.name] = destination.close(done, CLOSE_TIMEOUT).pending
        reporter.send({"s": _stats(destinations)})
        reporter.send({"c": closed})
        with contextlib.suppress(Exception):
            store.close()


def main(argv: list[str]) -> None:
    """Run the delivery process: ``argv`` is the report pipe's descriptor and the
    ``module:function`` building the destinations from a :class:`DeliveryConfig` and a
    :class:`ChildStore`."""
    # Ctrl-C, or a SIGTERM sent to the whole process group (a service manager), stops the
    # writer, which stops us once it has flushed: not before
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = os.fdopen(int(argv[0]), "wb", buffering=0)
    reporter = Reporter(out)
    module, _, name = argv[1].partition(":")
    stdin = sys.stdin.fileno()  # read unbuffered: the config, then command lines
    try:
        (size,) = struct.unpack(">Q", _read_exact(stdin, 8))
        config: DeliveryConfig = pickle.loads(_read_exact(stdin, size))  # noqa: S301 - from our parent
        build = getattr(importlib.import_module(module), name)
    except Exception as exc:
        reporter.send({"error": f"cannot read the delivery configuration: {exc}"})
        return
    try:
        _serve(config, build, stdin, reporter)
    except Exception as exc:
        reporter.send({"error": f"{type(exc).__name__}: {exc}"})
        raise
