"""Mechanisms the upstream client uses to survive a failing upstream.

Each class here is a mechanism with no opinion of its own: the numbers come
from :class:`~resolvers.config.UpstreamConfig` and *when* to use each one is
decided in ``resolvers/client.py`` (the one place for upstream policy).

* :class:`OperationScope`: one GraphQL operation's deadline and its in-flight
  upstream reads, found through a context variable so that loader batch tasks
  (which aiodataloader runs outside the resolver that asked) still see it.
* :class:`RetryBudget`: retries may add at most a fraction of the traffic.
* :func:`backoff_delay`: full-jitter exponential backoff.
* The circuit breakers (:class:`CircuitBreaker`, :class:`ScopedBreakers`) live in
  ``resolvers/breakers.py`` and are re-exported here.
* :class:`RetryAfterGate`: honour an upstream 429's ``Retry-After`` per token.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from resolvers.breakers import Admission as Admission
from resolvers.breakers import BreakerScope as BreakerScope
from resolvers.breakers import CircuitBreaker as CircuitBreaker
from resolvers.breakers import CircuitOpen as CircuitOpen
from resolvers.breakers import Clock
from resolvers.breakers import FailureKind as FailureKind
from resolvers.breakers import ScopedBreakers as ScopedBreakers


class OperationScope:
    """One operation's deadline and the upstream reads it is waiting on."""

    def __init__(self, deadline_seconds: float | None, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.deadline = None if deadline_seconds is None else clock() + deadline_seconds
        self._waiting: set[asyncio.Future[Any]] = set()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (negative once past), or None without one."""
        return None if self.deadline is None else self.deadline - self._clock()

    def track(self, future: asyncio.Future[Any]) -> None:
        self._waiting.add(future)
        future.add_done_callback(self._waiting.discard)

    def cancel_pending(self) -> int:
        """Cancel every upstream read still running for this operation; returns how many."""
        pending = [f for f in self._waiting if not f.done()]
        for future in pending:
            future.cancel()
        return len(pending)


_SCOPE: contextvars.ContextVar[OperationScope | None] = contextvars.ContextVar(
    "spaces_graphql_operation_scope", default=None
)


def current_scope() -> OperationScope | None:
    """The running operation's scope; None outside an operation (e.g. hook bookkeeping)."""
    return _SCOPE.get()


@contextmanager
def operation_scope(deadline_seconds: float | None) -> Iterator[OperationScope]:
    """Run an operation inside a scope; on exit (cancellation included) stop its reads.

    Reads still running when the operation ends serve no one: the client went
    away, or graphql-core gave up on a branch after a sibling failed.
    """
    scope = OperationScope(deadline_seconds)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)
        scope.cancel_pending()


class RetryBudget:
    """Retries allowed while they stay within ``ratio`` of the requests of a sliding window.

    Counted in one-second buckets over ``window`` seconds, so the cost per call
    is constant. ``floor`` retries per window are always allowed: at idle a lone
    request would otherwise never earn a retry (20% of one request is nothing).
    """

    def __init__(
        self, ratio: float, window: float = 10.0, floor: int = 2, clock: Clock = time.monotonic
    ) -> None:
        self.ratio = ratio
        self.floor = floor
        self._clock = clock
        self._buckets = max(1, math.ceil(window))
        self._requests = [0] * self._buckets
        self._retries = [0] * self._buckets
        self._stamps = [-1] * self._buckets

    def _slot(self) -> int:
        second = int(self._clock())
        slot = second % self._buckets
        if self._stamps[slot] != second:
            self._stamps[slot] = second
            self._requests[slot] = self._retries[slot] = 0
        return slot

    def _totals(self) -> tuple[int, int]:
        oldest = int(self._clock()) - self._buckets
        live = [i for i, stamp in enumerate(self._stamps) if stamp > oldest]
        return sum(self._requests[i] for i in live), sum(self._retries[i] for i in live)

    def record_request(self) -> None:
        """Count one first attempt (retries are counted by :meth:`try_spend`)."""
        self._requests[self._slot()] += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget if it has room."""
        slot = self._slot()
        requests, retries = self._totals()
        if retries + 1 > self.ratio * requests + self.floor:
            return False
        self._retries[slot] += 1
        return True


def backoff_delay(
    attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Full jitter: uniform in ``[0, min(cap, base * 2**attempt))`` (attempt 0 = first retry).

    Jitter spreads the retries of many callers that failed together, so they do
    not come back together.
    """
    return float(rand() * min(cap, base * 2.0**attempt))


class RateLimited429(Exception):
    """Calls for this token wait ``retry_after`` more seconds (the upstream said so)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:.1f} s")
        self.retry_after = retry_after


class RetryAfterGate:
    """Per-key "not before" times set by upstream 429 answers (bounded)."""

    def __init__(self, max_keys: int = 100_000, clock: Clock = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._max_keys = max_keys
        self._clock = clock

    def check(self, key: str) -> None:
        until = self._until.get(key)
        if until is None:
            return
        left = until - self._clock()
        if left > 0:
            raise RateLimited429(left)
        del self._until[key]

    def block(self, key: str, seconds: float) -> None:
        now = self._clock()
        if len(self._until) >= self._max_keys:
            self._until = {k: t for k, t in self._until.items() if t > now}
            if len(self._until) >= self._max_keys:
                # Still full of live entries: forget the soonest to expire.
                self._until.pop(min(self._until, key=self._until.__getitem__))
        self._until[key] = max(self._until.get(key, 0.0), now + seconds)


def parse_retry_after(value: str | None, default: float, cap: float = 3600.0) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), bounded."""
    if value:
        text = value.strip()
        if text.isascii() and text.isdigit():
            return min(cap, float(text))
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return default
        return min(cap, max(0.0, when.timestamp() - time.time()))
    return default
