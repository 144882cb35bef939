"""``POST /v1/traces/ingest``: the bearer token, the limits, the body, the hand-over to the
exporter, and the answer (``200 {"accepted": n}``, or ``400`` listing the rejected items).

Refusals are :class:`~agent_otlp.sources.bridge.body.RequestError`; an unwanted body is read
away first (:func:`discard`) so the answer reaches the client.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Collection, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.convert.producer import Producer
from agent_otlp.sources.bridge.access import check_content_type
from agent_otlp.sources.bridge.backpressure import (
    Backpressure,
    BridgeExporter,
    StoreBackedExporter,
    store_backed,
)
from agent_otlp.sources.bridge.body import RequestError, body_too_large, decode_body, read_body
from agent_otlp.sources.bridge.fleet import time_trace_objects
from agent_otlp.sources.bridge.producers import Tokens
from agent_otlp.sources.bridge.raaf import stale_trace_objects

__all__ = ["MAX_LISTED_REJECTIONS", "Ingest", "declared_length", "discard"]

#: At most this many rejected items are listed in one response (all are counted).
MAX_LISTED_REJECTIONS: Final = 1000
_SUBMIT_CHUNK: Final = 512
_DRAIN_SECONDS: Final = 2.0


class Ingest:
    """Handles ingest requests for one bridge; counts accepted and rejected items in
    :attr:`items` (under ``lock``)."""

    def __init__(self, exporter: BridgeExporter, *, tokens: Tokens, max_body: int,
                 max_items: int, is_full: Backpressure, lock: threading.Condition) -> None:
        self.exporter = exporter
        self.durable = store_backed(exporter)
        self._tokens = tokens
        self.max_body = max_body
        self.max_items = max_items
        self.is_full = is_full
        self._lock = lock
        self.items: Counter[str] = Counter()
        #: fleet mode (:mod:`.fleet`): trace objects get their times from their request
        self.fleet = False

    def handle(self, h: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = declared_length(h)
        producer = self._check(h, length)
        encoding = h.headers.get("Content-Encoding", "identity")
        body = decode_body(encoding, _read_body(h, length, self.max_body), self.max_body)
        items, unreadable, raw = read_body(body, self.max_items, texts=self.durable is not None)
        if self.fleet:
            time_trace_objects(items, raw, time.time_ns())
        del body
        listed, rejected_count = self._submit(items, unreadable, raw, producer,
                                              ignored=stale_trace_objects(items))
        accepted = len(items) - rejected_count
        with self._lock:
            self.items["accepted"] += accepted
            self.items["rejected"] += rejected_count
        if not rejected_count:
            return 200, {"accepted": accepted}
        return 400, {"accepted": accepted, "rejected_count": rejected_count, "rejected": listed}

    def _check(self, h: BaseHTTPRequestHandler, length: int | None) -> Producer | None:
        """Refuse (reading the body away) a wrong token, a wrong content type, a body over
        ``max_body``, or any request while the exporter is full; else whose items they are
        (``None``: the bridge's own)."""
        identity = self._tokens.identify(h.headers)
        if not identity.allowed:
            discard(h, length, self.max_body)
            raise RequestError(401, "missing or wrong bearer token")
        try:
            check_content_type(h.headers)
        except RequestError:
            discard(h, length, self.max_body)
            raise
        if length is not None and length > self.max_body:
            discard(h, length, self.max_body)
            raise body_too_large(f"body of {length} bytes", self.max_body, close=True)
        if self.is_full():
            discard(h, length, self.max_body)
            raise RequestError(429, "exporter queue is full, retry later")
        return identity.producer

    def _hand_over(self, items: list[Any], raw: list[bytes | None],
                   producer: Producer | None = None) -> list[InputError]:
        """Give items to the exporter; with a span store, return once they are committed
        (each valid one stored as ``raw``, the text the client sent, where given).
        When the store cannot keep them, the request is refused with 503 and Retry-After:
        nothing answered 200 is ever lost, and the client sends them again."""
        if self.durable is None:
            if producer is not None:  # checked by the server: an exporter that takes producers
                assert isinstance(self.exporter, StoreBackedExporter)
                return self.exporter.submit_items_durable(items, producer=producer).errors
            return self.exporter.submit_items(items)
        outcome = self.durable.submit_items_durable(items, raw=raw, producer=producer)
        if outcome.problem is not None:
            raise RequestError(503, f"span store cannot keep the items ({outcome.problem}); retry later")
        return outcome.errors

    def _submit(self, items: list[Any], unreadable: Mapping[int, str],
                raw: list[bytes | None], producer: Producer | None = None,
                ignored: Collection[int] = ()) -> tuple[list[dict[str, Any]], int]:
        """Hand the readable items, but the ``ignored`` (accepted, not kept: RAAF's stale trace
        objects, :mod:`.raaf`), to the exporter a chunk at a time; the first
        :data:`MAX_LISTED_REJECTIONS` refusals described, in item order, and the count of all."""
        listed: list[dict[str, Any]] = []
        count = 0
        for first in range(0, len(items), _SUBMIT_CHUNK):
            indexes = [i for i in range(first, min(first + _SUBMIT_CHUNK, len(items)))
                       if i not in unreadable and i not in ignored]
            errors = self._hand_over([items[i] for i in indexes], [raw[i] for i in indexes], producer)
            for error in errors:
                error.index = indexes[error.index]  # type: ignore[attr-defined]
            for index in range(first, min(first + _SUBMIT_CHUNK, len(items))):
                if index in unreadable:
                    error = InputError("item", "...", unreadable[index])
                    error.index = index  # type: ignore[attr-defined]
                    errors.append(error)
            count += len(errors)
            room = MAX_LISTED_REJECTIONS - len(listed)
            if room > 0:
                errors.sort(key=lambda e: e.index)  # type: ignore[attr-defined]
                listed.extend(_describe(e) for e in errors[:room])
        return listed, count


def declared_length(h: BaseHTTPRequestHandler) -> int | None:
    """The body's ``Content-Length``; ``None`` when chunked."""
    if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
        return None
    raw = h.headers.get("Content-Length")
    if raw is None:
        raise RequestError(411, "Content-Length or chunked Transfer-Encoding required",
                           close=True)
    try:
        length = int(raw)
    except ValueError:
        raise RequestError(400, f"invalid Content-Length {raw[:40]!r}", close=True) from None
    if length < 0:
        raise RequestError(400, f"invalid Content-Length {length}", close=True)
    return length


def discard(h: BaseHTTPRequestHandler, length: int | None, max_body: int) -> None:
    """Read an unwanted body so the answer reaches the client (closing a socket with
    unread data resets it) -- within limits, else close the connection after answering."""
    if length is None or length > 4 * max_body:
        h.close_connection = True
        return
    deadline = time.monotonic() + _DRAIN_SECONDS
    try:
        while length > 0 and time.monotonic() < deadline:
            data = h.rfile.read(min(length, 65536))
            if not data:
                break
            length -= len(data)
    except OSError:
        pass
    if length > 0:
        h.close_connection = True


def _read_body(h: BaseHTTPRequestHandler, length: int | None, max_body: int) -> bytes:
    try:
        if length is not None:
            body = h.rfile.read(length)
            if len(body) < length:
                raise RequestError(400, "incomplete request body", close=True)
            return body
        return _read_chunked(h, max_body)
    except TimeoutError:
        raise RequestError(408, "timed out reading the request body", close=True) from None


def _read_chunked(h: BaseHTTPRequestHandler, max_body: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        line = h.rfile.readline(1024)
        try:
            chunk = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise RequestError(400, "malformed chunked body", close=True) from None
        if chunk == 0:
            while h.rfile.readline(1024).strip():  # trailers
                pass
            return b"".join(parts)
        size += chunk
        if size > max_body:
            raise body_too_large("chunked body", max_body, close=True)
        data = h.rfile.read(chunk)
        if len(data) < chunk:
            raise RequestError(400, "incomplete request body", close=True)
        parts.append(data)
        h.rfile.readline(16)


def _describe(error: InputError) -> dict[str, Any]:
    return {
        "index": getattr(error, "index", None),
        "id": error.item_id,
        "field": error.field,
        "error": redact_text(error.reason),
    }
