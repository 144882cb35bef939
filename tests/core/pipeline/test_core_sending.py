"""The sending chain (retry -> breaker -> observed -> transport) through the shipped fake
transport and a fake clock: outages of seconds, played in milliseconds."""

from __future__ import annotations

import functools
import random
import threading
import time
from typing import Any

from agent_otlp.core.pipeline.retry import Backoff, CircuitBreaker
from agent_otlp.core.pipeline.sending import BreakerSender, ObservedSender, RetrySender
from agent_otlp.core.pipeline.stats import DestinationStats
from agent_otlp.core.wire.transport import HandlerTransport, SendResult

UNAVAILABLE = SendResult(False, True, None, "503", "unavailable")


class FakeClock:
    """A clock that moves only when the chain waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False


class Chain:
    def __init__(self, answers: list[SendResult | None], *, deadline: float = 1.0,
                 threshold: int = 1000, durable: bool = False) -> None:
        self.clock = FakeClock()
        self.stats = DestinationStats("d")
        self.stop = threading.Event()
        self.requests = 0

        def handler(request: Any) -> SendResult | None:
            self.requests += 1
            return answers.pop(0) if answers else None

        lock = threading.Lock()
        observed = ObservedSender("d", "http://127.0.0.1:1", 1.0, HandlerTransport(handler),
                                  self.stats, lock, self.clock)
        breaker = CircuitBreaker(threshold=threshold, clock=self.clock)
        self.retry = RetrySender(
            BreakerSender(breaker, observed, self.stats, lock), observed,
            retry_deadline=deadline, durable=durable, stop=self.stop, stats=self.stats,
            lock=lock, backoff=functools.partial(Backoff, 0.1, 0.4, random.Random(7)),
            clock=self.clock, wait=self.clock.wait,
        )


def test_a_request_is_given_up_past_the_retry_deadline() -> None:
    chain = Chain([UNAVAILABLE] * 100, deadline=1.0)
    started = time.monotonic()
    assert chain.retry.send(b"", 3)
    assert time.monotonic() - started < 1.0  # the fake clock waited, not the wall clock
    assert chain.stats.dropped == {"failed": 3}
    assert chain.stats.retries == chain.requests - 1 >= 2
    assert chain.clock.now <= 1.0


def test_the_breaker_holds_a_request_through_an_outage_until_delivered() -> None:
    chain = Chain([UNAVAILABLE] * 12, deadline=0.5, threshold=3)
    assert chain.retry.send(b"", 5)
    assert chain.requests == 13
    assert chain.stats.exported == 5 and not chain.stats.dropped
    assert chain.stats.breaker_opened >= 2 and chain.stats.breaker == "closed"
    assert chain.clock.now > 10  # cool-downs of 1, 2, 4... seconds, past every deadline


def test_a_refused_request_fails_at_once() -> None:
    chain = Chain([SendResult(False, False, None, "400", "bad data")])
    assert chain.retry.send(b"", 2)
    assert chain.requests == 1 and chain.stats.retries == 0
    assert chain.stats.dropped == {"failed": 2} and chain.stats.failed_batches == 1


def test_a_stored_request_is_kept_when_stopping() -> None:
    chain = Chain([UNAVAILABLE] * 100, durable=True)
    chain.stop.set()
    assert not chain.retry.send(b"", 4)  # neither delivered nor given up: still stored
    assert not chain.stats.dropped
    memory = Chain([UNAVAILABLE] * 100)
    memory.stop.set()
    assert memory.retry.send(b"", 4)
    assert memory.stats.dropped == {"failed": 4}
