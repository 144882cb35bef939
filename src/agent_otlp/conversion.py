"""Conversion in a process of its own, for historical export from a source plugin: the
exporting process reads the source (rows fetched, items made) while a second process turns
earlier pages into requests (items parsed and converted, the adapter's hooks, encoding), so
the export uses two cores instead of one GIL. The exporting process still sends the
requests, in order, and saves positions only for what the destination acknowledged.

* :class:`ConversionProcess` starts the process (the same Python, :mod:`subprocess`, never
  forked; its side is :mod:`agent_otlp.conversion_child`) and hands it pages; each
  :meth:`~ConversionProcess.submit` gives a :class:`Converting`, answered in order.
* :func:`converted_ahead` keeps a few pages submitted ahead of the one being sent; memory
  stays bounded (``depth`` pages waiting in the process, the requests in flight).
* :func:`start_conversion` starts one for an :class:`~agent_otlp.historical.ExportTarget`
  whose adapter hooks the process can load the same way (a default adapter manager and
  the same environment); ``None`` (logged) when it cannot: the export converts in-process.

When the process ends during an export (killed, out of memory), the pages it held raise
:class:`ConversionLost`, the export stops resumably, and running it again resumes after the
last acknowledged page. An error converting a page in the process raises
:class:`ConversionFailed` with its reason (secrets masked).
"""

from __future__ import annotations

import contextlib
import json
import logging
import marshal
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import IO, Any, Final, TypeVar

from agent_otlp.conversion_child import CONVERTED, READY, ConversionSpec
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import AttrValue
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.offload.frames import pack_frame, read_frame
from agent_otlp.offload.process import child_env, widen_pipe

__all__ = [
    "ConversionError", "ConversionFailed", "ConversionLost", "ConversionProcess", "Converted",
    "Converting", "converted_ahead", "start_conversion",
]

logger = logging.getLogger("agent_otlp.historical")

_CHILD_CODE: Final = "from agent_otlp.conversion_child import main; main()"
#: Seconds the process has to load the adapter and answer before the export goes without it.
START_TIMEOUT: Final = 30.0
#: Pages submitted ahead of the one being sent.
DEPTH: Final = 4

T = TypeVar("T")


class ConversionError(Exception):
    """The conversion process could not convert a page (the reason, secrets masked)."""


class ConversionLost(ConversionError):
    """The conversion process ended before it answered."""


class ConversionFailed(ConversionError):
    """Converting a page raised in the conversion process."""


@dataclass(frozen=True, slots=True)
class Converted:
    """A page as a request: its bytes (``None`` when no span is left), the spans in it, the
    spans the hooks dropped, the hooks' errors and the unreadable items' problems."""

    body: bytes | None
    spans: int
    dropped: int
    errors: list[str]
    unreadable: list[str]


class Converting:
    """A page handed to the conversion process; ``len()`` is its number of items."""

    __slots__ = ("_future", "_items")

    def __init__(self, items: int, future: Future[Converted]) -> None:
        self._items = items
        self._future = future

    def __len__(self) -> int:
        return self._items

    def result(self) -> Converted:
        """Wait for the page's request; raises :class:`ConversionError`."""
        return self._future.result()


class ConversionProcess:
    """One started conversion process that answered ready. Raises :class:`ConversionError`
    when it cannot start or load the destination's adapter."""

    def __init__(self, spec: ConversionSpec, timeout: float = START_TIMEOUT) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=child_env(), close_fds=True,
        )
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self._in: IO[bytes] = self.popen.stdin
        self._out: IO[bytes] = self.popen.stdout
        for pipe in (self._in, self._out):  # a request is ~50 kB: room for several
            widen_pipe(pipe.fileno())
        self._lock = threading.Lock()
        self._waiting: deque[Future[Converted]] = deque()
        self._ended: str | None = None
        self._closing = False
        try:
            self._handshake(spec, timeout)
        except BaseException:
            self._closing = True
            self._stop()
            raise
        self._reader = threading.Thread(target=self._read_loop, name="agent-otlp-conversion",
                                        daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _handshake(self, spec: ConversionSpec, timeout: float) -> None:
        answer: list[Any] = []
        with contextlib.suppress(OSError):  # a process that died answers nothing
            self._write(pickle.dumps(spec))
        reader = threading.Thread(target=lambda: answer.append(read_frame(self._out)), daemon=True)
        reader.start()
        reader.join(timeout)
        frame = answer[0] if answer else None
        reply = marshal.loads(frame) if frame else None  # noqa: S302 - from our process
        if reply and reply[0] == READY:
            return
        if reply:
            raise ConversionFailed(f"the conversion process could not start: {redact_text(str(reply[1]))}")
        raise ConversionLost(f"the conversion process did not start ({self._exit()})")

    def submit(self, items: list[Any]) -> Converting:
        """Hand a page of items to the process (in order); its answer comes in the order of
        the calls. Called from one thread."""
        future: Future[Converted] = Future()
        data = _dumped(items)
        with self._lock:
            ended = self._ended
            if ended is None:
                self._waiting.append(future)
        if ended is not None:
            future.set_exception(ConversionLost(ended))
            return Converting(len(items), future)
        with contextlib.suppress(OSError):  # the process died: the reader fails the page
            self._write(data)
        return Converting(len(items), future)

    def _write(self, body: bytes) -> None:
        self._in.write(pack_frame(body))
        self._in.flush()

    def _read_loop(self) -> None:
        while True:
            try:
                frame = read_frame(self._out)
                reply = None if frame is None else marshal.loads(frame)  # noqa: S302
            except Exception:  # a broken answer counts as the end of the process
                reply = None
            if reply is None:
                break
            with self._lock:
                future = self._waiting.popleft() if self._waiting else None
            if future is None:
                continue
            if reply[0] == CONVERTED:
                future.set_result(Converted(*reply[1:]))
            else:
                future.set_exception(ConversionFailed(redact_text(str(reply[1]))))
        self._end()

    def _end(self) -> None:
        """No more answers: fail the pages still waiting."""
        reason = "the conversion process was closed" if self._closing else \
            f"the conversion process ended ({self._exit()})"
        if not self._closing:
            logger.warning("agent-otlp export: %s", reason)
        with self._lock:
            self._ended = reason
            waiting, self._waiting = self._waiting, deque()
        for future in waiting:
            future.set_exception(ConversionLost(reason))

    def _exit(self) -> str:
        try:
            code = self.popen.wait(1.0)
        except subprocess.TimeoutExpired:
            return "no answer"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def close(self) -> None:
        """End the process (it ends with its stdin; killed after 2 s) and the reader."""
        self._closing = True
        self._stop()
        self._reader.join(2.0)

    def _stop(self) -> None:
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self.popen.wait(2.0)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(2.0)
        if not hasattr(self, "_reader"):
            self._out.close()


def _dumped(items: list[Any]) -> bytes:
    """A page for the process: pickled, or for an object pickle cannot write, its JSON form."""
    try:
        return pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return pickle.dumps(json.loads(json.dumps(items, default=str)), protocol=pickle.HIGHEST_PROTOCOL)


def start_conversion(settings: Settings, options: ConvertOptions, resource: Mapping[str, AttrValue],
                     env: Mapping[str, str] | None) -> ConversionProcess | None:
    """A conversion process for the destination, or ``None`` (logged) when its hooks cannot
    be loaded there the same way (``env`` ``None``) or it does not start."""
    if env is None:
        return None
    started = time.monotonic()
    try:
        process = ConversionProcess(ConversionSpec(
            settings, options.capture_content, options.legacy_attributes, dict(resource), dict(env)))
    except Exception as exc:  # whatever stops it, the export goes on in this process
        reason = str(exc) if isinstance(exc, ConversionError) else f"{type(exc).__name__}: {exc}"
        logger.warning("agent-otlp export: converting in this process: %s", redact_text(reason))
        return None
    logger.debug("agent-otlp export: conversion process %d ready in %.2fs", process.pid,
                 time.monotonic() - started)
    return process


def converted_ahead(process: ConversionProcess, pages: Iterator[tuple[int, list[Any], T]],
                    depth: int = DEPTH) -> Iterator[tuple[int, Converting, T]]:
    """``pages`` (position, items, extra) with their items handed to ``process``, ``depth``
    pages ahead of the one yielded."""
    window: deque[tuple[int, Converting, T]] = deque()
    for position, items, extra in pages:
        window.append((position, process.submit(items), extra))
        if len(window) > depth:
            yield window.popleft()
    while window:
        yield window.popleft()

