"""The ingest bridge: an HTTP endpoint speaking the OpenAI traces ingest format.

Applications already export traces with the OpenAI Agents SDK's ``BackendSpanExporter`` (or
any exporter of the same format, in any language): ``POST /v1/traces/ingest`` with the body
``{"data": [item, ...]}``, where items are trace objects (``"object": "trace"``) and span
objects (``"object": "trace.span"``). Pointing that exporter at the bridge instead of
``api.openai.com`` delivers the traces over OTLP through an :class:`AgentExporter`, without a
change to the application's code. The ingest path may also be ``/traces/ingest`` and the
other forms of :mod:`agent_otlp.sources.bridge.routes`; with a server context
(:mod:`agent_otlp.sources.bridge.tls`) the bridge serves HTTPS only; with producer tokens
(:mod:`agent_otlp.sources.bridge.producers`) each application's items go out under its own
resource.

Answers:

* ``200 {"accepted": n}`` when every item is valid;
* ``400 {"accepted": n, "rejected": [{"index", "id", "field", "error"}, ...]}`` when some are
  not (the valid ones of the same request are kept and exported), or when the body is not
  JSON with a ``data`` list;
* ``401`` when a bearer token (or producer tokens) is configured and the request carries
  none of them;
* ``403`` for a ``Host`` that is not a name of the bridge, or a foreign ``Origin`` (see
  :mod:`agent_otlp.sources.bridge.access`);
* ``408`` when the request head and body did not arrive within ``request_timeout``;
* ``413`` when the body (compressed or not) is larger than ``max_body``, or holds more than
  ``max_items`` items;
* ``415`` when the body is not declared ``Content-Type: application/json``;
* ``429`` with ``Retry-After`` while the exporter is full (see :class:`Backpressure`);
* ``503`` with ``Retry-After`` when the span store cannot keep the items (disk full). With a
  store, ``200`` comes only once the request's items are committed to it;
* ``GET /healthz`` (``503 {"status": "degraded"}`` while the store cannot write) and
  ``GET /metrics`` (Prometheus text format) for operations.

The ingest requests themselves are handled by :mod:`agent_otlp.sources.bridge.ingest`.
The server is the standard library's threading HTTP server: one thread per connection. Past
``max_connections`` open connections, the oldest one not being answered is closed to make
room, and each request must arrive whole within ``request_timeout`` (see
:mod:`agent_otlp.sources.bridge.connections`). :meth:`BridgeServer.stop` stops
accepting, lets in-flight requests finish, then finalizes the open traces and flushes the
exporter.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

from agent_otlp.core.config.secrets import Secret, redact_text
from agent_otlp.sources.bridge.access import AccessPolicy, is_loopback
from agent_otlp.sources.bridge.backpressure import (
    DEFAULT_MAX_PENDING,
    Backpressure,
    BridgeExporter,
    QueueBackpressure,
    StoreBackedExporter,
    default_backpressure,
    pending_spans,
)
from agent_otlp.sources.bridge.body import RequestError
from agent_otlp.sources.bridge.connections import ConnectionTable, DeadlineReader, close_read
from agent_otlp.sources.bridge.ingest import Ingest, declared_length, discard
from agent_otlp.sources.bridge.metrics import render_metrics
from agent_otlp.sources.bridge.producers import ProducerEntry, Tokens
from agent_otlp.sources.bridge.routes import INGEST_PATHS, is_ingest, request_path

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_PORT",
    "INGEST_PATH",
    "TOKEN_ENV",
    "Backpressure",
    "BridgeExporter",
    "BridgeServer",
    "QueueBackpressure",
    "pending_spans",
]

logger = logging.getLogger("agent_otlp.bridge")

#: Path the OpenAI Agents SDK posts to (``.../v1/traces/ingest``).
INGEST_PATH: Final = "/v1/traces/ingest"
#: Default port: next to OTLP's 4317 (gRPC) and 4318 (HTTP).
DEFAULT_PORT: Final = 4319
#: Largest request body by default: the JavaScript Agents SDK posts its whole buffer (up to
#: 1,000 items, input and output cut at 100 KB each) in one request when it flushes; a
#: 40 MB body costs the bridge about 3 to 4 times its size while it is read
#: (docs/configuration.md).
DEFAULT_MAX_BODY: Final = 64 * 1024 * 1024
#: Most items one request may hold (the SDK's exporter sends batches of 128 at most).
DEFAULT_MAX_ITEMS: Final = 10_000
#: Environment variable holding the bearer token clients must send.
TOKEN_ENV: Final = "AGENT_OTLP_BRIDGE_TOKEN"  # noqa: S105 - a variable name


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # listen backlog: socketserver's default of 5 resets connections of concurrent clients
    # whenever the accept loop is a moment late
    request_queue_size = 1024

    def __init__(self, bridge: BridgeServer, address: tuple[str, int],
                 tls: ssl.SSLContext | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.bridge = bridge
        self.tls = tls
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        if self.tls is None:
            return conn, address
        # the handshake happens on the connection's own thread (see _Handler.setup), so a
        # slow or silent client never holds the accept loop
        try:
            return self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), address
        except (OSError, ValueError):
            conn.close()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("bridge: connection from %s ended with an error", client_address,
                     exc_info=True)


def _handshake(conn: ssl.SSLSocket, bridge: BridgeServer) -> None:
    """The TLS handshake of a connection counted among the open ones (a silent client is
    closed to make room like any other), within one deadline however slow its bytes."""
    try:
        conn.settimeout(min(bridge.read_timeout, bridge.request_timeout))
        conn.do_handshake()
    except BaseException:
        bridge._connection_closed(conn)
        raise


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def version_string(self) -> str:
        return "agent-otlp-bridge"

    def setup(self) -> None:
        super().setup()
        bridge = self.server.bridge
        self.connection.settimeout(bridge.read_timeout)
        # answers go out as head and body in two writes: without this, Nagle's algorithm holds
        # the body until the client's delayed ACK (~40 ms per request on keep-alive connections)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile.close()
        self.reader = DeadlineReader(self.connection, bridge.read_timeout, bridge.request_timeout)
        self.rfile = io.BufferedReader(self.reader)
        bridge._connection_opened(self.connection)
        if isinstance(self.connection, ssl.SSLSocket):
            _handshake(self.connection, bridge)

    def handle_one_request(self) -> None:
        self.reader.next_request()
        super().handle_one_request()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.bridge._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):  # every request's line: built only when shown
            logger.debug("bridge: %s %s", self.address_string(), redact_text(format % args))

    def do_GET(self) -> None:
        self.server.bridge._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.bridge._handle(self, "POST")

    def do_HEAD(self) -> None:
        self.server.bridge._handle(self, "HEAD")


class BridgeServer:
    """HTTP server accepting the OpenAI traces ingest format and feeding ``exporter``.

    :param exporter: where items go; shut down by :meth:`stop` when ``shutdown_exporter``.
    :param host: interface to listen on (loopback by default).
    :param port: TCP port; ``0`` picks a free one (see :attr:`url`).
    :param token: bearer token clients must send (``Authorization: Bearer <token>``);
        ``None`` or empty accepts every request.
    :param max_body: largest request body in bytes, compressed and decompressed.
    :param is_full: :class:`Backpressure` consulted before each ingest request; default:
        the exporter's ``is_full`` when it has a span store (its undelivered budget is used
        up), else :class:`QueueBackpressure` with ``max_pending``.
    :param retry_after: seconds advertised in ``Retry-After`` of 429 answers.
    :param read_timeout: seconds a socket read may wait (request headers, body, idle
        keep-alive connections).
    :param request_timeout: seconds from a request's first byte to the end of its body;
        answered 408 (or closed) when late.
    :param max_connections: open connections; past it the oldest one not being answered is
        closed, and requests beyond it that are all being answered get 503.
    :param max_items: most items in one request (more: 413).
    :param allowed_hosts: ``Host`` names clients may use besides IP addresses, loopback
        names and ``host``; ``"*"`` allows any. Their origins may also post.
    :param allow_unauthenticated: listen on a non-loopback ``host`` without a token
        (refused with :class:`ValueError` otherwise).
    :param tls: serve HTTPS with this server context (see
        :func:`agent_otlp.sources.bridge.tls.server_context`); plain HTTP when ``None``.
    :param producers: producer tokens (:func:`agent_otlp.sources.bridge.producers.load_tokens`):
        items posted with one are exported under its producer's resource, to its
        destinations; accepted beside ``token``.
    """

    def __init__(
        self,
        exporter: BridgeExporter,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        token: str | Secret | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_pending: int = DEFAULT_MAX_PENDING,
        is_full: Backpressure | None = None,
        retry_after: float = 1.0,
        read_timeout: float = 30.0,
        request_timeout: float = 30.0,
        max_connections: int = 256,
        max_items: int = DEFAULT_MAX_ITEMS,
        allowed_hosts: Iterable[str] = (),
        allow_unauthenticated: bool = False,
        shutdown_exporter: bool = True,
        tls: ssl.SSLContext | None = None,
        producers: Mapping[Secret, ProducerEntry] | None = None,
    ) -> None:
        if max_body <= 0:
            raise ValueError(f"max_body must be positive, not {max_body!r}")
        if max_items <= 0:
            raise ValueError(f"max_items must be positive, not {max_items!r}")
        if producers and not isinstance(exporter, StoreBackedExporter):
            raise ValueError("producer tokens need an exporter that takes producers (AgentExporter)")
        if not token and not producers and not allow_unauthenticated and not is_loopback(host):
            raise ValueError(f"host={host!r} is not a loopback address and no token is set: "
                             "set a token, or allow_unauthenticated=True")
        self.exporter = exporter
        self.host = host
        self._port = port
        self.retry_after = retry_after
        self.read_timeout = read_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.access = AccessPolicy(host, allowed_hosts)
        self.shutdown_exporter = shutdown_exporter
        self.tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self._connections = ConnectionTable(max_connections)
        self._in_flight = 0
        self._stopping = False
        self._stopped = False
        self.requests: Counter[int] = Counter()
        self.ingest = Ingest(
            exporter, tokens=Tokens(Secret(token) if isinstance(token, str) else token, producers),
            max_body=max_body, max_items=max_items, lock=self._lock,
            is_full=is_full or default_backpressure(exporter, max_pending),
        )
        self.max_body, self.max_items = max_body, max_items
        self.is_full: Backpressure = self.ingest.is_full
        self.items: Counter[str] = self.ingest.items

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:4319`` (``https://`` with TLS); the SDK posts
        to ``url + INGEST_PATH``."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        host = "::1" if host == "::" else host
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://[{host}]:{self._port}" if ":" in host else f"{scheme}://{host}:{self._port}"

    @property
    def ingest_url(self) -> str:
        return self.url + INGEST_PATH

    @property
    def address(self) -> str:
        """``host:port`` the bridge is bound to, as given (``0.0.0.0:4319``: all interfaces)."""
        host = self.host or "0.0.0.0"  # noqa: S104 - what "" means to bind()
        return f"[{host}]:{self._port}" if ":" in host else f"{host}:{self._port}"

    def start(self) -> BridgeServer:
        """Listen and serve from a background thread."""
        if self._server is not None:
            return self
        server = _Server(self, (self.host, self._port), self.tls)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name="agent-otlp-bridge", daemon=True,
        )
        self._thread.start()
        logger.info("agent-otlp bridge listening on %s", self.ingest_url)
        return self

    def stop(self, timeout: float = 30.0) -> Any:
        """Stop accepting, finish in-flight requests, then finalize and flush the exporter.

        Returns the exporter's shutdown report (``None`` when it is not shut down here).
        Idempotent.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._stopped:
                return None
            self._stopped = True
            self._stopping = True
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.socket.close()
            self._drain_connections(deadline)
            server.server_close()
        if self._thread is not None:
            self._thread.join(max(deadline - time.monotonic(), 0.1))
            self._thread = None
        if not self.shutdown_exporter:
            return None
        self.exporter.end_all_traces()
        return self.exporter.shutdown(max(deadline - time.monotonic(), 0.1))

    def _drain_connections(self, deadline: float) -> None:
        with self._lock:
            while self._in_flight and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(deadline - time.monotonic(), 0.0)))
            idle = self._connections.waiting()
        for conn in idle:  # kept-alive connections waiting for a next request
            close_read(conn)

    def __enter__(self) -> BridgeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._lock:
            victim = self._connections.opened(conn)
        if victim is not None:  # too many open: the oldest one not being answered goes
            close_read(victim)

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.closed(conn)

    # --- requests ------------------------------------------------------------------------

    def _handle(self, h: _Handler, method: str) -> None:
        with self._lock:
            self._in_flight += 1
            crowded = self._connections.busy(h.connection) > self.max_connections
        try:
            status, body, headers = self._route(h, method, crowded)
            if self._stopping:  # one answer per connection from now on
                h.close_connection = True
            self._respond(h, status, body, headers, head=method == "HEAD")
        finally:
            with self._lock:
                self._in_flight -= 1
                self._connections.done(h.connection)
                self._lock.notify_all()

    def _route(self, h: _Handler, method: str, crowded: bool) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        try:
            self._admit(h, method)
            path = request_path(h.path)
            if is_ingest(path):
                if method != "POST":
                    raise RequestError(405, f"use POST for {INGEST_PATH}")
                if crowded:
                    discard(h, declared_length(h), self.max_body)
                    raise RequestError(503, "too many connections", close=True)
                status, payload = self.ingest.handle(h)
            elif path == "/healthz" and method != "POST":
                status, payload = self._health()
            elif path == "/metrics" and method != "POST":
                headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
                return 200, self.metrics().encode("utf-8"), headers
            else:
                raise RequestError(404, f"no such endpoint {path[:200]!r}; post to "
                                        f"{' or '.join(INGEST_PATHS)}")
        except RequestError as exc:
            if exc.close:
                h.close_connection = True
            status, payload = exc.status, {"error": exc.message}
            if status in (429, 503):
                headers["Retry-After"] = str(max(math.ceil(self.retry_after), 1))
        except Exception as exc:  # never end the connection thread with a traceback
            logger.exception("agent-otlp bridge: error handling %s request", method)
            h.close_connection = True
            status, payload = 500, {"error": f"internal error: {type(exc).__name__}"}
        # a client's text in an error (an item id) may hold a lone surrogate: JSON escapes it
        return status, json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace"), headers

    def _admit(self, h: _Handler, method: str) -> None:
        """Refuse a foreign ``Host`` or ``Origin`` (403), reading away a posted body."""
        try:
            self.access.check(h.headers)
        except RequestError:
            if method == "POST":
                try:
                    discard(h, declared_length(h), self.max_body)
                except RequestError:
                    h.close_connection = True
            raise

    def _respond(self, h: _Handler, status: int, body: bytes, headers: Mapping[str, str],
                 *, head: bool = False) -> None:
        with self._lock:
            self.requests[status] += 1
        try:
            h.connection.settimeout(self.read_timeout)  # reads may have left less
            h.send_response(status)
            for name, value in headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(body)))
            if h.close_connection:
                h.send_header("Connection", "close")
            h.end_headers()
            if not head:
                h.wfile.write(body)
        except OSError:
            h.close_connection = True

    def _health(self) -> tuple[int, dict[str, Any]]:
        """``ok``; ``stopping``; or ``degraded`` (503) while the span store cannot write or
        a delivery process is not running."""
        if self._stopping:
            return 200, {"status": "stopping"}
        durable = self.ingest.durable
        problem = durable.store_problem() if durable is not None else None
        if problem:
            return 503, {"status": "degraded", "store": f"cannot write: {problem}"}
        delivery = durable.delivery_problem() if durable is not None else None
        if delivery:
            return 503, {"status": "degraded", "delivery": delivery}
        return 200, {"status": "ok"}

    # --- metrics -------------------------------------------------------------------------

    def metrics(self) -> str:
        """Prometheus text exposition of the bridge's and the exporter's counters."""
        with self._lock:
            requests = dict(self.requests)
            items = dict(self.items)
        return render_metrics(requests, items, pending_spans(self.exporter), self.exporter.stats.snapshot())

