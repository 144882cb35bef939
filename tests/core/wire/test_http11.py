"""The plain-http connection (``core.wire.http11``) reading the answers a server may send,
over real sockets: each test's server writes its answer byte for byte."""

from __future__ import annotations

import pytest

from agent_otlp.core.wire.http11 import MAX_BODY
from agent_otlp.core.wire.transport import HttpTransport, SendResult
from scripted_http import Serve

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"


def _send(url: str, times: int = 1, headers: dict[str, str] | None = None) -> list[SendResult]:
    transport = HttpTransport(url, headers or {}, compression="none")
    try:
        return [transport.send(b"\x0a\x00", 5.0) for _ in range(times)]
    finally:
        transport.close()


def test_the_request_carries_host_length_type_and_headers(serve: Serve) -> None:
    server = serve(lambda n, head: _OK)
    results = _send(server.url, 2, {"x-team": "a b"})
    assert all(r.ok for r in results)
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/traces HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Content-Length: 2" in lines and b"Content-Type: application/x-protobuf" in lines
    assert b"x-team: a b" in lines and body == b"\x0a\x00"
    assert server.connections == 1  # kept alive


def test_a_chunked_answer_is_read_whole_and_the_connection_kept(serve: Serve) -> None:
    parts = [b'{"partia', b'lSuccess":{"rejected', b'Spans":"3"}}   ']
    chunks = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";ext=1" if i == 0 else b"", p) for i, p in enumerate(parts))
    reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
             + chunks + b"0\r\nX-Trailer: 1\r\n\r\n")
    server = serve(lambda n, head: reply)
    results = _send(server.url, 2)
    assert [r.ok for r in results] == [True, True]
    assert [r.rejected_spans for r in results] == [3, 3]
    assert server.connections == 1


def test_interim_answers_are_skipped_and_folded_headers_joined(serve: Serve) -> None:
    reply = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
             b"HTTP/1.1 503 Busy\r\nRetry-After:\r\n 7\r\nContent-Length: 4\r\n\r\nbusy")
    server = serve(lambda n, head: reply)
    (result,) = _send(server.url)
    assert not result.ok and result.retryable
    assert result.status == "503" and result.retry_after == 7.0
    assert result.message == "busy"


def test_a_body_ended_by_close_and_an_http10_answer_end_the_connection(
        serve: Serve) -> None:
    server = serve(lambda n, head: b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", close=True)
    results = _send(server.url, 2)  # a body without a length: read to the end of the connection
    assert server.connections == 2
    result = results[0]
    assert not result.ok and result.status == "not-otlp"
    assert "Content-Type text/html" in result.message


def test_an_oversized_body_is_cut_and_the_connection_dropped(serve: Serve) -> None:
    page = b"<html>" + b"x" * (MAX_BODY + 10)
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
    server = serve(lambda n, head: reply)
    results = _send(server.url, 2)
    assert all(r.status == "not-otlp" for r in results)
    assert server.connections == 2  # the rest of the page was never read: a new connection


@pytest.mark.parametrize("reply, expected", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "IncompleteRead"),
    (b"SMTP ready\r\n\r\n", "BadStatusLine"),
    (b"\x00\x00\x06\x04\x00\x00\x00\x00\x00", "BadStatusLine: b'\\x00\\x00"),  # a gRPC port's SETTINGS
    (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "HTTPException"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTPException"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000, "LineTooLong"),
])
def test_a_broken_answer_is_a_retryable_connection_error(
        serve: Serve, reply: bytes, expected: str) -> None:
    server = serve(lambda n, head: reply, close=True)
    (result,) = _send(server.url)
    assert not result.ok and result.retryable
    assert result.status == "connection-error" and expected in result.message


def test_a_header_value_with_a_line_break_is_refused_before_sending(
        serve: Serve) -> None:
    from agent_otlp.core.wire.transport import _PlainHttp

    server = serve(lambda n, head: _OK)
    result = _PlainHttp(server.url, {"x-token": "abc\r\nX-Evil: 1"}).post(b"", 5.0)
    assert not result.ok and not result.retryable and result.status == "request-error"
    assert "line break" in result.message and "abc" not in result.message
    assert server.requests == []


def test_a_path_with_a_space_is_refused_before_sending(serve: Serve) -> None:
    from agent_otlp.core.wire.transport import _PlainHttp

    server = serve(lambda n, head: _OK)
    result = _PlainHttp(server.url + "/a b", {}).post(b"", 5.0)
    assert not result.ok and not result.retryable and result.status == "request-error"
    assert "space or a control character" in result.message and server.requests == []


def test_an_answer_trickled_byte_by_byte_times_out_within_the_timeout() -> None:
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                time.sleep(0.2)  # each byte within the per-read timeout, never the whole answer
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    transport = HttpTransport(f"http://127.0.0.1:{listener.getsockname()[1]}/v1/traces", {},
                              compression="none")
    started = time.monotonic()
    result = transport.send(b"", 1.0)
    elapsed = time.monotonic() - started
    transport.close()
    listener.close()
    assert not result.ok and result.retryable and result.status == "timeout", result
    assert elapsed < 2.0
