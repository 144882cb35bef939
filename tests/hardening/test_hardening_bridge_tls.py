"""A TLS bridge against clients that never finish their handshake: such connections count
among the open ones, so they are closed to make room and a real client is still served."""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import time
from pathlib import Path

from _reliability import record
from agent_otlp import create_exporter
from agent_otlp.sources.bridge import BridgeServer
from agent_otlp.sources.bridge.tls import self_signed
from agent_otlp.testing import OTLPReceiver

SILENT = 48
LIMIT = 16


def _closed_by_server(socks: list[socket.socket], wait: float) -> int:
    """How many of ``socks`` the bridge ended within ``wait`` seconds (an alert, then the end
    of the stream)."""
    open_ = list(socks)
    closed = 0
    deadline = time.monotonic() + wait
    while open_ and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(open_, [], [], left)
        for sock in ready:
            try:
                ended = sock.recv(4096) == b""
            except OSError:
                ended = True
            if ended:
                open_.remove(sock)
                closed += 1
    return closed


def test_silent_tls_handshakes_make_room(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    made = self_signed(tmp_path / "tls")
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={})
    bridge = BridgeServer(exporter, port=0, tls=made.context(), max_connections=LIMIT,
                          read_timeout=30.0, request_timeout=30.0).start()
    silent: list[socket.socket] = []
    try:
        for _ in range(SILENT):  # TCP connected, not one byte of a TLS handshake
            silent.append(socket.create_connection(("127.0.0.1", bridge.port), timeout=5))
            time.sleep(0.005)
        started = time.monotonic()
        conn = http.client.HTTPSConnection("localhost", bridge.port, timeout=5,
                                           context=ssl.create_default_context(cafile=str(made.ca_file)))
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
        probe = time.monotonic() - started
        conn.close()
        closed = _closed_by_server(silent, 2.0)
    finally:
        for sock in silent:
            sock.close()
        bridge.stop(timeout=5.0)
    assert status == 200 and probe < 2.0
    assert closed >= SILENT - LIMIT, closed  # long before the 30 s timeouts
    record(
        "bridge.tls_silent_handshakes",
        fault=f"{SILENT} TCP connections to a TLS bridge (max_connections {LIMIT}) that never send a "
              "byte of their handshake, then a TLS client asking /healthz",
        cases=SILENT + 1,
        outcome=f"/healthz answered 200 in {probe * 1000:.0f} ms; {closed} of the silent connections "
                "closed by the bridge to make room (the oldest first), not held for the 30 s timeout",
        lost=0,
        method="explicit sockets in `test_silent_tls_handshakes_make_room` against a BridgeServer "
               "in the test process.",
    )
