"""Throttling and outages: Retry-After honoured, the breaker opening, probing and closing, and
nothing lost across a backend outage in the middle of a stream."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

import agent_otlp
from _reliability import record
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.testing import OTLPReceiver, Reply
from test_core_retry import FAST, dest_stats, with_policy


def span_items(prefix: str, start: int, n: int, trace: str) -> list[dict[str, Any]]:
    return [
        {"object": "trace.span", "id": f"span_{prefix}{i:010d}", "trace_id": trace,
         "span_data": {"type": "custom", "name": f"s{i}"}}
        for i in range(start, start + n)
    ]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_throttling_retry_after_is_honoured(otlp_receiver_factory: Any, protocol: str) -> None:
    receiver = otlp_receiver_factory(protocol)
    plan = [(429, grpc.StatusCode.RESOURCE_EXHAUSTED, 1.0), (503, grpc.StatusCode.UNAVAILABLE, 2.0),
            (429, grpc.StatusCode.RESOURCE_EXHAUSTED, 0.5)]
    arrivals: list[float] = []

    def handler(request: Any) -> Reply | None:
        arrivals.append(time.monotonic())
        if len(arrivals) <= len(plan):
            status, code, after = plan[len(arrivals) - 1]
            return Reply(status=status, grpc_code=code if protocol == "grpc" else None,
                         retry_after=after)
        return None

    receiver.set_handler(handler)
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.02,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
    )
    exporter.submit_items(span_items("ra", 0, 5, "trace_" + "ab" * 16))
    assert exporter.force_flush(30).delivered
    waits = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) == len(plan) + 1
    for (_, _, after), waited in zip(plan, waits, strict=False):
        assert waited >= after - 0.05, (after, waited)
    assert receiver.span_count() == 5
    assert exporter.shutdown(10).delivered
    record(
        f"outage.retry_after.{protocol}",
        fault=f"{'429 and 503' if protocol == 'http' else 'RESOURCE_EXHAUSTED and UNAVAILABLE'} "
              f"with Retry-After 1 s, 2 s, 0.5 s ({'header' if protocol == 'http' else 'gRPC RetryInfo'})",
        cases=len(plan),
        outcome="each retry waited at least what was asked: "
                + ", ".join(f"{w:.2f}s for {a:g}s" for (_, _, a), w in zip(plan, waits, strict=False))
                + "; then delivered",
        lost=0,
        method=f"`test_throttling_retry_after_is_honoured[{protocol}]`: an in-process receiver "
               "scripts the answers and timestamps each request.",
    )


def _stream(exporter: AgentExporter, prefix: str, seconds: float, trace: str,
            sent: list[str]) -> threading.Thread:
    def run() -> None:
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = span_items(prefix, n, 20, trace)
            exporter.submit_items(batch)
            sent.extend(item["id"] for item in batch)
            n += 20
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("store", [True, False], ids=["store", "memory"])
@pytest.mark.timeout(120)
def test_outage_during_a_stream(
    otlp_receiver: OTLPReceiver, tmp_path: Path, store: bool
) -> None:
    exporter = with_policy(
        FAST, otlp_receiver.endpoint, schedule_delay=0.05, batch_size=50,
        retry_deadline=1.0, timeout=1.0, store=tmp_path / "s.db" if store else None,
    )
    sent: list[str] = []
    producer = _stream(exporter, "out", 8.0, "trace_" + "cd" * 16, sent)
    time.sleep(1.5)
    otlp_receiver.stop()
    down_at = time.monotonic()
    deadline = down_at + 10
    while dest_stats(exporter)["breaker_opened"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    opened_after = time.monotonic() - down_at
    time.sleep(max(0.0, 4.0 - opened_after))
    requests_in_outage = dest_stats(exporter)["requests"]
    assert dest_stats(exporter)["breaker"] != "closed"
    otlp_receiver.restart()
    outage = time.monotonic() - down_at
    producer.join(30)
    report = exporter.shutdown(30)
    assert report.delivered, report
    stats = dest_stats(exporter)
    got = {s.attributes.get("openai_agents.span_id") for s in otlp_receiver.spans()}
    missing = set(sent) - got
    assert not missing, len(missing)
    assert stats["breaker_opened"] >= 1 and stats["breaker"] == "closed"
    assert stats["dropped_total"] == 0
    record(
        f"outage.stream.{'store' if store else 'memory'}",
        fault=f"backend down for {outage:.1f} s in the middle of an 8 s stream "
              f"({'span store on' if store else 'span store off, in-memory queue'})",
        cases=len(sent),
        outcome=f"breaker opened {stats['breaker_opened']}x ({opened_after:.1f}s after the "
                f"outage began), probed ({requests_in_outage} requests in all by then), closed "
                f"when the receiver came back; {len(sent)} spans sent, all arrived",
        lost=len(missing),
        method=f"`test_outage_during_a_stream[{'store' if store else 'memory'}]`: a producer "
               "thread submits 1,000 spans/s while the in-process receiver is stopped and "
               "restarted on the same port; span ids are compared at the receiver.",
    )


def test_breaker_probes_a_dead_backend(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.set_handler(lambda request: Reply(status=503))
    exporter = with_policy(FAST, otlp_receiver.endpoint, schedule_delay=0.02, batch_size=10)
    exporter.submit_items(span_items("pr", 0, 10, "trace_" + "ef" * 16))
    time.sleep(3.0)
    seen = len(otlp_receiver.requests)
    stats = dest_stats(exporter)
    assert stats["breaker_opened"] >= 2  # opened, probed, reopened
    assert seen < 30  # probes, not a retry storm: 3 s at 0.2-0.4 s cool-downs
    otlp_receiver.set_handler(None)
    assert exporter.force_flush(10).delivered
    assert dest_stats(exporter)["breaker"] == "closed"
    assert otlp_receiver.span_count() == 10
    exporter.shutdown(5)
    record(
        "outage.breaker",
        fault="a backend answering 503 to everything for 3 s, then healthy",
        cases=seen,
        outcome=f"{seen} requests in 3 s (breaker opened {stats['breaker_opened']}x, one probe "
                "per cool-down, no retry storm); closed on the first success; the batch held "
                "through the failures was delivered",
        lost=0,
        method="`test_breaker_probes_a_dead_backend` counts requests at the in-process receiver "
               "(breaker threshold 3, cool-down 0.2-0.4 s for the test).",
    )
