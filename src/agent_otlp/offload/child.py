"""Offload mode, the child process: ``python -c '...main(sys.argv[1:])' FD BUILD`` with the
frames on stdin and the reply pipe on ``FD`` (the wire: :mod:`agent_otlp.offload.frames`).

It builds its exporter with ``BUILD`` (``module:function``, the function the agent process
would fail over to: ``agent_otlp.factory:exporter_from_config``) and feeds the data entries
into it on its main thread (:func:`agent_otlp.offload.entries.feed`). The agent process never
imports this module, and this module does not import the factory: the agent process names
the function.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

from agent_otlp.core.config.secrets import Secret, redact_text, register_secret
from agent_otlp.core.pipeline.api import Exporter
from agent_otlp.offload.entries import feed
from agent_otlp.offload.frames import (
    FLUSH,
    SHUTDOWN,
    STATS,
    OffloadConfig,
    pack_frame,
    read_frame,
    resolve_name,
)

__all__ = ["child_main", "main"]

#: Seconds the child gives its exporter to deliver when the agent process is gone.
EXIT_TIMEOUT: Final = 10.0


def _register_secrets(value: Any) -> None:
    if isinstance(value, Secret):
        register_secret(value.reveal())
    elif isinstance(value, Mapping):
        for item in value.values():
            _register_secrets(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _register_secrets(item)


def main(argv: list[str]) -> None:
    """The child's command line: the reply pipe's descriptor and the build function's name."""
    reply_fd, build = int(argv[0]), resolve_name(argv[1])
    if not callable(build):
        raise SystemExit(f"agent-otlp: cannot import the exporter builder {argv[1]!r}")
    child_main(reply_fd, build)


def child_main(reply_fd: int, build: Callable[[OffloadConfig], Exporter]) -> None:
    """The child process: set up from the first frame, then serve frames until the end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the agent process decides when to stop
    source = sys.stdin.buffer
    replies = os.fdopen(reply_fd, "wb", buffering=0)

    def reply(ticket: int, payload: Any) -> None:
        replies.write(pack_frame(pickle.dumps((ticket, payload))))

    first = read_frame(source)
    if first is None:
        return
    config: OffloadConfig = pickle.loads(first)  # noqa: S301 - from the agent process
    _register_secrets(config.arguments)
    if config.nice > 0:
        with contextlib.suppress(OSError):
            os.nice(config.nice)
    try:
        exporter = build(config)
    except Exception as exc:
        reply(0, ("error", redact_text(f"{type(exc).__name__}: {exc}")))
        return
    reply(0, ("ready", os.getpid()))
    _serve(exporter, source, reply)


def _serve(exporter: Exporter, source: Any, reply: Any) -> None:
    """Frames into ``exporter`` until a shutdown request or the end of the pipe."""
    while True:
        frame = read_frame(source)
        if frame is None:  # the agent process is gone or closed the pipe: flush and stop
            exporter.shutdown(EXIT_TIMEOUT)
            return
        data: list[Any] = []
        for entry in marshal.loads(frame):  # noqa: S302 - from the agent process
            kind = entry[0]
            if kind < FLUSH:
                data.append(entry)
                continue
            feed(exporter, data)  # what came before a command is handled before it
            data = []
            if kind == FLUSH:
                reply(entry[1], exporter.force_flush(entry[2]))
            elif kind == STATS:
                reply(entry[1], (exporter.stats.snapshot(), exporter.pending(), _maxrss_kb()))
            elif kind == SHUTDOWN:
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
