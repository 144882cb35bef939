"""Backpressure: an agent producing ten times what the backend can take, for 60 seconds.

The producer runs in its own process (so that its peak RSS is its own) and feeds real Agents
SDK spans through the live processor; the backend is an in-process receiver in this process
whose capacity is limited by a delay per request. Memory must stay bounded, drops must follow
the documented policy (counted as ``queue_full``; exported + dropped == produced, exactly) and
the agent thread's cost per span must stay small.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("agents")

from _reliability import record
from agent_otlp.testing import OTLPReceiver, Reply

SECONDS = 60.0
DELAY = 0.1  # per request
BATCH = 100
CAPACITY = BATCH / DELAY  # spans per second the backend takes
RATE = 10 * CAPACITY
QUEUE = 5_000

PRODUCER = textwrap.dedent('''
    import json, resource, sys, threading, time
    import psutil
    import agent_otlp
    from agents.tracing import custom_span, set_trace_processors, trace

    endpoint, seconds, rate, batch, queue = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=endpoint, env={}, batch_size=batch, max_queue_size=queue,
        max_in_flight=1, schedule_delay=0.05, retry_deadline=5.0, timeout=5.0)
    processor = agent_otlp.make_processor(exporter)
    set_trace_processors([])
    # a pool of real, finished SDK spans (made without processors), replayed at the target rate
    pool = []
    for t in range(20):
        with trace(f"bp{t}") as tr:
            for i in range(50):
                with custom_span(f"step{i}", {"i": i, "text": "x" * 200}) as span:
                    pass
                pool.append(span)
    def peak_rss():
        # VmHWM: ru_maxrss would start at the size of the process that started this one
        # (Linux keeps it across exec), here pytest's
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    proc = psutil.Process()
    rss = []
    stop = threading.Event()
    def sample():
        while not stop.wait(1.0):
            rss.append(proc.memory_info().rss)
    threading.Thread(target=sample, daemon=True).start()
    produced = 0
    spent = 0
    start = time.perf_counter()
    tick = 0.01
    per_tick = int(rate * tick)
    while True:
        now = time.perf_counter()
        if now - start >= seconds:
            break
        due = int((now - start) / tick) * per_tick
        while produced < due:
            span = pool[produced % len(pool)]
            t0 = time.perf_counter_ns()
            processor.on_span_end(span)
            spent += time.perf_counter_ns() - t0
            produced += 1
        time.sleep(tick / 2)
    elapsed = time.perf_counter() - start
    report = exporter.shutdown(5.0)
    stop.set()
    snap = exporter.stats.snapshot()
    print(json.dumps({
        "produced": produced, "elapsed": elapsed, "us_per_span": spent / produced / 1000,
        "peak_rss": peak_rss(),
        "rss": rss, "stats": snap, "delivered": report.delivered,
    }))
''')


@pytest.mark.timeout(300)
def test_ten_times_capacity_for_sixty_seconds(tmp_path: Path) -> None:
    script = tmp_path / "producer.py"
    script.write_text(PRODUCER)
    with OTLPReceiver() as receiver:
        receiver.set_handler(lambda request: Reply(delay=DELAY))
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(script), receiver.endpoint, str(SECONDS), str(RATE), str(BATCH),
             str(QUEUE)],
            capture_output=True, text=True, timeout=240,
        )
        wall = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        received_at_backend = receiver.span_count()
    stats = result["stats"]
    dest = stats["destinations"]["otlp"]
    produced = result["produced"]
    dropped = dest["dropped"]
    # every span accounted for, exactly: intake drops + destination outcomes
    assert stats["received_items"] + stats["dropped_intake_full"] == produced
    workflow = dest["received"] - stats["converted_spans"]  # one synthesized span per trace
    assert 0 <= workflow <= 20
    assert dest["exported"] + dest["dropped_total"] == dest["received"]
    assert dest["exported"] == received_at_backend
    assert set(dropped) <= {"queue_full", "shutdown"}, dropped
    assert dropped.get("queue_full", 0) > 0
    exported_spans = dest["exported"]
    lost = produced + workflow - exported_spans
    assert lost == stats["dropped_intake_full"] + dest["dropped_total"]
    # throughput close to capacity, memory flat, agent thread cheap
    assert exported_spans >= 0.5 * CAPACITY * SECONDS
    rss = result["rss"]
    steady = rss[len(rss) // 4:]
    growth = max(steady) - steady[0]
    assert result["peak_rss"] < 600 * 2**20
    assert growth < 64 * 2**20, [r // 2**20 for r in rss]
    assert result["us_per_span"] < 500
    mib = result["peak_rss"] / 2**20
    record(
        "backpressure.10x",
        fault=f"live SDK spans at {RATE:,.0f}/s for {SECONDS:.0f} s into a backend taking "
              f"{CAPACITY:,.0f}/s ({DELAY:g} s per {BATCH}-span request); queue {QUEUE:,} spans",
        cases=produced,
        outcome=f"peak RSS {mib:.0f} MiB, RSS growth after warm-up {growth / 2**20:.1f} MiB; "
                f"{exported_spans:,} exported (~{exported_spans / result['elapsed']:,.0f}/s), "
                f"dropped by policy: queue_full {dropped.get('queue_full', 0):,}, at shutdown "
                f"{dropped.get('shutdown', 0):,}, intake {stats['dropped_intake_full']:,}; "
                f"exported + dropped == produced exactly; agent thread "
                f"{result['us_per_span']:.1f} µs/span",
        lost=f"{lost:,} of {produced + workflow:,}, all counted by reason (store off: the "
             "documented drop-newest policy)",
        method="`test_ten_times_capacity_for_sixty_seconds` runs a producer process replaying "
               "finished SDK spans through the live processor at 10x the capacity of an "
               "in-process receiver delayed per request; RSS sampled each second (psutil) and "
               "peak from VmHWM; time in on_span_end measured per call.",
        wall_seconds=round(wall, 1),
        peak_rss_mib=round(mib, 1),
        us_per_span=round(result["us_per_span"], 2),
    )
