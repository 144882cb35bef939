"""What counts as delivered: a 2xx is a success only when it is an OTLP answer.

Every wrong answer comes from a real HTTP server on loopback (the Jaeger UI's port answers
``POST /v1/traces`` with 200 and its HTML page); the right ones from the in-process OTLP
receiver. Both of the HTTP sender's paths are covered: plain :mod:`http.client`, and
:mod:`requests` (taken when a netrc entry names the host).
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

import agent_otlp
from _reliability import record
from agent_otlp.core.wire.transport import NOT_OTLP, HttpTransport
from agent_otlp.testing import OTLPReceiver, Reply
from scripted_http import ScriptedServer
from test_exporter import items

HTML = b"<!doctype html><html><head><title>Jaeger UI</title></head><body></body></html>"


class AnswerServer:
    """Answers every request with one configured status, Content-Type and body."""

    def __init__(self, status: int, content_type: str | None, body: bytes) -> None:
        self.answer = (status, content_type, body)
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests += 1
                status, content_type, body = owner.answer
                self.send_response(status)
                if content_type is not None:
                    self.send_header("Content-Type", content_type)
                if status != 204:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def answering() -> Iterator[Any]:
    servers: list[AnswerServer] = []

    def start(status: int, content_type: str | None, body: bytes) -> AnswerServer:
        servers.append(AnswerServer(status, content_type, body))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(params=["http.client", "requests"])
def sender_path(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> str:
    """Which of HttpTransport's two paths is used: a netrc entry for 127.0.0.1 sends the
    request through ``requests``."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password pw-1234\n" if request.param == "requests" else "")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    return str(request.param)


def _send(url: str, path: str) -> Any:
    transport = HttpTransport(url + "/v1/traces", {}, compression="none")
    assert transport._plain == (path == "http.client")
    try:
        return transport.send(b"", 5.0)
    finally:
        transport.close()


_PARTIAL = ExportTraceServiceResponse(
    partial_success=ExportTracePartialSuccess(rejected_spans=2, error_message="too old")
).SerializeToString()

NOT_OTLP_ANSWERS = {
    "html": (200, "text/html; charset=utf-8", HTML),
    "garbage protobuf": (200, "application/x-protobuf", b"\xff\xfe garbage, not protobuf"),
    "json of something else": (200, "application/json", b'{"status": "ok", "spans": 3}'),
    "plain text": (200, "text/plain", b"OK"),
    "body without type": (200, None, b"accepted"),
}


@pytest.mark.parametrize("answer", list(NOT_OTLP_ANSWERS))
def test_a_2xx_that_is_not_otlp_is_a_failure(answering: Any, sender_path: str, answer: str) -> None:
    server = answering(*NOT_OTLP_ANSWERS[answer])
    result = _send(server.endpoint, sender_path)
    assert (result.ok, result.retryable, result.status) == (False, False, NOT_OTLP), result
    assert "answer is not OTLP" in result.message
    assert "4318" in result.message


def test_html_says_it_is_probably_the_ui_port(answering: Any, sender_path: str) -> None:
    result = _send(answering(*NOT_OTLP_ANSWERS["html"]).endpoint, sender_path)
    assert "that port answers HTML: is it the query/UI port? OTLP/HTTP is usually 4318" in result.message


OTLP_ANSWERS = {
    # the spec's answer: 200, the request's Content-Type, an empty ExportTraceServiceResponse
    "empty protobuf": (200, "application/x-protobuf", b"", 0),
    "empty json": (200, "application/json", b"{}", 0),
    "partial protobuf": (200, "application/x-protobuf", _PARTIAL, 2),
    "partial json": (200, "application/json",
                     b'{"partialSuccess": {"rejectedSpans": "2", "errorMessage": "too old"}}', 2),
    # no body and no Content-Type: nothing contradicts OTLP (Grafana Cloud answers 204)
    "204 without body": (204, None, b"", 0),
}


@pytest.mark.parametrize("answer", list(OTLP_ANSWERS))
def test_otlp_answers_are_successes(answering: Any, sender_path: str, answer: str) -> None:
    status, content_type, body, rejected = OTLP_ANSWERS[answer]
    result = _send(answering(status, content_type, body).endpoint, sender_path)
    assert (result.ok, result.rejected_spans) == (True, rejected), result
    assert result.message == ("too old" if rejected else "")


def test_answers_that_are_not_otlp_deliver_nothing_with_the_store_on(
    answering: Any, tmp_path: Path
) -> None:
    """With the store on, the spans are counted failed (never delivered) and the error says
    why; the tester's case was the cursor moving as if they had been delivered."""
    outcomes = []
    for number, answer in enumerate(NOT_OTLP_ANSWERS):
        server = answering(*NOT_OTLP_ANSWERS[answer])
        exporter = agent_otlp.create_exporter("otlp", endpoint=server.endpoint, env={},
                                              schedule_delay=0.02, store=tmp_path / f"{number}.db")
        assert exporter.submit_items(items(3)) == []
        exporter.end_all_traces()
        report = exporter.shutdown(10)
        assert not report.delivered, answer
        dest = exporter.stats.snapshot()["destinations"]["otlp"]
        assert dest["exported"] == 0, answer
        assert dest["dropped"]["failed"] == 4, answer  # three spans and the workflow span
        assert "answer is not OTLP" in dest["last_error"], answer
        assert server.requests == 1, answer  # not retried: a wrong port stays wrong
        assert exporter.store is not None
        [cursor] = exporter.store.cursors()
        assert (cursor.delivered, cursor.failed) == (0, 4), answer
        outcomes.append(dest["last_error"])
    assert "query/UI port" in outcomes[0]
    record(
        "answers.not_otlp",
        fault="2xx answers that are not OTLP, span store on: 200 text/html (a UI port such as "
              "Jaeger's 16686), 200 protobuf garbage, 200 JSON of another service, 200 "
              "text/plain, 200 with a body and no Content-Type",
        cases=len(NOT_OTLP_ANSWERS),
        outcome="0 spans counted delivered; every span counted failed (cursor: delivered 0, "
                "failed 4 of 4), one request each (not retried), last error 'the 200 answer is "
                "not OTLP (...)' with a hint ('that port answers HTML: is it the query/UI port? "
                "OTLP/HTTP is usually 4318' for HTML)",
        lost="0 (refused spans are counted as failed, never as delivered)",
        method="a ThreadingHTTPServer on loopback answers each way; the exporter runs with a "
               "span store, and the store's cursor is read after shutdown.",
    )


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_partial_success_is_counted_and_logged_once(
    otlp_receiver_factory: Any, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    receiver: OTLPReceiver = otlp_receiver_factory(protocol)
    receiver.set_handler(lambda request: Reply(partial_rejected=1, message="span too old"))
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.02, batch_size=2,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
    )
    with caplog.at_level(logging.WARNING, logger="agent_otlp.export"):
        assert exporter.submit_items(items(3)) == []
        exporter.end_all_traces()
        report = exporter.shutdown(10)
    assert len(receiver.requests) == 2  # four spans, two per request, each with one rejected
    dest = exporter.stats.snapshot()["destinations"]["otlp"]
    assert (dest["exported"], dest["dropped"]["rejected"]) == (2, 2)
    assert not report.delivered
    logged = [r.getMessage() for r in caplog.records if "partly refused" in r.getMessage()]
    assert len(logged) == 1 and "span too old" in logged[0], logged


def test_the_otel_sdk_transport_refuses_html_too(answering: Any) -> None:
    server = answering(*NOT_OTLP_ANSWERS["html"])
    exporter = agent_otlp.create_exporter("otlp", endpoint=server.endpoint, env={},
                                          schedule_delay=0.02, transport="otel-sdk")
    assert exporter.submit_items(items(1)) == []
    exporter.end_all_traces()
    report = exporter.shutdown(10)
    dest = exporter.stats.snapshot()["destinations"]["otlp"]
    assert not report.delivered and dest["exported"] == 0
    assert "query/UI port" in dest["last_error"]


def test_the_otel_sdk_transport_counts_a_partial_success(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.set_handler(lambda request: Reply(partial_rejected=1, message="too old"))
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                          schedule_delay=0.02, transport="otel-sdk")
    assert exporter.submit_items(items(1)) == []
    exporter.end_all_traces()
    exporter.shutdown(10)
    dest = exporter.stats.snapshot()["destinations"]["otlp"]
    assert (dest["exported"], dest["dropped"]["rejected"]) == (1, 1)


class _Trickler(ScriptedServer):
    """A backend that reads each request and answers it one byte every 0.2 s, on and on:
    every read of the answer gets a byte well within any timeout, the answer never ends."""

    def __init__(self) -> None:
        super().__init__(lambda number, head: None, close=True)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            self.requests.append(conn.recv(1 << 20))
            for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 1000):
                time.sleep(0.2)
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return


def test_a_backend_trickling_its_answers_holds_each_request_no_longer_than_the_timeout(
        tmp_path: Path) -> None:
    """Each read of the answer gets a byte in time: only a deadline for the whole answer ends
    the request. With the store on, the spans stay kept for the next run."""
    server = _Trickler()
    exporter = agent_otlp.create_exporter("otlp", endpoint=server.endpoint, env={}, timeout=1.0,
                                          schedule_delay=0.02, store=tmp_path / "spans.db")
    assert exporter.submit_items(items(3)) == []
    exporter.end_all_traces()
    started = time.monotonic()
    report = exporter.shutdown(4.0)
    took = time.monotonic() - started
    dest = exporter.stats.snapshot()["destinations"]["otlp"]
    server.close()
    assert not report.delivered and dest["exported"] == 0
    assert "timed out" in dest["last_error"] or "timeout" in dest["last_error"], dest["last_error"]
    assert took < 6.0  # the shutdown's own bound (4 s) plus the request in flight (1 s)
    assert len(server.requests) >= 3  # each request ended at its timeout and was sent again
    assert exporter.store is not None
    [cursor] = exporter.store.cursors()
    assert (cursor.delivered, cursor.failed) == (0, 0)  # nothing given up
    assert cursor.queued == 4  # three spans and the workflow span, kept for the next run
    record(
        "answers.trickled",
        fault="a backend answering one byte every 0.2 s without end (each read gets a byte long "
              "before the read timeout), span store on, timeout 1 s",
        cases=len(server.requests),
        outcome=f"every request ended at the 1 s timeout, retried until shutdown; shutdown took "
                f"{took:.1f} s (its 4 s bound, then the request in flight); 0 spans counted "
                f"delivered or failed; all "
                f"{cursor.queued} stay queued in the store for the next run",
        lost=0,
        method="a raw socket server on loopback trickles its answer; the exporter runs with a span "
               "store and its cursor is read after shutdown.",
        shutdown_s=round(took, 2),
    )
