"""The ingest bridge under load: 16 concurrent clients posting valid, partly invalid and broken
payloads to ``agent-otlp serve`` (its own process, so its memory is measured alone) in front
of a slow backend. It must stay responsive, answer 429 under pressure, keep its memory
bounded, and lose nothing a client was told was accepted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest.importorskip("agents")

from _reliability import record
from agent_otlp.sources.bridge import INGEST_PATH
from agent_otlp.testing import OTLPReceiver, Reply
from test_bridge_ops import call

CLIENTS = 16
REQUESTS = 60
MAX_PENDING = 2_000


def payload(n_valid: int = 30) -> tuple[bytes, list[str]]:
    trace = f"trace_{uuid.uuid4().hex}"
    items: list[Any] = [{"object": "trace", "id": trace, "workflow_name": "load"}]
    ids = []
    for i in range(n_valid - 1):
        span = f"span_{uuid.uuid4().hex[:24]}"
        ids.append(span)
        items.append({"object": "trace.span", "id": span, "trace_id": trace, "parent_id": None,
                      "started_at": "2025-01-02T03:04:05Z", "ended_at": "2025-01-02T03:04:06Z",
                      "span_data": {"type": "function", "name": f"tool{i}", "input": "x" * 500}})
    items.insert(3, {"object": "trace.span", "id": "bad_type", "trace_id": trace, "span_data": 7})
    items.append({"object": "nope"})
    return json.dumps({"data": items}).encode(), ids


@pytest.mark.timeout(240)
def test_bridge_under_load(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200", XDG_DATA_HOME=str(tmp_path / "data"),
               # one request of 100 spans in flight: the backend below takes ~2,000 spans/s,
               # fewer than the clients send
               AGENT_OTLP_BATCH_SIZE="100", AGENT_OTLP_MAX_IN_FLIGHT="1")
    with OTLPReceiver() as receiver:
        receiver.set_handler(lambda request: Reply(delay=0.05))  # ~2,000 spans/s at 100/request
        command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
                   "--adapter", "otlp", "--endpoint", receiver.endpoint, "--port", "0",
                   "--no-store", "--max-pending", str(MAX_PENDING), "--retry-after", "0.2",
                   "--trace-idle-timeout", "2"]
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            assert "POST http://127.0.0.1:" in line, line + server.stderr.read() if server.stderr else ""
            url = line.split("POST ", 1)[1].split(INGEST_PATH)[0]
            process = psutil.Process(server.pid)
            rss: list[int] = [process.memory_info().rss]
            statuses: Counter[int] = Counter()
            accepted_ids: set[str] = set()
            problems: list[str] = []
            lock = threading.Lock()
            throttled_waits: list[float] = []

            def client(number: int) -> None:
                for n in range(REQUESTS):
                    if n % 5 == 4:
                        try:
                            status, _, _ = call(url, body=b'{"data": [{"object": ', timeout=30)
                        except OSError as exc:
                            problems.append(repr(exc))
                            return
                        with lock:
                            statuses[status] += 1
                        if status not in (400, 429):
                            problems.append(f"broken body answered {status}")
                        continue
                    body, ids = payload()
                    for _attempt in range(60):  # a client that honours 429 + Retry-After
                        try:
                            status, headers, raw = call(url, body=body, timeout=30)
                        except OSError as exc:
                            problems.append(repr(exc))
                            return
                        with lock:
                            statuses[status] += 1
                        if status == 429:
                            wait = float(headers.get("retry-after", "1"))
                            throttled_waits.append(wait)
                            time.sleep(wait)
                            continue
                        reply = json.loads(raw)
                        if status != 400 or reply.get("accepted") != len(ids) + 1:
                            problems.append(f"{status} {reply}")
                        with lock:
                            accepted_ids.update(ids)
                        break

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            health: list[float] = []
            while any(t.is_alive() for t in threads):
                t0 = time.monotonic()
                status, _, _ = call(url, "GET", "/healthz", timeout=10)
                health.append(time.monotonic() - t0)
                assert status == 200
                rss.append(process.memory_info().rss)
                time.sleep(0.05)
            for thread in threads:
                thread.join(60)
            load_seconds = time.monotonic() - started
            assert not problems, problems[:5]
            assert statuses[429] > 0, statuses
            assert not [s for s in statuses if s >= 500], statuses
            # everything a client was told was accepted arrives
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got = {s.attributes.get("openai_agents.span_id") for s in receiver.spans()}
                if accepted_ids <= got:
                    break
                time.sleep(0.25)
            missing = accepted_ids - got
            peak = max(rss)
            server.send_signal(signal.SIGTERM)
            _out, err = server.communicate(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
                server.communicate()
    assert server.returncode == 0, err[-2000:]
    assert not missing, len(missing)
    health.sort()
    p50, p99, worst = health[len(health) // 2], health[int(len(health) * 0.99)], health[-1]
    assert worst < 2.0
    assert peak < 400 * 2**20
    requests_total = sum(statuses.values())
    record(
        "bridge.load",
        fault=f"{CLIENTS} concurrent clients x {REQUESTS} requests (30 valid + 2 invalid items, "
              "every 5th body broken) to `agent-otlp serve` in front of a backend taking ~2,000 "
              f"spans/s, --max-pending {MAX_PENDING:,}, no store",
        cases=requests_total,
        outcome=f"answers: {dict(sorted(statuses.items()))} (429 with Retry-After under "
                f"pressure, 0 answers 5xx); /healthz p50 {p50 * 1000:.0f} ms, p99 "
                f"{p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms over {len(health)} probes in "
                f"{load_seconds:.0f} s; server peak RSS {peak / 2**20:.0f} MiB; "
                f"{len(accepted_ids):,} accepted spans, all delivered",
        lost=len(missing),
        method="`test_bridge_under_load` runs the real `serve` command in a subprocess (RSS "
               "sampled with psutil), clients that honour 429/Retry-After in threads, and "
               "looks for every accepted span id at the in-process receiver.",
        peak_rss_mib=round(peak / 2**20, 1),
    )
