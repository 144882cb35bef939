"""What an in-process OTLP receiver exchanges with its clients: the requests recorded, the
replies scripted for fault tests, and the views tests read (:class:`Exchanges`); and how one
OTLP/HTTP or OTLP/gRPC export is answered (:func:`answer_http`, :func:`answer_grpc`)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from google.rpc import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    error_details_pb2,
    status_pb2,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ._model import ReceivedRequest, ReceivedSpan, Reply, decode_spans, parse_json_request
from ._transport import GRPC_TO_HTTP, HTTPHandler, decompress, grpc_code_for, retry_after_seconds

__all__ = ["GRPC_EXPORT_PATH", "HTTP_TRACES_PATH", "Exchanges", "Handler", "answer_grpc", "answer_http"]

HTTP_TRACES_PATH = "/v1/traces"
GRPC_EXPORT_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
Handler = Callable[[ReceivedRequest], Reply | None]


class Exchanges:
    """Requests received and the replies to give, shared by the receiver's server threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._requests: list[ReceivedRequest] = []
        self._script: collections.deque[Reply] = collections.deque()
        self._handler: Handler | None = None
        self._stopping = threading.Event()
        self.handler_errors: list[BaseException] = []

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


def answer_http(self: Exchanges, h: HTTPHandler) -> None:
    """Answer one OTLP/HTTP request to ``self``."""
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
    payload = _http_payload(reply, is_json)
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

def answer_grpc(self: Exchanges, request: ExportTraceServiceRequest, context: Any) -> Any:
    """Answer one OTLP/gRPC ``Export`` call to ``self``."""
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
