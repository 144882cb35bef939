"""One kept-alive HTTP/1.1 connection that POSTs a body and reads the answer: the exchange
OTLP/HTTP needs over plain ``http://``, and no more.

:mod:`http.client` costs about 100 µs of CPU per exchange (its request building, the
``email`` package parsing the answer's headers, the file object it reads through); this
connection writes the request in one ``send`` and parses the answer's head with byte
operations, about 30 µs (docs/performance.md). It reads what a server may answer:
``Content-Length`` or chunked bodies, a body ended by the connection's close, interim 1xx
answers, folded header lines. Errors are those of :mod:`http.client` (``RemoteDisconnected``
when the server closed a kept-alive connection before answering, ``IncompleteRead``,
``BadStatusLine``, ``LineTooLong``) and :class:`OSError`, ``TimeoutError`` included: the
caller handles both families as it did for :mod:`http.client`.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Mapping
from typing import Final, NamedTuple

__all__ = ["MAX_BODY", "MAX_HEAD", "Answer", "Http11Connection"]

#: Bytes an answer's status line and headers may take.
MAX_HEAD: Final = 64 * 1024
#: Bytes of an answer's body kept; the connection is closed after a longer one (an OTLP
#: answer is a few bytes; a longer body is a page from something else, judged by its start).
MAX_BODY: Final = 4 * 1024 * 1024
_CHUNK: Final = 65536
#: A request body up to this size is sent in the same ``send`` as the head.
_JOIN_BELOW: Final = 1024 * 1024
_NO_BODY: Final = frozenset({204, 304})
#: What a request target may not hold (as :mod:`http.client` refuses it).
_BAD_TARGET: Final = re.compile("[\x00-\x20\x7f]")


class Answer(NamedTuple):
    """An HTTP answer: its status, body (at most :data:`MAX_BODY` bytes), the headers the
    exporter reads, and whether the connection is over."""

    status: int
    body: bytes
    retry_after: str | None
    content_type: str | None
    will_close: bool


def _check(text: str, what: str) -> str:
    if any(c in text for c in "\r\n\0"):
        raise ValueError(f"invalid HTTP {what}: it contains a line break or NUL")
    return text


def request_head(method: str, host: str, port: int, path: str, headers: Mapping[str, str]) -> bytes:
    """The request line and headers (without ``Content-Length``) as :mod:`http.client` would
    send them: ``Host`` (with the port when it is not 80) and ``Accept-Encoding: identity``
    first. Raises :class:`ValueError` for a name or value with a line break."""
    shown = f"[{host}]" if ":" in host else host
    if _BAD_TARGET.search(path):
        raise ValueError("invalid URL path: it contains a space or a control character")
    lines = [f"{method} {path} HTTP/1.1",
             f"Host: {shown}" if port == 80 else f"Host: {shown}:{port}"]
    given = {name.lower() for name in headers}
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: identity")
    for name, value in headers.items():
        lines.append(f"{_check(name, 'header name')}: {_check(value, 'header value')}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


class _Reader:
    """Bytes of one connection, read in chunks, handed out by line, by length or to the end."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def _more(self) -> bool:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:  # a server trickling its answer does not hold the exchange longer
            raise TimeoutError("the answer was not complete within the timeout")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(_CHUNK)
        self.buffer += chunk
        return bool(chunk)

    def head(self) -> bytes | None:
        """Everything up to an empty line (excluded); ``None`` when the connection ended
        before anything was read."""
        if not self.buffer and not self._more():
            return None
        while len(self.buffer) < 5 and self._more():
            pass
        if not self.buffer.startswith(b"HTTP/"):  # not HTTP/1: a gRPC port's HTTP/2 frames, say
            raise http.client.BadStatusLine(repr(self.buffer[:100]))
        return self._until(b"\r\n\r\n", "answer head")

    def line(self) -> bytes:
        return self._until(b"\r\n", "chunk size line")

    def _until(self, mark: bytes, what: str) -> bytes:
        while True:
            end = self.buffer.find(mark)
            if end >= 0:
                found, self.buffer = self.buffer[:end], self.buffer[end + len(mark):]
                return found
            if len(self.buffer) > MAX_HEAD:
                raise http.client.LineTooLong(what)
            if not self._more():
                raise http.client.IncompleteRead(self.buffer)

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._more():
                raise http.client.IncompleteRead(self.buffer, size - len(self.buffer))
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def to_end(self, limit: int) -> tuple[bytes, bool]:
        """The rest until the connection ends, at most ``limit`` bytes; and whether it ended."""
        while len(self.buffer) <= limit:
            if not self._more():
                data, self.buffer = self.buffer, b""
                return data, True
        return self.buffer[:limit], False


class _Head(NamedTuple):
    version: bytes
    status: int
    headers: dict[bytes, bytes]


def _parse_head(head: bytes) -> _Head:
    lines = head.split(b"\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise http.client.BadStatusLine(repr(lines[0][:100]))
    headers: dict[bytes, bytes] = {}
    last = b""
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and last:  # an obsolete folded line continues the last
            headers[last] += b" " + line.strip()
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            continue  # not a header line: ignored, as http.client does
        last = name.strip().lower()
        value = value.strip()
        headers[last] = headers[last] + b", " + value if last in headers else value
    return _Head(parts[0], int(parts[1]), headers)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


class Http11Connection:
    """POSTs to one ``host:port``, keeping the connection between exchanges unless the server
    ends it. Not thread-safe: one exchange at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.sock: socket.socket | None = None

    def exchange(self, head: bytes, body: bytes, timeout: float) -> Answer:
        """Send ``head`` (from :func:`request_head`) with ``body``; the answer. Connecting
        and sending each wait at most ``timeout`` seconds, and the answer must be whole
        within ``timeout`` of the request sent (``TimeoutError``)."""
        sock = self.sock
        if sock is None:
            sock = self.sock = socket.create_connection((self.host, self.port), timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            sock.settimeout(timeout)
        length = b"Content-Length: %d\r\n\r\n" % len(body)
        if len(body) < _JOIN_BELOW:
            sock.sendall(head + length + body)
        else:
            sock.sendall(head + length)
            sock.sendall(body)
        return self._answer(_Reader(sock, time.monotonic() + timeout))

    def _answer(self, reader: _Reader) -> Answer:
        while True:
            raw = reader.head()
            if raw is None:
                raise http.client.RemoteDisconnected("Remote end closed connection without response")
            head = _parse_head(raw)
            if head.status >= 200 or head.status == 101:
                break  # 1xx but 101 are interim: the real answer follows
        headers = head.headers
        connection = headers.get(b"connection", b"").lower()
        will_close = b"close" in connection or (head.version == b"HTTP/1.0" and b"keep-alive" not in connection)
        if head.status in _NO_BODY or 100 <= head.status < 200:
            body = b""
        elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body, complete = _chunked(reader)
            will_close = will_close or not complete
        elif b"content-length" in headers:
            size = _length(headers[b"content-length"])
            body = reader.exactly(min(size, MAX_BODY))
            will_close = will_close or size > MAX_BODY
        else:
            body, _ = reader.to_end(MAX_BODY)
            will_close = True
        if reader.buffer:  # more than one answer to one request: the connection is not reusable
            will_close = True
        return Answer(head.status, body, _text(headers.get(b"retry-after")),
                      _text(headers.get(b"content-type")), will_close)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()


def _length(value: bytes) -> int:
    first = value.split(b",")[0].strip()  # repeated identical values are allowed
    if not first.isdigit():
        raise http.client.HTTPException(f"invalid Content-Length {value[:40]!r}")
    return int(first)


def _chunked(reader: _Reader) -> tuple[bytes, bool]:
    """A chunked body, at most :data:`MAX_BODY` bytes of it; and whether it was read whole."""
    parts: list[bytes] = []
    kept = 0
    while True:
        size_text = reader.line().split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise http.client.HTTPException(f"invalid chunk size {size_text[:40]!r}") from None
        if size == 0:
            while reader.line():  # trailer lines, up to the empty one
                pass
            return b"".join(parts), True
        if kept + size > MAX_BODY:
            return b"".join(parts), False
        parts.append(reader.exactly(size))
        kept += size
        if reader.exactly(2) != b"\r\n":
            raise http.client.HTTPException("chunk not followed by CRLF")
