"""Backoff and circuit breaking for one destination.

* Retryable failures (HTTP 408/429/502/503/504, gRPC UNAVAILABLE, RESOURCE_EXHAUSTED...,
  network errors) are retried with exponential backoff and full jitter, starting at
  :data:`BASE_DELAY` and capped at :data:`MAX_DELAY`; a ``Retry-After`` (or gRPC
  ``RetryInfo``) wins over the computed delay. A batch is retried until its deadline.
* After :data:`FAILURE_THRESHOLD` failed requests in a row the breaker opens: the
  destination stops sending and keeps its queue; after a cool-down (doubling from
  :data:`OPEN_BASE` to :data:`OPEN_MAX`) one probe request goes out; success closes the
  breaker and export resumes, failure reopens it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["Backoff", "CircuitBreaker", "RetryPolicy"]

BASE_DELAY: Final = 0.1
MAX_DELAY: Final = 10.0
FAILURE_THRESHOLD: Final = 5
OPEN_BASE: Final = 1.0
OPEN_MAX: Final = 30.0


class Backoff:
    """Delays for successive retries of one request."""

    def __init__(self, base: float = BASE_DELAY, cap: float = MAX_DELAY, rng: random.Random | None = None) -> None:
        self._base, self._cap = base, cap
        self._rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        self.attempt += 1
        if retry_after is not None:
            return float(min(retry_after, 300.0))
        ceiling = min(self._cap, self._base * 2 ** (self.attempt - 1))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))


class CircuitBreaker:
    """closed -> open after repeated failures -> half-open probe -> closed."""

    CLOSED: Final = "closed"
    OPEN: Final = "open"
    HALF_OPEN: Final = "half-open"

    def __init__(
        self,
        threshold: int = FAILURE_THRESHOLD,
        open_base: float = OPEN_BASE,
        open_max: float = OPEN_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._open_base, self._open_max = open_base, open_max
        self._clock = clock
        self.state = self.CLOSED
        self.failures = 0
        self.opened = 0
        self._cooldown = open_base
        self._retry_at = 0.0

    def wait_time(self) -> float:
        """Seconds until a request may go out (0 when it may go now)."""
        if self.state != self.OPEN:
            return 0.0
        remaining = self._retry_at - self._clock()
        if remaining <= 0:
            self.state = self.HALF_OPEN
            return 0.0
        return remaining

    def success(self) -> None:
        self.state = self.CLOSED
        self.failures = 0
        self._cooldown = self._open_base

    def failure(self, retry_after: float | None = None) -> None:
        self.failures += 1
        if self.state == self.HALF_OPEN or self.failures >= self._threshold:
            if self.state != self.OPEN:
                self.opened += 1
            self.state = self.OPEN
            pause = max(self._cooldown, retry_after or 0.0)
            self._retry_at = self._clock() + pause
            self._cooldown = min(self._cooldown * 2, self._open_max)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a destination retries, passed in: a :class:`Backoff` per request, its
    :class:`CircuitBreaker`, and the clock its retry deadlines and request timings read."""

    backoff: Callable[[], Backoff] = Backoff
    breaker: Callable[[], CircuitBreaker] = CircuitBreaker
    clock: Callable[[], float] = time.monotonic
