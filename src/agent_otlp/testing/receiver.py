"""A real, in-process OTLP trace receiver (HTTP or gRPC) for tests.

Example::

    with OTLPReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.traces_url)
        ...
        assert receiver.wait_for_spans(3, timeout=5)
        assert receiver.by_name("llm.call")[0].attributes["model"] == "gpt"
"""

from __future__ import annotations

import collections
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import grpc  # type: ignore[import-untyped, unused-ignore]
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from google.rpc import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    error_details_pb2,
    status_pb2,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ._model import (
    ReceivedEvent,
    ReceivedLink,
    ReceivedRequest,
    ReceivedSpan,
    Reply,
    TLSConfig,
    decode_any_value,
    decode_spans,
    parse_json_request,
)
from ._transport import (
    GRPC_TO_HTTP,
    HTTPHandler,
    HTTPServer,
    decompress,
    grpc_code_for,
    retry_after_seconds,
)

__all__ = [
    "GRPC_EXPORT_PATH",
    "HTTP_TRACES_PATH",
    "OTLPReceiver",
    "ReceivedEvent",
    "ReceivedLink",
    "ReceivedRequest",
    "ReceivedSpan",
    "Reply",
    "TLSConfig",
    "decode_any_value",
]

HTTP_TRACES_PATH = "/v1/traces"
GRPC_EXPORT_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
Handler = Callable[[ReceivedRequest], Reply | None]


class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc, unused-ignore]
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
        return self._receiver._handle_grpc(request, context)


class OTLPReceiver:
    """Records OTLP trace exports sent to it; answers can be scripted for fault tests."""

    def __init__(
        self,
        protocol: Literal["http", "grpc"] = "http",
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TLSConfig | None = None,
    ) -> None:
        if protocol not in ("http", "grpc"):
            raise ValueError(f"protocol must be 'http' or 'grpc', not {protocol!r}")
        self._protocol: Literal["http", "grpc"] = protocol
        self.host = host
        self._port = port
        self.tls = tls
        self._cond = threading.Condition(threading.RLock())
        self._requests: list[ReceivedRequest] = []
        self._script: collections.deque[Reply] = collections.deque()
        self._handler: Handler | None = None
        self._stopping = threading.Event()
        self._http: HTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self.handler_errors: list[BaseException] = []

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def protocol(self) -> Literal["http", "grpc"]:
        return self._protocol

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._http is not None or self._grpc is not None

    @property
    def endpoint(self) -> str:
        """Base URL (``http(s)://host:port``), without the ``/v1/traces`` path."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self._port}"

    @property
    def traces_url(self) -> str:
        """Full OTLP/HTTP traces URL (``endpoint`` + ``/v1/traces``)."""
        return self.endpoint + HTTP_TRACES_PATH

    def start(self) -> OTLPReceiver:
        if self.running:
            return self
        self._stopping = threading.Event()
        if self._protocol == "http":
            self._start_http()
        else:
            self._start_grpc()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        self._stopping.set()
        if self._http is not None:
            server, self._http = self._http, None
            server.shutdown()
            server.server_close()
            server.drop_connections()
            if self._http_thread is not None:
                self._http_thread.join(5)
                self._http_thread = None
        if self._grpc is not None:
            server, self._grpc = self._grpc, None
            server.stop(None).wait(5)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        with self._cond:
            self._cond.notify_all()

    def restart(self) -> OTLPReceiver:
        """Stop, then serve again on the same port (for outage tests)."""
        self.stop()
        return self.start()

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_http(self) -> None:
        ctx: ssl.SSLContext | None = None
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls.certfile, self.tls.keyfile)
            if self.tls.client_ca:
                ctx.load_verify_locations(self.tls.client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
        server = HTTPServer((self.host, self._port), self._handle_http, ctx)
        self._port = int(server.server_address[1])
        self._http = server
        self._http_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"otlp-receiver-http-{self._port}",
            daemon=True,
        )
        self._http_thread.start()

    def _start_grpc(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-receiver-grpc")
        server = grpc.server(self._executor, options=[("grpc.so_reuseport", 0)])
        add_servicer = trace_service_pb2_grpc.add_TraceServiceServicer_to_server
        add_servicer(_Servicer(self), server)  # type: ignore[no-untyped-call, unused-ignore]
        address = f"{self.host}:{self._port}"
        if self.tls is None:
            port = server.add_insecure_port(address)
        else:
            with open(self.tls.certfile, "rb") as f:
                cert = f.read()
            with open(self.tls.keyfile, "rb") as f:
                key = f.read()
            client_ca = None
            if self.tls.client_ca:
                with open(self.tls.client_ca, "rb") as f:
                    client_ca = f.read()
            creds = grpc.ssl_server_credentials(
                [(key, cert)],
                root_certificates=client_ca,
                require_client_auth=client_ca is not None,
            )
            port = server.add_secure_port(address, creds)
        if not port:
            raise OSError(f"cannot bind gRPC receiver to {address}")
        self._port = int(port)
        server.start()
        self._grpc = server

    # -- scripting ---------------------------------------------------------------------------

    def respond_with(self, *responses: Reply) -> None:
        """Queue replies, consumed one per trace export request, then back to normal."""
        with self._cond:
            self._script.extend(responses)

    def set_handler(self, fn: Handler | None) -> None:
        """Decide replies with ``fn(request)``; ``None`` from it means the default reply."""
        with self._cond:
            self._handler = fn

    def _next_reply(self, req: ReceivedRequest) -> Reply:
        with self._cond:
            if self._script:
                return self._script.popleft()
            handler = self._handler
        if handler is not None:
            try:
                chosen = handler(req)
            except Exception as exc:
                self.handler_errors.append(exc)
                return Reply(status=500, message=f"handler failed: {exc!r}")
            if chosen is not None:
                return chosen
        return Reply()

    # -- recording ---------------------------------------------------------------------------

    def _record(self, req: ReceivedRequest) -> None:
        with self._cond:
            self._requests.append(req)
            self._cond.notify_all()

    def _complete(self, req: ReceivedRequest, reply: Reply, status: int) -> None:
        with self._cond:
            req.reply = reply
            req.replied_status = status
            self._cond.notify_all()

    def _wait_delay(self, reply: Reply) -> None:
        if reply.delay > 0:
            self._stopping.wait(reply.delay)

    def _handle_http(self, h: HTTPHandler) -> None:
        body = h.read_body()
        headers = {k.lower(): v for k, v in h.headers.items()}
        path = urlsplit(h.path).path
        encoding = headers.get("content-encoding", "").strip().lower() or None
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        req = ReceivedRequest(
            protocol="http",
            path=path,
            headers=headers,
            compression=encoding,
            body_size=len(body),
            message=ExportTraceServiceRequest(),
            content_type=content_type,
        )
        self._record(req)
        is_json = content_type == "application/json"
        if path != HTTP_TRACES_PATH or h.command != "POST":
            reply = Reply(status=404 if path != HTTP_TRACES_PATH else 405, message="not found")
        elif content_type not in ("application/x-protobuf", "application/json", ""):
            reply = Reply(status=415, message=f"unsupported content-type {content_type!r}")
        else:
            try:
                raw = decompress(body, encoding)
                if is_json:
                    req.message = parse_json_request(raw)
                else:
                    req.message.ParseFromString(raw)
            except Exception as exc:  # malformed payloads of any kind are answered with 400
                req.decode_error = str(exc) or type(exc).__name__
                reply = Reply(status=400, message=req.decode_error)
            else:
                reply = self._next_reply(req)
        self._wait_delay(reply)
        payload = self._http_payload(reply, is_json)
        self._complete(req, reply, reply.status)
        try:
            h.send_response(reply.status)
            h.send_header(
                "Content-Type", "application/json" if is_json else "application/x-protobuf"
            )
            h.send_header("Content-Length", str(len(payload)))
            if reply.retry_after is not None:
                h.send_header("Retry-After", str(reply.retry_after))
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    @staticmethod
    def _http_payload(reply: Reply, is_json: bool) -> bytes:
        msg: Any
        if 200 <= reply.status < 300:
            msg = ExportTraceServiceResponse()
            if reply.partial_rejected or reply.message:
                msg.partial_success.rejected_spans = reply.partial_rejected
                msg.partial_success.error_message = reply.message
        else:
            msg = status_pb2.Status(code=grpc_code_for(reply).value[0], message=reply.message)
        if is_json:
            return bytes(json_format.MessageToJson(msg).encode("utf-8"))
        return bytes(msg.SerializeToString())

    def _handle_grpc(self, request: ExportTraceServiceRequest, context: Any) -> Any:
        headers: dict[str, str] = {}
        for key, value in context.invocation_metadata():
            headers[key.lower()] = value.hex() if isinstance(value, bytes) else str(value)
        compression = headers.get("grpc-encoding")
        req = ReceivedRequest(
            protocol="grpc",
            path=GRPC_EXPORT_PATH,
            headers=headers,
            compression=None if compression in (None, "identity") else compression,
            body_size=request.ByteSize(),
            message=request,
            content_type="application/grpc",
        )
        self._record(req)
        reply = self._next_reply(req)
        self._wait_delay(reply)
        code = grpc_code_for(reply)
        req.grpc_code = code.name
        status = reply.status if reply.grpc_code is None else GRPC_TO_HTTP.get(code.name, 500)
        self._complete(req, reply, status)
        if code.name == "OK":
            response = ExportTraceServiceResponse()
            if reply.partial_rejected or reply.message:
                response.partial_success.rejected_spans = reply.partial_rejected
                response.partial_success.error_message = reply.message
            return response
        if reply.retry_after is not None:
            seconds = retry_after_seconds(reply.retry_after)
            info = error_details_pb2.RetryInfo()
            info.retry_delay.seconds = int(seconds)
            info.retry_delay.nanos = round((seconds - int(seconds)) * 1e9)
            details = status_pb2.Status(code=code.value[0], message=reply.message)
            details.details.add().Pack(info)
            context.set_trailing_metadata(
                (
                    ("google.rpc.retryinfo-bin", info.SerializeToString()),
                    ("grpc-status-details-bin", details.SerializeToString()),
                )
            )
        context.abort(code, reply.message)

    # -- views -------------------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request received so far (including rejected ones)."""
        with self._cond:
            return list(self._requests)

    def clear(self) -> None:
        """Forget recorded requests (queued replies and the handler stay in place)."""
        with self._cond:
            self._requests.clear()

    def spans(self) -> list[ReceivedSpan]:
        """Spans of accepted requests only, in arrival order."""
        out: list[ReceivedSpan] = []
        for req in self.requests:
            if req.accepted:
                out.extend(decode_spans(req.message))
        return out

    def _accepted_span_count(self) -> int:
        return sum(r.span_count for r in self._requests if r.accepted)

    def span_count(self) -> int:
        with self._cond:
            return self._accepted_span_count()

    def wait_for_spans(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` spans were accepted; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._accepted_span_count() >= n, timeout)

    def wait_for_requests(self, n: int, timeout: float = 5.0, *, replied: bool = True) -> bool:
        """Block until ``n`` requests arrived (and, by default, were answered)."""

        def ready() -> bool:
            done = [r for r in self._requests if r.replied_status is not None or not replied]
            return len(done) >= n

        with self._cond:
            return self._cond.wait_for(ready, timeout)

    def by_name(self, name: str) -> list[ReceivedSpan]:
        return [s for s in self.spans() if s.name == name]

    def tree(self, trace_id: str) -> dict[str, list[ReceivedSpan]]:
        """Children of each parent span id ('' holds the roots) in one trace, by start time."""
        out: dict[str, list[ReceivedSpan]] = {}
        for s in sorted(self.spans(), key=lambda s: (s.start_ns, s.span_id)):
            if s.trace_id == trace_id.lower():
                out.setdefault(s.parent_span_id, []).append(s)
        return out

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<OTLPReceiver {self._protocol} {self.endpoint} {state}>"
