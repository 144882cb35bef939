"""The plain-http sender (one kept-alive HTTP/1.1 connection) against real sockets."""

from __future__ import annotations

import socket

from agent_otlp.core.wire.transport import HttpTransport
from agent_otlp.testing import OTLPReceiver
from scripted_http import Serve


def test_keeps_one_connection_and_gzips_when_asked(otlp_receiver: OTLPReceiver) -> None:
    transport = HttpTransport(otlp_receiver.traces_url, {"x-k": "v"}, compression="gzip")
    assert transport._plain  # plain http, no proxy: the plain HTTP/1.1 path
    for _ in range(3):
        assert transport.send(b"", 5.0).ok
    transport.close()
    seen = otlp_receiver.requests
    assert [r.compression for r in seen] == ["gzip"] * 3
    assert all(r.headers["x-k"] == "v" for r in seen)


_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"


def test_a_connection_closed_while_idle_is_reopened_once(serve: Serve) -> None:
    # each connection's first request is answered, then the connection is closed without a
    # word (no "Connection: close"): the next request on it meets a dead socket, as after a
    # server restart between two requests
    one_shot = serve(lambda n, head: _OK, close=True)
    transport = HttpTransport(one_shot.url, {})
    results = [transport.send(b"x" * 100, 5.0) for _ in range(4)]
    transport.close()
    assert all(r.ok for r in results), results
    assert len(one_shot.requests) == 4


def test_refused_and_timeout_are_retryable_with_the_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = HttpTransport(f"http://127.0.0.1:{port}/v1/traces", {}).send(b"", 2.0)
    assert (refused.ok, refused.retryable, refused.status) == (False, True, "connection-error")
    assert "refused" in refused.message.lower()

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        result = HttpTransport(f"http://127.0.0.1:{silent.getsockname()[1]}/", {}).send(b"", 0.3)
    finally:
        silent.close()
    assert (result.ok, result.retryable, result.status) == (False, True, "timeout")


def test_an_empty_success_answer_is_not_decoded() -> None:
    """An empty ``ExportTraceServiceResponse`` (zero bytes, the usual answer) needs no
    protobuf: a sending-only process (offload mode's child) never loads it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from agent_otlp.core.wire.transport import http_answer\n"
        "result = http_answer(200, b'', None, 'application/x-protobuf')\n"
        "assert result.ok and result.rejected_spans == 0 and not result.message, result\n"
        "print('google.protobuf' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    # a partial success is still read, through protobuf
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    from agent_otlp.core.wire.transport import http_answer

    body = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=3, error_message="too old")
    ).SerializeToString()
    result = http_answer(200, body, None, "application/x-protobuf")
    assert (result.ok, result.rejected_spans, result.message) == (True, 3, "too old")
