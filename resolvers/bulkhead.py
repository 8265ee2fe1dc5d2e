"""Admission in front of the upstream connection pool: bulkheads between tokens.

httpx's pool is one FIFO queue: when one token's requests hang and hold every
connection, everyone else waits for *them* and fails with ``PoolTimeout``. The
:class:`Bulkhead` decides who may start an exchange before httpx sees it:

* at most ``capacity`` exchanges in flight (the pool's size), so httpx's own pool
  never makes anyone wait;
* at most ``per_key`` in flight per key (a token hash), so one token fills at most
  its share and others always find free connections;
* waiters are served fairly: when a connection frees, the waiting key with the
  fewest exchanges in flight goes first (FIFO within a key, then by arrival);
* a waiter gives up after its own timeout (:class:`AdmissionTimeout`), which fails
  only that caller.

A mechanism only: ``resolvers/client.py`` picks the numbers and the keys.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field


class AdmissionTimeout(Exception):
    """No connection became free for this key within its wait timeout."""

    def __init__(self, waited: float, at_key_limit: bool) -> None:
        why = "its token's share of connections is in use" if at_key_limit else "the pool is full"
        super().__init__(f"no upstream connection within {waited:.2f} s ({why})")
        self.waited = waited
        self.at_key_limit = at_key_limit


@dataclass(slots=True)
class _Waiter:
    seq: int
    future: asyncio.Future[None] = field(repr=False)


class Bulkhead:
    """At most ``capacity`` admitted at once, ``per_key`` per key, fair among waiting keys."""

    def __init__(self, capacity: int, per_key: int) -> None:
        if not 1 <= per_key <= capacity:
            raise ValueError("per_key must be within 1..capacity")
        self.capacity = capacity
        self.per_key = per_key
        self.in_flight = 0
        self._by_key: dict[str, int] = {}
        self._waiting: dict[str, deque[_Waiter]] = {}
        self._seq = itertools.count()
        self.waited_total = 0
        self.timeouts_total = 0

    def in_flight_of(self, key: str) -> int:
        """Exchanges of ``key`` admitted and not yet released."""
        return self._by_key.get(key, 0)

    def waiting_of(self, key: str) -> int:
        """Callers of ``key`` waiting for admission."""
        return len(self._waiting.get(key, ()))

    @asynccontextmanager
    async def slot(self, key: str, wait: float | None) -> AsyncIterator[None]:
        """Hold one admission for ``key`` for the body of the ``async with``."""
        await self.acquire(key, wait)
        try:
            yield
        finally:
            self.release(key)

    async def acquire(self, key: str, wait: float | None) -> None:
        """Wait (at most ``wait`` seconds; None: no limit) until ``key`` may start one
        exchange; :class:`AdmissionTimeout` past it."""
        if key not in self._waiting and self._admissible(key):
            self._admit(key)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(next(self._seq), future)
        self._waiting.setdefault(key, deque()).append(waiter)
        self.waited_total += 1
        started = time.monotonic()
        try:
            async with asyncio.timeout(wait):
                await future
        except BaseException as exc:
            if future.done() and not future.cancelled():
                # Admitted in the same tick as the timeout/cancellation: hand it back.
                self.release(key)
            else:
                future.cancel()
                self._forget(key, waiter)
            if isinstance(exc, TimeoutError):
                self.timeouts_total += 1
                at_limit = self.in_flight_of(key) >= self.per_key
                raise AdmissionTimeout(time.monotonic() - started, at_limit) from None
            raise

    def release(self, key: str) -> None:
        """One exchange of ``key`` ended; admit whoever is due."""
        self.in_flight -= 1
        left = self._by_key[key] - 1
        if left:
            self._by_key[key] = left
        else:
            del self._by_key[key]
        self._dispatch()

    def _admissible(self, key: str) -> bool:
        return self.in_flight < self.capacity and self._by_key.get(key, 0) < self.per_key

    def _admit(self, key: str) -> None:
        self.in_flight += 1
        self._by_key[key] = self._by_key.get(key, 0) + 1

    def _forget(self, key: str, waiter: _Waiter) -> None:
        queue = self._waiting.get(key)
        if queue is None:
            return
        with suppress(ValueError):
            queue.remove(waiter)
        if not queue:
            del self._waiting[key]

    def _dispatch(self) -> None:
        # Linear in the keys that wait: few at a time (one per busy token), and a heap
        # would need re-keying on every admission and release.
        while self.in_flight < self.capacity and self._waiting:
            best: str | None = None
            best_rank = (0, 0)
            for key, queue in self._waiting.items():
                held = self._by_key.get(key, 0)
                if held >= self.per_key:
                    continue
                rank = (held, queue[0].seq)
                if best is None or rank < best_rank:
                    best, best_rank = key, rank
            if best is None:
                return
            queue = self._waiting[best]
            waiter = queue.popleft()
            if not queue:
                del self._waiting[best]
            if waiter.future.done():
                continue  # gave up; its removal raced this dispatch
            self._admit(best)
            waiter.future.set_result(None)

    def gauges(self) -> dict[str, float]:
        """In flight and waiting, by class of token (never by token: unbounded, and a leak)."""
        at_limit = sum(
            len(q) for k, q in self._waiting.items() if self.in_flight_of(k) >= self.per_key
        )
        waiting = sum(len(q) for q in self._waiting.values())
        return {
            "pool_capacity": float(self.capacity),
            "pool_per_token_limit": float(self.per_key),
            "pool_in_flight": float(self.in_flight),
            "pool_tokens_in_flight": float(len(self._by_key)),
            "pool_max_token_in_flight": float(max(self._by_key.values(), default=0)),
            "pool_waiters": float(waiting),
            "pool_waiters_at_token_limit": float(at_limit),
            "pool_waiters_pool_full": float(waiting - at_limit),
            "pool_tokens_waiting": float(len(self._waiting)),
            "pool_waited_total": float(self.waited_total),
            "pool_wait_timeouts_total": float(self.timeouts_total),
        }
