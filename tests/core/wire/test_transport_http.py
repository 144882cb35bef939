"""The plain-http sender (``http.client``, one kept-alive connection) against real sockets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from agent_otlp.core.wire.transport import HttpTransport
from agent_otlp.testing import OTLPReceiver


def test_keeps_one_connection_and_gzips_when_asked(otlp_receiver: OTLPReceiver) -> None:
    transport = HttpTransport(otlp_receiver.traces_url, {"x-k": "v"}, compression="gzip")
    assert transport._plain  # plain http, no proxy: the http.client path
    for _ in range(3):
        assert transport.send(b"", 5.0).ok
    transport.close()
    seen = otlp_receiver.requests
    assert [r.compression for r in seen] == ["gzip"] * 3
    assert all(r.headers["x-k"] == "v" for r in seen)


class _OneShotServer:
    """Answers each connection's first request with 200 and closes it without saying so
    (no ``Connection: close``): the next request on a kept-alive client meets a dead socket.
    A server restarted between two requests looks the same."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests += 1
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                             b"Content-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def one_shot() -> Iterator[_OneShotServer]:
    server = _OneShotServer()
    yield server
    server.close()


def test_a_connection_closed_while_idle_is_reopened_once(one_shot: _OneShotServer) -> None:
    transport = HttpTransport(f"http://127.0.0.1:{one_shot.port}/v1/traces", {})
    results = [transport.send(b"x" * 100, 5.0) for _ in range(4)]
    transport.close()
    assert all(r.ok for r in results), results
    assert one_shot.requests == 4


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
