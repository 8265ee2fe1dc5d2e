"""``python -m bench engine``: CPU per upstream request, by engine and by requests in flight.

Two measurements, both in this process (``time.process_time``), the server elsewhere:

* **transport alone, over sockets** — ``httpx.AsyncClient`` over each engine against
  ``bench/canned.py`` (its own process; the same 2 KiB answer after 20 ms), with 1, 8,
  32 and 128 requests in flight, and once more at 8 after the pool has grown to 128
  connections (httpcore scans every pooled connection per request). Engines:
  ``httpcore`` as configured (300 connections, 100 kept alive), ``httpcore-small``
  (32 connections: queueing instead of a big pool), ``httpcore-sharded`` (4 pools of
  75, each request to the least busy), ``aiohttp`` (:class:`resolvers.engine.AiohttpEngine`),
  ``httptools`` (:class:`resolvers.wire.WireEngine`), each ``-lean`` over the facade's
  own ``UpstreamClient``;
* **replayed, no sockets** — a transport that answers canned bytes instantly: the
  bare ``httpx.AsyncClient`` over it, and the facade's whole client stack
  (``UpstreamSession.get``: single flight, ETag cache, retry budget, breakers,
  bulkhead, tracing, metrics, bounded body) over it, inside an operation scope; each
  request a distinct URL, so neither the cache nor single flight answers it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.canned import BODY
from bench.procs import LOOPBACK, free_port
from resolvers.client import SpacesClient, UpstreamSession
from resolvers.engine import AiohttpEngine, UpstreamClient
from resolvers.resilience import operation_scope
from resolvers.wire import WireEngine
from spaces_graphql.settings import Settings

RESULTS = Path(__file__).parent / "results"
IN_FLIGHT = (1, 8, 32, 128)
ENGINES = ("httpcore", "httpcore-small", "httpcore-sharded", "aiohttp", "aiohttp-lean",
           "httptools", "httptools-lean")  # fmt: skip


class Sharded(httpx.AsyncBaseTransport):
    """Several httpcore pools; each request goes to the one with the fewest in flight."""

    def __init__(self, shards: int, limits: httpx.Limits) -> None:
        per = max(1, (limits.max_connections or 100) // shards)
        keep = max(1, (limits.max_keepalive_connections or per) // shards)
        self._pools = [
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(
                    max_connections=per,
                    max_keepalive_connections=keep,
                    keepalive_expiry=limits.keepalive_expiry,
                )
            )
            for _ in range(shards)
        ]
        self._busy = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = self._busy.index(min(self._busy))
        self._busy[i] += 1
        try:
            response = await self._pools[i].handle_async_request(request)
        except BaseException:
            self._busy[i] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        inner: httpx.AsyncByteStream = response.stream
        busy = self._busy

        class _Stream(httpx.AsyncByteStream):
            async def __aiter__(self) -> Any:
                async for chunk in inner:
                    yield chunk

            async def aclose(self) -> None:
                busy[i] -= 1
                await inner.aclose()

        response.stream = _Stream()
        return response

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def make_transport(engine: str) -> httpx.AsyncBaseTransport:
    """One of :data:`ENGINES`, shaped like the facade's defaults."""
    s = Settings()
    limits = httpx.Limits(max_connections=s.max_connections,
                          max_keepalive_connections=s.max_keepalive_connections,
                          keepalive_expiry=s.keepalive_expiry)  # fmt: skip
    if engine == "httpcore":
        return httpx.AsyncHTTPTransport(limits=limits)
    if engine == "httpcore-small":
        return httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=32,
                max_keepalive_connections=32,
                keepalive_expiry=s.keepalive_expiry,
            )
        )
    if engine == "httpcore-sharded":
        return Sharded(4, limits)
    if engine in ("aiohttp", "aiohttp-lean"):
        return AiohttpEngine(limits)
    if engine in ("httptools", "httptools-lean"):
        return WireEngine(limits)
    raise ValueError(engine)


def make_client(engine: str, **kwargs: Any) -> httpx.AsyncClient:
    """The client over ``engine``: ``*-lean`` is the facade's own
    (:class:`resolvers.engine.UpstreamClient`, whose ``send`` skips httpx's cookie jar,
    auth flow and redirect loop); the others are a plain ``httpx.AsyncClient``."""
    transport = make_transport(engine)
    if engine.endswith("-lean"):
        return UpstreamClient(transport=transport, **kwargs)
    return httpx.AsyncClient(transport=transport, **kwargs)


async def _closed_loop(in_flight: int, count: int, one: Callable[[int], Awaitable[Any]]) -> float:
    """CPU seconds of this process per call, ``count`` calls with ``in_flight`` at once."""
    counter = iter(range(count))

    async def worker() -> None:
        for n in counter:
            await one(n)

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return (time.process_time() - cpu) / count


async def over_sockets(rounds: int, count: int) -> dict[str, Any]:
    """CPU µs per request by engine and in-flight count (median of interleaved rounds)."""
    port = free_port()
    server = _start_canned(port)
    try:
        await _wait_port(port)
        url = f"http://{LOOPBACK}:{port}/api/v1/customers"
        cells: dict[str, dict[str, list[float]]] = {e: {} for e in ENGINES}
        for _ in range(rounds):
            for engine in ENGINES:  # interleaved: a noisy spell hits every engine alike
                async with make_client(engine) as c:

                    async def one(n: int) -> None:
                        async with c.stream("GET", url, params={"n": n}) as r:
                            await r.aread()

                    await _closed_loop(8, 200, one)  # warm: connections open
                    for label, k in [*((str(k), k) for k in IN_FLIGHT), ("8-after-128", 8)]:
                        per = await _closed_loop(k, count if k > 1 else count // 8, one)
                        cells[engine].setdefault(label, []).append(per * 1e6)
        return {e: {k: round(statistics.median(v), 1) for k, v in row.items()}
                for e, row in cells.items()}  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)


def _start_canned(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.canned", str(port), "20"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


async def _wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, w = await asyncio.open_connection(LOOPBACK, port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the canned upstream did not start")


class Replayed(httpx.AsyncBaseTransport):
    """Answers every request at once with the same canned 200 (and an ``ETag``)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=[(b"content-type", b"application/json"),
                                            (b"etag", b'"canned"'),
                                            (b"content-length", str(len(BODY)).encode())],
                              content=BODY)  # fmt: skip


async def replayed(rounds: int, count: int) -> dict[str, Any]:
    """CPU µs per request without sockets: bare httpx, the facade's lean httpx client
    (:class:`UpstreamClient`) and the facade's whole client stack over it."""
    settings = Settings(upstream_url="http://127.0.0.1:9/api/v1")
    runs: dict[str, list[float]] = {"bare": [], "lean": [], "stack": []}
    for _ in range(rounds):
        for label, cls in (("bare", httpx.AsyncClient), ("lean", UpstreamClient)):
            async with cls(transport=Replayed(), base_url=settings.upstream_url) as c:

                async def plain(n: int, c: httpx.AsyncClient = c) -> None:
                    async with c.stream("GET", f"{settings.upstream_url}/customers?n={n}") as r:
                        await r.aread()

                runs[label].append(await _closed_loop(8, count, plain) * 1e6)
        client = SpacesClient(settings, Replayed())
        try:
            session = client.session("demo-alice")

            async def stacked(n: int, session: UpstreamSession = session) -> None:
                await session.get("customers", {"limit": 10, "n": n})

            with operation_scope(30.0):
                runs["stack"].append(await _closed_loop(8, count, stacked) * 1e6)
        finally:
            await client.aclose()
    bare_us, lean_us, stack_us = (statistics.median(runs[k]) for k in ("bare", "lean", "stack"))
    return {"httpx_client_us": round(bare_us, 1), "upstream_client_us": round(lean_us, 1),
            "facade_stack_us": round(stack_us, 1), "facade_own_us": round(stack_us - lean_us, 1),
            "rounds": rounds, "requests_per_round": count}  # fmt: skip


async def measure(rounds: int = 3, count: int = 1500) -> dict[str, Any]:
    """Both measurements, for ``bench run`` (``engine`` in the JSON) and ``bench engine``."""
    return {"sockets_us_per_request": await over_sockets(rounds, count),
            "replayed": await replayed(rounds, count * 2),
            "in_flight": list(IN_FLIGHT)}  # fmt: skip


def describe(result: dict[str, Any]) -> str:
    """The engine section of ``latest.md``; empty when the run has none."""
    e = result.get("engine")
    if not e:
        return ""
    labels = [str(k) for k in e["in_flight"]] + ["8-after-128"]
    lines = ["**Upstream HTTP engine: CPU µs per request, by requests in flight** "
             "(httpx.AsyncClient + transport alone, canned 2 KiB answer after 20 ms, "
             "medians of interleaved rounds)", "",
             "| engine | " + " | ".join(labels) + " |",
             "| --- |" + " --- |" * len(labels)]  # fmt: skip
    for engine, row in e["sockets_us_per_request"].items():
        lines.append(f"| {engine} | " + " | ".join(f"{row.get(k, '-')}" for k in labels) + " |")
    r = e["replayed"]
    lean = r.get("upstream_client_us")
    lines += ["", "`*-lean` is the facade's own client over that engine "
              "(`resolvers.engine.UpstreamClient`: no cookie jar, auth flow or redirect loop).",
              "", f"Replayed upstream (no sockets, distinct URLs, 8 in flight): bare "
              f"httpx.AsyncClient {r['httpx_client_us']} µs per request"
              + (f"; the facade's UpstreamClient {lean} µs" if lean is not None else "")
              + f"; the facade's client stack (UpstreamSession.get: single flight, ETag cache, "
              f"breakers, bulkhead, retry budget, tracing, metrics, bounded body) "
              f"{r['facade_stack_us']} µs, of which its own {r['facade_own_us']} µs."]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench engine")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=1500, help="requests per cell")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    opts = parser.parse_args(argv)
    try:
        import uvloop

        result = uvloop.run(measure(opts.rounds, opts.count))
    except ImportError:  # pragma: no cover
        result = asyncio.run(measure(opts.rounds, opts.count))
    print(describe({"engine": result}))
    if opts.out:
        opts.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0
