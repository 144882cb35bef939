"""Transport plumbing of the test receiver: the HTTP server and status-code mappings."""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]

from ._model import Reply

# HTTP status -> gRPC status name, following the OTLP/gRPC <-> HTTP conventions.
HTTP_TO_GRPC = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
GRPC_TO_HTTP = {
    "OK": 200,
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "DEADLINE_EXCEEDED": 504,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
}


def grpc_code_for(reply: Reply) -> Any:
    if reply.grpc_code is not None:
        return reply.grpc_code
    if 200 <= reply.status < 300:
        return grpc.StatusCode.OK
    name = HTTP_TO_GRPC.get(reply.status, "INTERNAL" if reply.status >= 500 else "UNKNOWN")
    return grpc.StatusCode[name]


def retry_after_seconds(value: float | str) -> float:
    if isinstance(value, int | float):
        return max(float(value), 0.0)
    try:
        return max(float(value), 0.0)
    except ValueError:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)


def decompress(body: bytes, encoding: str | None) -> bytes:
    if encoding in (None, "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate stream
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot decompress {encoding} body: {exc}") from exc
    raise ValueError(f"unsupported content-encoding {encoding!r}")


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        addr: tuple[str, int],
        on_request: Callable[[HTTPHandler], None],
        ctx: ssl.SSLContext | None,
    ) -> None:
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.on_request = on_request
        self.ssl_context = ctx
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, HTTPHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn: socket.socket = request
        if self.ssl_context is not None:
            # Handshake here (in the connection's own thread), not in accept().
            conn.settimeout(10)
            try:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
            except OSError:
                conn.close()
                return
            conn.settimeout(None)
        with self._conns_lock:
            self._conns.add(conn)
        try:
            super().finish_request(conn, client_address)
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            if conn is not request:
                conn.close()

    def drop_connections(self) -> None:
        """Close kept-alive client connections so a stopped receiver is really gone."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken client connections are expected in fault tests


class HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        self.server.on_request(self)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _dispatch

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""
