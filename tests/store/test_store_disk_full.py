"""The span store on a full disk (a small tmpfs): the bridge refuses with 503 what it cannot
keep, every span it acknowledged arrives, /healthz says degraded, the library and ``send``
count what they could not keep as ``store_full``, and writing resumes by itself once there
is room again."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import store_child
from _reliability import record
from _small_fs import fill, small_filesystem
from agent_otlp import create_exporter
from agent_otlp.cli import ExitCode
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver


def request(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        is_json = headers.get("content-type", "").startswith("application/json")
        return response.status, headers, json.loads(data) if is_json else data.decode()
    finally:
        conn.close()


def traces(first: int, count: int) -> list[dict[str, Any]]:
    return [item for index in range(first, first + count) for item in store_child.trace_items(index)]


def post_traces(url: str, first: int, count: int) -> tuple[int, dict[str, str], Any]:
    return request(url, "POST", INGEST_PATH, json.dumps({"data": traces(first, count)}).encode())


def span_ids(indexes: list[int]) -> set[str]:
    return {span_id_for(store_child.span_id(i, n)).hex()
            for i in indexes for n in range(store_child.SPANS_PER_TRACE)}


def test_bridge_refuses_what_a_full_store_cannot_keep_and_recovers(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", "2m") as fs, OTLPReceiver() as receiver:
        ballast = fs / "ballast"
        fill(ballast, keep_free=1024 * 1024)
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, store=fs / "s.db",
                                   retry_deadline=300, schedule_delay=0.05)
        bridge = BridgeServer(exporter, port=0, retry_after=3).start()
        try:
            acknowledged: list[int] = []
            refusal: tuple[int, dict[str, str], Any] | None = None
            for first in range(0, 2000, 5):  # 5 traces (55 items) a request
                status, headers, body = post_traces(bridge.url, first, 5)
                if status == 200:
                    acknowledged.extend(range(first, first + 5))
                    continue
                refusal = (status, headers, body)
                break
            assert refusal is not None, "the small file system never filled up"
            status, headers, body = refusal
            assert status == 503 and headers["retry-after"] == "3"
            assert "database or disk is full" in body["error"]
            assert acknowledged, "the store must take some requests before it is full"
            health = request(bridge.url, "GET", "/healthz")
            assert health[0] == 503 and health[2]["status"] == "degraded"
            assert "full" in health[2]["store"]

            ballast.unlink()  # room again: the next request is kept, without a restart
            status, _, _ = post_traces(bridge.url, 5000, 5)
            assert status == 200
            acknowledged.extend(range(5000, 5005))
            assert request(bridge.url, "GET", "/healthz")[2] == {"status": "ok"}
            metrics = request(bridge.url, "GET", "/metrics")[2]
            assert 'agent_otlp_bridge_requests_total{status="503"} 2' in metrics  # ingest, healthz
            assert "agent_otlp_exporter_store_write_errors_total 0\n" not in metrics
        finally:
            bridge.stop(timeout=30)
        received = {s.span_id for s in receiver.spans()}
    lost = len(span_ids(acknowledged) - received)
    record(
        "store.disk_full.bridge",
        fault="`serve` with the span store on a 2 MiB tmpfs filling up, then room again",
        cases=len(span_ids(acknowledged)),
        outcome=f"{len(acknowledged) // 5 - 1} requests answered 200 until the disk was full, then "
                "503 with Retry-After naming 'database or disk is full'; /healthz 503 degraded; "
                "after room was made the next request was kept and /healthz said ok, no restart",
        lost=lost,
        method="`test_bridge_refuses_what_a_full_store_cannot_keep_and_recovers` mounts a tmpfs "
               "(root), fills it with a ballast file, posts to a BridgeServer in the test process "
               "and looks for every acknowledged span id at the in-process receiver.",
    )
    assert span_ids(acknowledged) <= received
    roots = {workflow_span_id_for(store_child.trace_id(i)).hex() for i in acknowledged}
    assert roots <= received


def test_library_counts_what_a_full_store_could_not_keep(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", "2m") as fs, OTLPReceiver() as receiver:
        receiver.stop()
        ballast = fs / "ballast"
        fill(ballast, keep_free=300 * 1024)
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, store=fs / "s.db",
                                   retry_deadline=300, schedule_delay=0.05)
        try:
            for first in range(0, 400, 10):
                assert exporter.submit_items(traces(first, 10)) == []
                exporter.force_flush(0.01)
            report = exporter.force_flush(1)
            assert not report.delivered
            dropped = exporter.stats.destinations["otlp"].dropped.get("store_full", 0)
            assert dropped > 0
            assert exporter.stats.store_write_errors > 0
            assert "full" in exporter.stats.store_problem
            assert exporter.store is not None and exporter.store.write_problem

            ballast.unlink()
            assert exporter.submit_items(traces(1000, 3)) == []
            exporter.force_flush(1)
            assert exporter.store.write_problem is None and exporter.stats.store_problem == ""
            receiver.restart()
            assert exporter.shutdown(30).delivered
        finally:
            exporter.shutdown(1)
        received = {s.span_id for s in receiver.spans()}
    assert span_ids([1000, 1001, 1002]) <= received
    assert len(span_ids(list(range(400)))) - len(span_ids(list(range(400))) & received) == dropped


def test_send_counts_store_full_and_fails(tmp_path: Path) -> None:
    lines = [json.dumps(item) for item in store_child.items(60)]
    source = tmp_path / "traces.jsonl"
    source.write_text("\n".join(lines) + "\n")
    with small_filesystem(tmp_path / "fs", "1m") as fs, OTLPReceiver() as receiver:
        fill(fs / "ballast", keep_free=200 * 1024)
        env = dict(os.environ, COLUMNS="200")
        done = subprocess.run(
            [sys.executable, "-c", "from agent_otlp.cli import main; main()", "send", str(source),
             "--store", str(fs / "s.db"), "--adapter", "otlp", "--endpoint", receiver.endpoint,
             "--timeout", "20"],
            capture_output=True, text=True, env=env, timeout=120,
        )
    assert done.returncode == ExitCode.UNDELIVERED, done.stdout + done.stderr
    assert "store_full=" in done.stdout
    assert "Traceback" not in done.stderr


def test_commands_writing_to_a_full_store_say_so_in_one_line(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", "1m") as fs:
        store = fs / "s.db"
        SpanStore(store).close()
        fill(fs / "ballast", keep_free=40 * 1024)
        done = subprocess.run(
            [sys.executable, "-c", "from agent_otlp.cli import main; main()", "destinations", "add",
             "prod", "--adapter", "otlp", "--endpoint", "http://127.0.0.1:4318", "--store", str(store)],
            capture_output=True, text=True, timeout=60, env=dict(os.environ, COLUMNS="200"),
        )
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: span store {store} cannot write: database or disk is full"], done.stderr
