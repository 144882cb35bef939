"""OTLP/HTTP protobuf and OTLP/gRPC sink for the benchmark, run as its own process.

Every ``POST`` body is decompressed (``Content-Encoding: gzip``/``deflate``) and parsed as an
``ExportTraceServiceRequest`` with ``opentelemetry-proto``; the sink counts requests, spans
and unique ``(trace_id, span_id)`` pairs, and remembers when (``time.monotonic()``, which on
Linux is one clock for every process) the first and the last span arrived.

With ``--grpc-port``, a gRPC server on that port takes ``TraceService/Export`` calls too (gRPC
decompresses and parses each request) and counts them into the same counters; ``bytes`` is
then the decoded request's size, not the compressed size on the wire.

``GET /stats`` on the HTTP port returns the counters as JSON, ``POST /reset`` clears them.
``--delay`` makes every export (HTTP and gRPC) answer after that many seconds (the
slow-backend run).

Usage: ``python bench/sink.py --port 0 [--grpc-port 0] [--delay 0.2]``; the first line
printed on stdout is ``{"port": N}``, or ``{"port": N, "grpc_port": M}`` with ``--grpc-port``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_RESPONSE = ExportTraceServiceResponse().SerializeToString()


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.spans = 0
        self.bytes = 0
        self.errors = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.ids: set[bytes] = set()
        self.names: dict[str, int] = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "spans": self.spans,
                "unique": len(self.ids),
                "bytes": self.bytes,
                "errors": self.errors,
                "first_at": self.first_at,
                "last_at": self.last_at,
                "names": dict(sorted(self.names.items(), key=lambda kv: -kv[1])[:20]),
            }


COUNTERS = Counters()
DELAY = 0.0


def record(request: ExportTraceServiceRequest, size: int) -> None:
    """Count one decoded export request of ``size`` bytes, after ``--delay``."""
    keys: list[bytes] = []
    names: dict[str, int] = {}
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                keys.append(span.trace_id + span.span_id)
                names[span.name] = names.get(span.name, 0) + 1
    if DELAY:
        time.sleep(DELAY)
    now = time.monotonic()
    with COUNTERS.lock:
        c = COUNTERS
        c.requests += 1
        c.bytes += size
        c.spans += len(keys)
        c.ids.update(keys)
        if keys:
            if c.first_at is None:
                c.first_at = now
            c.last_at = now
        for name, count in names.items():
            c.names[name] = c.names.get(name, 0) + count


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/stats"):
            self._reply(200, json.dumps(COUNTERS.snapshot()).encode(), "application/json")
        else:
            self._reply(404, b"", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.startswith("/reset"):
            with COUNTERS.lock:
                COUNTERS.reset()
            self._reply(200, b"{}", "application/json")
            return
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
        except Exception:
            with COUNTERS.lock:
                COUNTERS.errors += 1
            self._reply(400, b"", "text/plain")
            return
        record(request, length)
        self._reply(200, _RESPONSE, "application/x-protobuf")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def grpc_server(port: int) -> tuple[Any, int]:
    """A started gRPC server on 127.0.0.1:``port`` counting every ``Export`` call; its port."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(
            self, request: ExportTraceServiceRequest, context: Any
        ) -> ExportTraceServiceResponse:
            record(request, request.ByteSize())
            return ExportTraceServiceResponse()

    # More workers than any exporter keeps calls in flight (agent-otlp: 8), so --delay
    # holds each call without queueing the others behind it.
    server = grpc.server(ThreadPoolExecutor(max_workers=32))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, bound


def main(argv: list[str] | None = None) -> None:
    global DELAY
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help="also serve OTLP/gRPC on this port (0: any free port)",
    )
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    DELAY = args.delay
    server = Server(("127.0.0.1", args.port), Handler)
    ports = {"port": server.server_address[1]}
    rpc = None
    if args.grpc_port is not None:
        rpc, ports["grpc_port"] = grpc_server(args.grpc_port)
    print(json.dumps(ports), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if rpc is not None:
            rpc.stop(None)
    sys.exit(0)


if __name__ == "__main__":
    main()
