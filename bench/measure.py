"""Measuring: upstream counts and waves, latency, throughput, CPU per field, soak."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bench.procs import LOOPBACK
from bench.rawhttp import RawClient
from bench.workloads import TOKEN, Workload


@dataclass
class Call:
    start: float
    end: float = 0.0


@dataclass
class Recording(httpx.AsyncBaseTransport):
    """Wraps a transport and records when each upstream request starts and ends."""

    inner: httpx.AsyncBaseTransport
    calls: list[Call] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = Call(time.monotonic())
        self.calls.append(call)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        call.end = time.monotonic()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def waves(self) -> int:
        """Sequential rounds: a call that starts after some call of the current round ended
        belongs to a new round (the same rule as the test suite's)."""
        waves, round_end = 0, -1.0
        for call in sorted(self.calls, key=lambda c: c.start):
            if waves == 0 or call.start >= round_end:
                waves += 1
                round_end = float("inf")
            round_end = min(round_end, call.end)
        return waves


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def facade_client(port: int) -> RawClient:
    return RawClient(LOOPBACK, port, "/graphql", {"Authorization": f"Bearer {TOKEN}"})


def ok(status: int, body: bytes) -> bool:
    """A complete answer: HTTP 200 and no ``errors``."""
    return status == 200 and b'"errors"' not in body


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    t = time.perf_counter()
    await fn()
    return time.perf_counter() - t


@dataclass
class Load:
    ops: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    #: When each operation ended, seconds after the start (for first/second-half figures).
    ends: list[float] = field(default_factory=list)
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies or [0.0]
        return {"ops": self.ops, "errors": self.errors, "seconds": round(self.seconds, 2),
                "ops_per_s": round(self.per_second, 1),
                "p50_ms": round(statistics.median(lat) * 1000, 1),
                "p95_ms": round(percentile(lat, 0.95) * 1000, 1),
                "first_error": self.first_error[:300]}  # fmt: skip


async def closed_loop(port: int, bodies: list[bytes], concurrency: int, seconds: float) -> Load:
    """``concurrency`` clients, each sending the next body as soon as its answer arrives,
    starting new operations for ``seconds``; operations still running then are awaited and
    counted, and the rate is over the whole time (long operations are not lost)."""
    load = Load()
    start = time.perf_counter()
    deadline = start + seconds

    async def client(n: int) -> None:
        c = facade_client(port)
        i = n
        try:
            while (t := time.perf_counter()) < deadline:
                body = bodies[i % len(bodies)]
                i += 1
                try:
                    status, data = await c.post(body)
                    good = ok(status, data)
                except (OSError, RuntimeError, asyncio.IncompleteReadError) as exc:
                    good, status, data = False, 0, repr(exc).encode()
                load.ops += 1
                end = time.perf_counter()
                load.latencies.append(end - t)
                load.ends.append(end - start)
                if not good:
                    load.errors += 1
                    if not load.first_error:
                        load.first_error = f"{status}: {data[:300]!r}"
        finally:
            await c.close()

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    load.seconds = time.perf_counter() - start
    return load


def same_data(facade: bytes, aggregator: bytes) -> bool:
    """Whether the aggregator assembled the same ``data`` as the facade answered."""
    return bool(orjson.loads(facade).get("data") == orjson.loads(aggregator).get("data"))


async def upstream_requests(stats: httpx.AsyncClient, fn: Callable[[], Awaitable[Any]]) -> int:
    """Upstream requests made by ``fn``, counted by the sandbox."""
    await stats.post("/_sandbox/stats/reset")
    await fn()
    snapshot = (await stats.get("/_sandbox/stats")).json()
    return int(snapshot["requests"])


def describe(w: Workload) -> dict[str, Any]:
    return {"title": w.title, "depth": w.depth, "plan": w.plan, "facts": w.facts}
