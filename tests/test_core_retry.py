"""Retries, backoff, the circuit breaker, the bounded queue and secret-free failure logs."""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

import agent_otlp
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.core.pipeline.destination import Destination
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.core.pipeline.retry import Backoff, CircuitBreaker, RetryPolicy
from agent_otlp.factory import resolve_all, resource_for
from agent_otlp.store.outbox import StoreOutbox
from agent_otlp.store.reader import StoreSource
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver, Reply

TRACE = "trace_" + "cd" * 16


def items(n: int) -> list[dict[str, Any]]:
    return [
        {"object": "trace.span", "id": f"span_{i:024x}", "trace_id": TRACE,
         "span_data": {"type": "custom", "name": f"s{i}"}}
        for i in range(n)
    ]


def make(receiver: OTLPReceiver, **kwargs: Any) -> AgentExporter:
    kwargs.setdefault("schedule_delay", 0.02)
    if receiver.protocol == "grpc":
        kwargs.setdefault("protocol", "grpc")
    return agent_otlp.create_exporter("otlp", endpoint=receiver.endpoint, env={}, **kwargs)


def with_policy(policy: RetryPolicy, endpoint: str, *, store: Path | None = None,
                **kwargs: Any) -> AgentExporter:
    """An exporter to one otlp destination whose backoff and breaker are ``policy``'s, built
    as ``create_exporter`` builds it (with a span store at ``store``)."""
    settings, hooks = resolve_all("otlp", endpoint=endpoint, env={}, **kwargs)[0]
    span_store = SpanStore(store) if store is not None else None
    source = None
    if span_store is not None:
        options = ConvertOptions(settings.capture_content, settings.legacy_attributes)
        source = StoreSource(span_store, settings.name, options)
    destination = Destination(settings, hooks, hooks.make_transport(settings),
                              resource_for(settings, hooks), sampling=False, source=source,
                              policy=policy)
    outbox = StoreOutbox(span_store) if span_store is not None else None
    return AgentExporter([destination], outbox=outbox)


def fast(receiver: OTLPReceiver, **kwargs: Any) -> AgentExporter:
    """:func:`make`, with short backoffs and a breaker opening after 3 failures for 0.2-0.4 s."""
    kwargs.setdefault("schedule_delay", 0.02)
    if receiver.protocol == "grpc":
        kwargs.setdefault("protocol", "grpc")
    return with_policy(FAST, receiver.endpoint, **kwargs)


FAST = RetryPolicy(
    backoff=functools.partial(Backoff, 0.01, 0.05),
    breaker=functools.partial(CircuitBreaker, threshold=3, open_base=0.2, open_max=0.4),
)


def dest_stats(exporter: AgentExporter) -> dict[str, Any]:
    return exporter.stats.snapshot()["destinations"]["otlp"]  # type: ignore[no-any-return]


# --- unit ---------------------------------------------------------------------------------


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    import random

    backoff = Backoff(0.1, 1.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    for attempt, delay in enumerate(delays):
        ceiling = min(1.0, 0.1 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert Backoff().next_delay(2.5) == 2.5
    assert Backoff().next_delay(10_000) == 300.0


def test_breaker_opens_probes_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, open_base=1.0, open_max=4.0, clock=lambda: now[0])
    breaker.failure()
    assert breaker.state == breaker.CLOSED and breaker.wait_time() == 0
    breaker.failure()
    assert breaker.state == breaker.OPEN and breaker.opened == 1
    assert breaker.wait_time() == pytest.approx(1.0)
    now[0] = 1.0
    assert breaker.wait_time() == 0 and breaker.state == breaker.HALF_OPEN
    breaker.failure()  # the probe fails: open again, longer
    assert breaker.state == breaker.OPEN and breaker.wait_time() == pytest.approx(2.0)
    now[0] = 3.0
    breaker.wait_time()
    breaker.success()
    assert breaker.state == breaker.CLOSED and breaker.failures == 0
    breaker.failure(retry_after=10)
    breaker.failure()
    assert breaker.wait_time() == pytest.approx(1.0)


# --- against the receiver ---------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_http_statuses_are_retried(
    otlp_receiver: OTLPReceiver, status: int
) -> None:
    otlp_receiver.respond_with(Reply(status=status), Reply(status=status))
    exporter = fast(otlp_receiver)
    exporter.submit_items(items(2))
    report = exporter.shutdown(10)
    assert report.delivered
    assert otlp_receiver.span_count() == 3
    stats = dest_stats(exporter)
    assert stats["retries"] == 2
    assert stats["exported"] == 3
    assert stats["dropped_total"] == 0


@pytest.mark.parametrize("code", ["UNAVAILABLE", "RESOURCE_EXHAUSTED"])
def test_retryable_grpc_codes_are_retried(
    otlp_receiver_factory: Any, code: str
) -> None:
    receiver = otlp_receiver_factory("grpc")
    receiver.respond_with(Reply(grpc_code=getattr(grpc.StatusCode, code)))
    exporter = fast(receiver)
    exporter.submit_items(items(1))
    assert exporter.shutdown(10).delivered
    assert dest_stats(exporter)["retries"] == 1
    assert receiver.span_count() == 2


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_retry_after_is_honoured(otlp_receiver_factory: Any, protocol: str) -> None:
    receiver = otlp_receiver_factory(protocol)
    arrivals: list[float] = []

    def handler(request: Any) -> Reply | None:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return Reply(status=429, grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED
                         if protocol == "grpc" else None, retry_after=1)
        return None

    receiver.set_handler(handler)
    exporter = make(receiver)
    exporter.submit_items(items(1))
    assert exporter.shutdown(10).delivered
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.9


def test_non_retryable_status_fails_the_batch(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.set_handler(lambda request: Reply(status=400, message="bad data"))
    exporter = make(otlp_receiver)
    exporter.submit_items(items(2))
    report = exporter.shutdown(5)
    assert not report.delivered
    stats = dest_stats(exporter)
    assert stats["failed_batches"] == 1
    assert stats["dropped"]["failed"] == 3
    assert stats["retries"] == 0
    assert len(otlp_receiver.requests) == 1


def test_retry_deadline_gives_up(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.set_handler(lambda request: Reply(status=503))
    never_opens = RetryPolicy(backoff=FAST.backoff,
                              breaker=functools.partial(CircuitBreaker, threshold=1000))
    exporter = with_policy(never_opens, otlp_receiver.endpoint, schedule_delay=0.02,
                           retry_deadline=0.3)
    exporter.submit_items(items(1))
    started = time.monotonic()
    report = exporter.force_flush(10)
    assert time.monotonic() - started < 5
    assert not report.delivered
    stats = dest_stats(exporter)
    assert stats["dropped"]["failed"] == 1  # the workflow span only comes at shutdown
    assert stats["retries"] >= 1
    exporter.shutdown(1)


def test_breaker_opens_and_resumes_without_losing_spans(
    otlp_receiver: OTLPReceiver
) -> None:
    exporter = fast(otlp_receiver, batch_size=5, retry_deadline=0.5)
    otlp_receiver.stop()
    exporter.submit_items(items(12))
    deadline = time.monotonic() + 10
    while dest_stats(exporter)["breaker_opened"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dest_stats(exporter)["breaker_opened"] >= 1
    # held through the outage, even past retry_deadline
    time.sleep(0.6)
    assert dest_stats(exporter)["dropped_total"] == 0
    flush = exporter.force_flush(0.2)
    assert not flush.delivered and flush.pending == 12
    otlp_receiver.restart()
    report = exporter.force_flush(10)
    assert report.delivered, report
    assert otlp_receiver.span_count() == 12
    stats = dest_stats(exporter)
    assert stats["breaker"] == "closed"
    assert stats["dropped_total"] == 0
    assert exporter.shutdown(5).delivered
    assert otlp_receiver.span_count() == 13


def test_shutdown_with_open_breaker_accounts_for_everything(
    otlp_receiver: OTLPReceiver
) -> None:
    exporter = fast(otlp_receiver, batch_size=3)
    otlp_receiver.stop()
    exporter.submit_items(items(7))
    report = exporter.shutdown(0.5)
    assert not report.delivered
    stats = dest_stats(exporter)
    assert stats["exported"] == 0
    assert stats["dropped_total"] == stats["received"] == 8


def test_queue_overflow_drops_and_counts(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.set_handler(lambda request: Reply(delay=0.3))
    exporter = make(otlp_receiver, max_queue_size=5, batch_size=2)
    for start in range(0, 40, 4):
        exporter.submit_items(items(40)[start:start + 4])
        time.sleep(0.01)
    exporter.shutdown(10)
    stats = dest_stats(exporter)
    assert stats["dropped"]["queue_full"] > 0
    assert stats["exported"] + stats["dropped_total"] == stats["received"] == 41
    assert stats["exported"] == otlp_receiver.span_count()


def test_failures_logged_once_per_burst_without_secrets(
    otlp_receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    token = "sk-live-0123456789abcdef"
    otlp_receiver.set_handler(
        lambda request: Reply(status=401, message=f"token {token} is not valid")
    )
    with caplog.at_level(logging.DEBUG, logger="agent_otlp"):
        exporter = make(otlp_receiver, batch_size=1,
                        headers={"Authorization": f"Bearer {token}"})
        exporter.submit_items(items(4))
        exporter.force_flush(5)
        otlp_receiver.set_handler(None)
        exporter.submit_items(items(1))
        exporter.shutdown(5)
    failing = [r for r in caplog.records if "failing" in r.getMessage()]
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(failing) == 1
    assert len(recovered) == 1
    assert otlp_receiver.requests[0].headers["authorization"] == f"Bearer {token}"
    stats = exporter.stats.snapshot()
    settings = exporter.destinations[0].settings
    texts = [caplog.text, repr(stats), repr(settings), str(settings.describe()),
             repr(exporter.destinations[0].stats)]
    for text in texts:
        assert token not in text
    assert "401" in stats["destinations"]["otlp"]["last_error"]


def test_unreachable_endpoint_never_raises() -> None:
    exporter = with_policy(FAST, "http://127.0.0.1:9", schedule_delay=0.01, retry_deadline=0.2,
                           timeout=0.5)
    exporter.submit_items(items(2))
    report = exporter.shutdown(1)
    assert not report.delivered
    stats = dest_stats(exporter)
    assert stats["exported"] == 0
    assert stats["dropped_total"] == stats["received"] == 3
