"""OTLP/HTTP protobuf sink for the benchmark, run as its own process.

Every ``POST`` body is decompressed (``Content-Encoding: gzip``/``deflate``) and parsed as an
``ExportTraceServiceRequest`` with ``opentelemetry-proto``; the sink counts requests, spans
and unique ``(trace_id, span_id)`` pairs, and remembers when (``time.monotonic()``, which on
Linux is one clock for every process) the first and the last span arrived.

``GET /stats`` returns the counters as JSON, ``POST /reset`` clears them. ``--delay`` makes
every export answer after that many seconds (the slow-backend run).

Usage: ``python bench/sink.py --port 0 [--delay 0.2]``; the first line printed on stdout is
``{"port": N}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
import time
import zlib
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
            keys = [
                span.trace_id + span.span_id
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]
            names: dict[str, int] = {}
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        names[span.name] = names.get(span.name, 0) + 1
        except Exception:
            with COUNTERS.lock:
                COUNTERS.errors += 1
            self._reply(400, b"", "text/plain")
            return
        if DELAY:
            time.sleep(DELAY)
        now = time.monotonic()
        with COUNTERS.lock:
            c = COUNTERS
            c.requests += 1
            c.bytes += length
            c.spans += len(keys)
            c.ids.update(keys)
            if keys:
                if c.first_at is None:
                    c.first_at = now
                c.last_at = now
            for name, count in names.items():
                c.names[name] = c.names.get(name, 0) + count
        self._reply(200, _RESPONSE, "application/x-protobuf")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main(argv: list[str] | None = None) -> None:
    global DELAY
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    DELAY = args.delay
    server = Server(("127.0.0.1", args.port), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
