"""Moving encoded OTLP requests: the one piece of the exporter that does I/O.

:class:`Transport` has two methods; :class:`HttpTransport` (OTLP/HTTP protobuf) and
:class:`~agent_otlp.core.wire.grpc_transport.GrpcTransport` (OTLP/gRPC) implement it, and
:class:`HandlerTransport` lets tests and adapter authors answer requests with a plain function
instead of patching sockets.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from agent_otlp.core.config.headers import check_headers
from agent_otlp.core.config.secrets import Secret, redact_text
from agent_otlp.core.config.tls import TLSOptions
from agent_otlp.core.wire.http11 import Answer, Http11Connection, request_head

__all__ = [
    "HandlerTransport",
    "HttpTransport",
    "SendResult",
    "TLSOptions",
    "Transport",
    "http_answer",
    "parse_retry_after",
]

#: gzip level for request bodies: level 1 keeps most of the size gain of level 6 for a
#: fraction of its CPU (``docs/performance.md``).
GZIP_LEVEL: Final = 1
logger = logging.getLogger("agent_otlp.transport")

RETRYABLE_HTTP: Final = frozenset({408, 429, 502, 503, 504})
#: Media types of an OTLP/HTTP answer: the request's (protobuf) or OTLP/JSON.
OTLP_MEDIA_TYPES: Final = ("application/x-protobuf", "application/json")
#: :attr:`SendResult.status` of a 2xx answer that is not an OTLP answer (never retried).
NOT_OTLP: Final = "not-otlp"
_OTLP_PORT_HINT: Final = "is it an OTLP/HTTP receiver? OTLP/HTTP is usually port 4318, path /v1/traces"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to one request.

    :param ok: the receiver accepted the request (possibly with some spans rejected).
    :param retryable: a later retry of the same request may succeed.
    :param retry_after: seconds the receiver asked us to wait, if it said.
    :param status: HTTP status or gRPC code name, or a short network error name.
    :param message: detail for logs, with secrets removed.
    :param rejected_spans: spans the receiver refused in a partial success.
    """

    ok: bool
    retryable: bool = False
    retry_after: float | None = None
    status: str = ""
    message: str = ""
    rejected_spans: int = 0


class Transport(ABC):
    """Sends one serialized ``ExportTraceServiceRequest``; never raises."""

    #: ``send`` may be called from several threads at once (a destination then keeps up to
    #: ``max_in_flight`` requests in flight); a transport that does not say so gets one.
    thread_safe: ClassVar[bool] = False

    @abstractmethod
    def send(self, body: bytes, timeout: float) -> SendResult:
        """Deliver ``body`` (uncompressed protobuf) within ``timeout`` seconds."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; ``send`` is not called afterwards."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, seconds) if seconds == seconds else None


def _gzip(body: bytes) -> bytes:
    """gzip-framed ``body`` in one zlib call (``gzip.compress`` adds a separate CRC pass)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


class HttpTransport(Transport):
    """OTLP/HTTP with protobuf bodies: plain ``http://`` over kept-alive :mod:`http.client`
    connections, ``https://`` (and anything behind a proxy or netrc credentials) through a
    pooled :mod:`requests` session. Thread-safe: concurrent sends use one connection each.

    The environment (proxy variables, ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, ``~/.netrc``)
    is read once, when the transport is made, not on every request.
    """

    thread_safe = True

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str | Secret],
        *,
        compression: str = "gzip",
        tls: TLSOptions | None = None,
    ) -> None:
        check_headers(headers, "HttpTransport headers")
        self.url = url
        self._compression = compression
        self._headers = {"Content-Type": "application/x-protobuf"}
        for name, value in headers.items():
            self._headers[name] = value.reveal() if isinstance(value, Secret) else value
        if compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        tls = tls or TLSOptions()
        self._verify: bool | str = tls.ca_file or tls.verify
        if self._verify is False and url.lower().startswith("https:"):
            logger.warning(
                "agent-otlp: TLS certificate verification is OFF for %s (tls_verify=false): "
                "anyone on the path can read and alter the traces", url,
            )
        self._cert: tuple[str, str] | None = (
            (tls.client_cert_file, tls.client_key_file)
            if tls.client_cert_file and tls.client_key_file
            else None
        )
        self._idle: list[_PlainHttp] = []  # kept-alive connections not in use
        self._idle_lock = threading.Lock()
        self._closed = False
        self._plain = url.lower().startswith("http:") and _plain_environment(url)
        if not self._plain:
            self._open_session()

    def _open_session(self) -> None:
        import requests  # only for https, a proxy or netrc credentials

        url = self.url
        self._requests = requests
        self._session = requests.Session()
        self._proxies: dict[str, str] = {}
        try:
            merged = self._session.merge_environment_settings(url, {}, None, self._verify, self._cert)
            self._proxies = dict(merged.get("proxies") or {})
            if url.lower().startswith("https:"):  # a CA path costs a stat() per request
                self._verify = merged.get("verify") or self._verify
            netrc = requests.utils.get_netrc_auth(url)
            if netrc:
                self._session.auth = netrc
        except Exception as exc:  # unreadable netrc or odd proxy variables: plain settings
            logging.getLogger("agent_otlp.export").debug("agent-otlp: environment ignored: %r", exc)
        self._session.trust_env = False

    def send(self, body: bytes, timeout: float) -> SendResult:
        data = _gzip(body) if self._compression == "gzip" else body
        if self._plain:
            with self._idle_lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = _PlainHttp(self.url, self._headers)
            try:
                return conn.post(data, timeout)
            finally:
                with self._idle_lock:
                    if self._closed:
                        conn.close()
                    else:
                        self._idle.append(conn)
        requests = self._requests
        try:
            response = self._session.post(
                self.url,
                data=data,
                headers=self._headers,
                timeout=timeout,
                verify=self._verify,
                cert=self._cert,
                proxies=self._proxies,
            )
        except requests.exceptions.SSLError as exc:
            return SendResult(False, False, None, "tls-error", redact_text(str(exc)))
        except requests.exceptions.Timeout as exc:
            return SendResult(False, True, None, "timeout", redact_text(str(exc)))
        except requests.exceptions.RequestException as exc:
            return SendResult(False, True, None, "connection-error", redact_text(str(exc)))
        except Exception as exc:  # a request the library refused to build: never raised
            return _request_error(exc)
        return http_answer(response.status_code, response.content,
                           response.headers.get("Retry-After"), response.headers.get("Content-Type"))

    def close(self) -> None:
        if not self._plain:
            self._session.close()
        with self._idle_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _plain_environment(url: str) -> bool:
    """No proxy variable applies to ``url`` and no netrc entry names its host: the
    environment :mod:`requests` would read adds nothing, so :mod:`http.client` will do."""
    import netrc
    import os
    import urllib.request

    host = urlsplit(url).hostname or ""
    try:
        proxies = urllib.request.getproxies()
        if (proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(host):
            return False
        path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
        if os.path.exists(path) and netrc.netrc(path).authenticators(host) is not None:
            return False
    except Exception:  # an unreadable netrc or odd variables: let requests decide
        return False
    return True


def _request_error(exc: Exception) -> SendResult:
    """A request that could not even be built (a value the HTTP library refuses): a failure,
    not retried, whose text names the error with every known secret masked."""
    return SendResult(False, False, None, "request-error",
                      redact_text(f"{type(exc).__name__}: {exc}"))


def http_answer(
    status: int, content: bytes, retry_after: str | None, content_type: str | None
) -> SendResult:
    """What an OTLP/HTTP answer means: its status, body and ``Retry-After`` and
    ``Content-Type`` headers (for any HTTP client, the ``otel-sdk`` transport's too)."""
    if 200 <= status < 300:
        return _success_answer(status, content, content_type or "")
    detail = redact_text(content[:300].decode("utf-8", "replace")) if content else ""
    return SendResult(False, status in RETRYABLE_HTTP, parse_retry_after(retry_after), str(status),
                      detail)


def _success_answer(status: int, content: bytes, content_type: str) -> SendResult:
    """A 2xx answer is a success when it is an OTLP answer: an ``ExportTraceServiceResponse``
    as protobuf or OTLP/JSON (its partial success read), or no body at all without a foreign
    Content-Type (Grafana Cloud answers 204 with neither). Anything else, such as the HTML
    of a UI port that answers every path with 200, is a failure that says so."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not content and media in ("", *OTLP_MEDIA_TYPES):  # the usual answer: nothing to decode
        return SendResult(True, status=str(status))
    if media not in OTLP_MEDIA_TYPES:
        return _not_otlp(status, f"Content-Type {media or '(none)'}", _foreign_hint(media))
    from agent_otlp.core.wire.messages import decode_export_response  # protobuf: only when needed

    try:
        rejected, message = decode_export_response(content, media == "application/json")
    except ValueError as exc:
        return _not_otlp(status, f"{media}, {exc}", _OTLP_PORT_HINT)
    return SendResult(True, status=str(status), rejected_spans=rejected,
                      message=redact_text(message))


def _foreign_hint(media: str) -> str:
    if media in ("text/html", "application/xhtml+xml"):
        return "that port answers HTML: is it the query/UI port? OTLP/HTTP is usually 4318"
    return _OTLP_PORT_HINT


def _not_otlp(status: int, what: str, hint: str) -> SendResult:
    return SendResult(False, False, None, NOT_OTLP,
                      f"the {status} answer is not OTLP ({what}): {hint}")


class _PlainHttp:
    """Plain ``http://`` POSTs over one kept-alive connection (:mod:`.http11`).

    Used by :class:`HttpTransport` when no proxy and no netrc credentials apply: a request
    through ``requests`` costs about 1 ms of Python (sessions, adapters, header merging),
    this path a fraction of it (``docs/performance.md``). A request that fails on a
    connection that had already been used (the server closed it while idle) is sent once
    more on a fresh connection before it counts as failed.
    """

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 80
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = dict(headers)
        self._head: bytes | None = None
        self._conn: Http11Connection | None = None
        self._used = False

    def post(self, data: bytes, timeout: float) -> SendResult:
        for attempt in (0, 1):
            reused = self._conn is not None and self._used
            try:
                answer = self._exchange(data, timeout)
            except TimeoutError as exc:
                self.close()
                return SendResult(False, True, None, "timeout", redact_text(f"read timed out: {exc}"))
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                stale = isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError,
                                         BrokenPipeError))
                if attempt == 0 and reused and stale:
                    continue
                text = redact_text(f"{type(exc).__name__}: {exc}")
                return SendResult(False, True, None, "connection-error", text)
            except Exception as exc:  # a request that cannot be written (a bad header): never raised
                self.close()
                return _request_error(exc)
            return http_answer(answer.status, answer.body, answer.retry_after, answer.content_type)
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, data: bytes, timeout: float) -> Answer:
        if self._head is None:
            self._head = request_head("POST", self._host, self._port, self._path, self._headers)
        conn = self._conn
        if conn is None:
            conn = self._conn = Http11Connection(self._host, self._port)
        self._used = True
        answer = conn.exchange(self._head, data, timeout)
        if answer.will_close:
            self.close()
        return answer

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class HandlerTransport(Transport):
    """A transport that hands every request to ``handler``; for tests and adapter authors.

    ``handler`` gets the decoded ``ExportTraceServiceRequest`` and returns a
    :class:`SendResult` (or ``None`` for success).
    """

    def __init__(self, handler: Callable[[Any], SendResult | None]) -> None:
        self._handler = handler
        self.closed = False

    def send(self, body: bytes, timeout: float) -> SendResult:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        try:
            result = self._handler(ExportTraceServiceRequest.FromString(body))
        except Exception as exc:
            return SendResult(False, False, None, "handler-error", redact_text(repr(exc)))
        return result if result is not None else SendResult(True, status="200")

    def close(self) -> None:
        self.closed = True
