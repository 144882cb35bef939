"""The ingest bridge against hostile clients: item floods, slow clients (slowloris),
cross-site posts and DNS rebinding."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from _reliability import record
from agent_otlp import create_exporter
from agent_otlp.sources.bridge import DEFAULT_MAX_ITEMS, INGEST_PATH, BridgeServer
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import DEMO_SPAN_COUNT, record_demo_items
from test_bridge import post_items, request

JSON = {"Content-Type": "application/json"}
DEADLINE = 1.5  # request_timeout of the tests' bridge (30 s by default)
SLOW_CLIENTS = 300  # more than max_connections (256 by default)


@pytest.fixture
def bridge(otlp_receiver: OTLPReceiver) -> Iterator[BridgeServer]:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.05)
    server = BridgeServer(exporter, port=0, request_timeout=DEADLINE,
                          allowed_hosts=["traces.internal"]).start()
    yield server
    server.stop(timeout=2.0)


def _serve(receiver: OTLPReceiver, cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200")
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
               "--adapter", "otlp", "--endpoint", receiver.endpoint, "--no-store", *args]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def _flood(count: int) -> bytes:
    return b'{"data": [' + b",".join([b"{}"] * count) + b"]}"


def test_item_flood_costs_little_time_and_memory(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    proc = _serve(otlp_receiver, tmp_path, "--port", "0")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("POST ", 1)[1].split(INGEST_PATH)[0]
        assert request(url, "GET", "/healthz").status == 200
        process = psutil.Process(proc.pid)
        baseline = process.memory_info().rss
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.01):
                peak[0] = max(peak[0], process.memory_info().rss)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            # 8 MiB of empty objects, inside the default body limit: 2.8 million items
            flood = _flood((8 * 1024 * 1024 - 12) // 3)
            assert len(flood) <= 8 * 1024 * 1024
            started = time.monotonic()
            refused = request(url, body=flood, headers=JSON, timeout=30)
            flood_seconds = time.monotonic() - started
            # as many invalid items as one request may hold: all counted, 1,000 listed
            started = time.monotonic()
            invalid = request(url, body=_flood(DEFAULT_MAX_ITEMS), headers=JSON, timeout=30)
            invalid_seconds = time.monotonic() - started
        finally:
            done.set()
            sampler.join()
        assert refused.status == 413, refused.raw[:200]
        assert f"max_items={DEFAULT_MAX_ITEMS}" in refused.json["error"]
        assert flood_seconds < 2.0
        assert invalid.status == 400
        assert invalid.json["accepted"] == 0
        assert invalid.json["rejected_count"] == DEFAULT_MAX_ITEMS
        assert len(invalid.json["rejected"]) == 1000
        assert invalid_seconds < 2.0
        assert peak[0] - baseline < 50 * 1024 * 1024, (baseline, peak[0])
        assert request(url, "GET", "/healthz", timeout=2).status == 200
    finally:
        _stop(proc)
    record(
        "bridge.item_flood",
        fault="one 8 MiB request of 2.8 million empty objects `{}` (inside the default body "
              "limit), then one of 10,000 invalid items, to `agent-otlp serve`",
        cases=2,
        outcome=f"flood: 413 naming max_items={DEFAULT_MAX_ITEMS} in {flood_seconds:.2f} s; "
                f"{DEFAULT_MAX_ITEMS:,} invalid items: 400 in {invalid_seconds:.2f} s, all "
                "counted, 1,000 listed; server RSS growth over both "
                f"{(peak[0] - baseline) / 2**20:.0f} MiB; /healthz answered after",
        lost=0,
        method="`test_item_flood_costs_little_time_and_memory` runs the real `serve` command in "
               "a subprocess and samples its RSS every 10 ms (psutil) while posting.",
    )


def _trickle(bridge: BridgeServer, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", bridge.port), timeout=5)
        sock.sendall(f"POST {INGEST_PATH} HTTP/1.1\r\nHost: localhost\r\n".encode())
        socks.append(sock)
    return socks


def test_slow_clients_do_not_starve_others(bridge: BridgeServer, otlp_receiver: OTLPReceiver) -> None:
    # more clients than max_connections, that never finish their request head
    slow = _trickle(bridge, SLOW_CLIENTS)
    closed_after: dict[socket.socket, float] = {}
    started = time.monotonic()
    answers = []
    try:
        items = record_demo_items()
        while time.monotonic() - started < 4.0:
            for sock in slow:  # a byte every 0.2 s: no single read ever times out
                if sock not in closed_after:
                    try:
                        sock.sendall(b"X")
                    except OSError:
                        closed_after[sock] = time.monotonic() - started
            readable, _, _ = select.select([s for s in slow if s not in closed_after], [], [], 0.2)
            for sock in readable:
                closed_after[sock] = time.monotonic() - started
            t = time.monotonic()
            health = request(bridge.url, "GET", "/healthz", timeout=2)
            posted = post_items(bridge.url, items, timeout=2)
            answers.append((health.status, posted.status, time.monotonic() - t))
    finally:
        for sock in slow:
            sock.close()
    statuses = {(h, p) for h, p, _ in answers}
    slowest = max(seconds for _, _, seconds in answers)
    assert statuses == {(200, 200)}
    assert slowest < 1.0
    # every slow client was cut off: the first ones to make room, the rest at the deadline
    assert len(closed_after) == len(slow)
    assert max(closed_after.values()) < DEADLINE + 1.0
    bridge.exporter.end_all_traces()
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)
    record(
        "bridge.slowloris",
        fault=f"{SLOW_CLIENTS} connections (max_connections 256) sending a request head one "
              f"byte every 0.2 s, never finishing it, while a client probes /healthz and posts "
              f"(request_timeout {DEADLINE} s for the test, 30 s by default)",
        cases=len(answers),
        outcome=f"{len(answers)} /healthz + post pairs all answered 200, slowest pair "
                f"{slowest * 1000:.0f} ms; every slow connection closed (the oldest to make "
                f"room, the last at the deadline, {max(closed_after.values()):.1f} s after the start)",
        lost=0,
        method="`test_slow_clients_do_not_starve_others` opens real sockets to a BridgeServer in "
               "the test process and looks for the posted spans at the in-process receiver.",
    )


def test_slow_body_gets_408(bridge: BridgeServer) -> None:
    body = json.dumps({"data": record_demo_items()}).encode()
    sock = socket.create_connection(("127.0.0.1", bridge.port), timeout=5)
    sock.sendall(f"POST {INGEST_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                 f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    started = time.monotonic()
    answer = b""
    for byte in body[:40]:
        sock.sendall(bytes([byte]))
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            answer = sock.recv(4096)
            break
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 1.5 + 0.5


def test_cross_site_posts_and_foreign_hosts_are_refused(bridge: BridgeServer) -> None:
    items = record_demo_items()
    body = json.dumps({"data": items}).encode()
    text_plain = request(bridge.url, body=body, headers={"Content-Type": "text/plain"})
    assert text_plain.status == 415 and "application/json" in text_plain.json["error"]
    form = request(bridge.url, body=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415
    untyped = request(bridge.url, body=body, headers={"Content-Type": ""})
    assert untyped.status == 415
    foreign = post_items(bridge.url, items, headers={"Origin": "https://evil.example"})
    assert foreign.status == 403 and "evil.example" in foreign.json["error"]
    assert post_items(bridge.url, items, headers={"Origin": "null"}).status == 403
    # the bridge's own origin, and an allowed name's, may post
    port = bridge.port
    own = post_items(bridge.url, items, headers={"Origin": f"http://127.0.0.1:{port}"})
    assert own.status == 200
    allowed = post_items(bridge.url, items, headers={"Origin": "https://traces.internal"})
    assert allowed.status == 200
    assert bridge.items["accepted"] == 2 * len(items)
    # DNS rebinding: a page at rebind.example (resolving to 127.0.0.1) reads /metrics
    rebound = request(bridge.url, "GET", "/metrics", headers={"Host": f"rebind.example:{bridge.port}"})
    assert rebound.status == 403 and "rebind.example" in rebound.json["error"]
    posted = post_items(bridge.url, record_demo_items(), headers={"Host": "rebind.example"})
    assert posted.status == 403
    for host in (f"localhost:{bridge.port}", f"127.0.0.1:{bridge.port}", "[::1]",
                 "10.1.2.3:4319", "traces.internal:4319", "app.localhost"):
        assert request(bridge.url, "GET", "/metrics", headers={"Host": host}).status == 200, host
    assert bridge.items["accepted"] == 2 * len(items)
    refused = {status: count for status, count in bridge.requests.items() if status >= 400}
    assert refused == {403: 4, 415: 3}
    record(
        "bridge.cross_site",
        fault="posts as a web page can send them (Content-Type text/plain, form-encoded or "
              "none; Origin of another site or null) and DNS rebinding (Host of a foreign name "
              "on /metrics and the ingest path), next to the bridge's own and allowed origins",
        cases=sum(bridge.requests.values()),
        outcome="415 naming application/json for the 3 other content types; 403 naming the "
                "Origin or Host for the 4 foreign ones; the bridge's own origin, an "
                "--allowed-host origin, IP and loopback Hosts answered 200; nothing "
                "accepted from a refused request",
        lost=0,
        method="`test_cross_site_posts_and_foreign_hosts_are_refused` sends each request with "
               "http.client to a BridgeServer in the test process.",
    )


def test_non_loopback_without_token_is_refused(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={})
    try:
        with pytest.raises(ValueError, match=r"0\.0\.0\.0"):
            BridgeServer(exporter, host="0.0.0.0", port=0)
        open_bridge = BridgeServer(exporter, host="0.0.0.0", port=0, allow_unauthenticated=True,
                                   shutdown_exporter=False)
        assert open_bridge.access.host_allowed("10.0.0.7")
        BridgeServer(exporter, host="0.0.0.0", port=0, token="t0ken-for-test")
    finally:
        exporter.shutdown(2.0)

    refused = _serve(otlp_receiver, tmp_path, "--host", "0.0.0.0", "--port", "0")
    _, err = refused.communicate(timeout=30)  # exits by itself
    assert refused.returncode != 0
    assert "--host" in err and "0.0.0.0" in err and "--allow-unauthenticated" in err, err

    proc = _serve(otlp_receiver, tmp_path, "--host", "0.0.0.0", "--port", "0",
                  "--allow-unauthenticated")
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "0.0.0.0:" in banner and "all interfaces" in banner, banner
        port = int(banner.split("0.0.0.0:", 1)[1].split("/", 1)[0])
        assert "no token" in banner
        health = request(f"http://127.0.0.1:{port}", "GET", "/healthz")
        assert health.status == 200
    finally:
        _, err = _stop(proc)
    assert proc.returncode == 0, err

