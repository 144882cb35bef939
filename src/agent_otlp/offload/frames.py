"""The wire between the agent process and an export child, shared by both sides.

The agent process writes length-prefixed (:data:`HEADER`) frames to the child's stdin: the
first is the pickled :class:`OffloadConfig`, every later one a ``marshal`` dump of a list of
entry tuples whose first element is a :class:`Kind`. The child answers control entries
(flush, stats, shutdown) on a second pipe with pickled ``(ticket, payload)`` frames, ticket
0 being its start-up answer (``("ready", pid)`` or ``("error", text)``).

Entries (every kind below :attr:`Kind.FLUSH` is data, fed to the child's exporter in order):

=================  =====================================================================
``SPAN``           ``(SPAN, span_id, trace_id, parent_id, started_at, ended_at, data, error)``:
                   a plain SDK span (:func:`agent_otlp.core.convert.sdk.sdk_span_fields`)
``SPAN_ITEM``      ``(SPAN_ITEM, item)``: any other SDK span, in the export format
``TRACE_START``    ``(TRACE_START, exported_trace, unix_ns)``; ``TRACE_END`` likewise
``ITEM``           ``(ITEM, item)``: an item of the export format (``submit_items``)
``END_TRACE``      ``(END_TRACE, trace_id)``; ``END_ALL``: ``(END_ALL,)``
``IDLE``/``GRACE`` ``(IDLE, seconds)``: ``set_trace_idle_timeout``/``set_trace_end_grace``
``FLUSH``          ``(FLUSH, ticket, timeout)``; ``SHUTDOWN`` likewise; ``STATS``: ``(STATS, ticket)``
=================  =====================================================================

Entries carry plain ``int`` kinds (the ``int`` constants below): ``marshal`` writes no
``IntEnum``.
"""

from __future__ import annotations

import importlib
import json
import marshal
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import IO, Any, Final

__all__ = [
    "CHILD_NICE", "HEADER", "Kind", "OffloadConfig", "dump_entries", "importable_name",
    "load_entries", "pack_frame", "read_frame", "resolve_name",
]

HEADER: Final = struct.Struct("<I")


class Kind(IntEnum):
    """The first element of an entry."""

    SPAN = 0
    SPAN_ITEM = 1
    TRACE_START = 2
    TRACE_END = 3
    ITEM = 4
    END_TRACE = 5
    END_ALL = 6
    IDLE = 7
    GRACE = 8
    FLUSH = 10
    STATS = 11
    SHUTDOWN = 12


# The kinds as plain ints, for the tuples written (and the hot path's comparisons).
SPAN: Final = int(Kind.SPAN)
SPAN_ITEM: Final = int(Kind.SPAN_ITEM)
TRACE_START: Final = int(Kind.TRACE_START)
TRACE_END: Final = int(Kind.TRACE_END)
ITEM: Final = int(Kind.ITEM)
END_TRACE: Final = int(Kind.END_TRACE)
END_ALL: Final = int(Kind.END_ALL)
IDLE: Final = int(Kind.IDLE)
GRACE: Final = int(Kind.GRACE)
FLUSH: Final = int(Kind.FLUSH)
STATS: Final = int(Kind.STATS)
SHUTDOWN: Final = int(Kind.SHUTDOWN)

#: The child's CPU priority below the agent's (``nice`` +10: about a tenth of a core's time
#: when both want it). Export has queues to absorb a short wait; the agent's latency has not.
CHILD_NICE: Final = 10


@dataclass(frozen=True)
class OffloadConfig:
    """What the child needs to build the same exporter (pickled over the pipe): the
    arguments of ``create_exporter`` and a snapshot of the environment."""

    adapters: str | list[str] | None
    config_file: str | None
    store: bool | str | None
    trace_idle_timeout: float | None
    arguments: dict[str, Any]
    env: dict[str, str]
    #: Added to the child's nice value: the agent's threads win a contended core.
    nice: int = CHILD_NICE


def pack_frame(body: bytes) -> bytes:
    """``body`` with its length header."""
    return HEADER.pack(len(body)) + body


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's body, or ``None`` at the end of the stream (or a cut frame)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    size = HEADER.unpack(header)[0]
    body = stream.read(size)
    return body if len(body) == size else None


def dump_entries(entries: list[Any]) -> bytes:
    """A frame body: ``marshal``, or for an object marshal cannot write, the JSON form."""
    try:
        return marshal.dumps(entries)
    except ValueError:
        return marshal.dumps(json.loads(json.dumps(entries, default=str)))


def load_entries(frame: bytes) -> list[Any]:
    """The entries of a frame written by :func:`pack_frame` (header included)."""
    entries: list[Any] = marshal.loads(memoryview(frame)[HEADER.size:])  # noqa: S302 - our own
    return entries


def importable_name(function: Callable[..., Any]) -> str:
    """``module:qualname`` of a module-level function, checked to resolve to it: how the
    agent process tells the child which function builds its exporter (raises
    :class:`ValueError` for a lambda, a closure or a method)."""
    name = f"{function.__module__}:{function.__qualname__}"
    if resolve_name(name) is not function:
        raise ValueError(f"{name} is not importable by that name")
    return name


def resolve_name(name: str) -> Any:
    """The object ``module:qualname`` names (:func:`importable_name`)."""
    module, _, attribute = name.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError):
        return None
