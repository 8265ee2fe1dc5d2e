"""Compressed answers: W5's bytes and the facade's CPU per answer, by coding (issue 17).

W5 (``customers(first: 100)``, 10 fields each, ~28 KB of JSON) is answered by the
facade's own ASGI app in-process, its upstream answer replayed (no sockets, as in
``bench/inproc.py``), with ``Accept-Encoding`` identity, gzip, br and zstd at the
default settings (``compression_level`` 6, ``compression_min_bytes`` 1024). For
each: the answer's bytes, and the CPU of one answer (ASGI call to encoded and
compressed body), in interleaved rounds so a slow spell of a shared machine hits
every coding alike; medians over the rounds. The per-field figure is set against
graphql-core executing the same result (W5's CPU budget, ``bench/README.md``).
``python -m bench compression`` runs it alone and merges it into ``latest.json``.
"""

from __future__ import annotations

import asyncio
import gzip
import statistics
import time
from typing import Any

import brotli
import httpx
import orjson
import zstandard

from bench.inproc import _core_executor, post_graphql
from bench.standalone import merge_case
from bench.workloads import TOKEN, W5_QUERY, Workload, count_fields
from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.compression import Coding, compressor
from spaces_graphql.settings import Settings

CODINGS = ("identity", "gzip", "br", "zstd")
DECODE = {
    "identity": lambda b: b,
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda b: zstandard.ZstdDecompressor().decompress(b),
}
#: W5's budget (``make bench-check``): facade CPU per field <= this x graphql-core's.
MAX_CPU_RATIO = 1.5


async def _nothing(c: httpx.AsyncClient, batch: bool) -> bytes:
    return b""


W5 = Workload("W5", "customers(first: 100), 10 fields each", 1, W5_QUERY, None,
              {True: 1, False: 1}, "1 customers page (Spaces embedded)", _nothing)  # fmt: skip


async def measure(rounds: int = 15, seconds: float = 0.2) -> dict[str, Any]:
    """Per coding: answer bytes, CPU µs per answer and per field, ratio to graphql-core.

    ``compression_us`` is the coding's own cost, timed alone on the same body: the
    difference of two whole-answer medians is lost in a shared machine's noise.
    """
    sandbox = create_sandbox(SandboxConfig())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox"
    ) as c:
        upstream = await c.get("/api/v1/customers", params={"limit": 100}, auth=(TOKEN, ""))
        upstream.raise_for_status()
    payload = upstream.content

    def replay(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"content-type": "application/json"})

    settings = Settings.load({"rate_limit_points": 0, "profile": "production"}, environ={})
    app = create_app(settings, transport=httpx.MockTransport(replay))
    body = W5.body()

    request_headers = [(b"authorization", f"Bearer {TOKEN}".encode()),
                       (b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]  # fmt: skip

    async def answer(coding: str) -> tuple[bytes, dict[str, str]]:
        return await post_graphql(
            app, body, [*request_headers, (b"accept-encoding", coding.encode())], want_headers=True
        )

    cpu: dict[str, list[float]] = {c: [] for c in CODINGS}
    alone: dict[str, list[float]] = {c: [] for c in CODINGS}
    core_us: list[float] = []
    sizes: dict[str, int] = {}
    async with app.router.lifespan_context(app):
        plain, _ = await answer("identity")
        result = orjson.loads(plain)
        if "errors" in result:
            raise RuntimeError(f"W5 answered with errors: {plain[:300]!r}")
        fields = count_fields(result["data"])
        core = _core_executor(W5, result)
        for coding in CODINGS:
            raw, headers = await answer(coding)
            if headers.get("content-encoding", "identity") != coding:
                raise RuntimeError(f"{coding}: answered as {headers.get('content-encoding')}")
            if orjson.loads(DECODE[coding](raw)) != result:
                raise RuntimeError(f"{coding}: the decoded answer differs")
            sizes[coding] = len(raw)
            for _ in range(20):
                await answer(coding)
        for _ in range(rounds):
            n, start = 0, time.process_time()
            while time.process_time() - start < seconds:
                core()
                n += 1
            core_us.append((time.process_time() - start) / n / fields * 1e6)
            for coding in CODINGS:
                n, start = 0, time.process_time()
                while time.process_time() - start < seconds:
                    await answer(coding)
                    n += 1
                cpu[coding].append((time.process_time() - start) / n * 1e6)
                if coding == "identity":
                    alone[coding].append(0.0)
                    continue
                squeeze = compressor(Coding(coding), settings.compression_level)
                n, start = 0, time.process_time()
                while time.process_time() - start < seconds / 4:
                    squeeze(plain)
                    n += 1
                alone[coding].append((time.process_time() - start) / n * 1e6)
    core_field = statistics.median(core_us)
    out: dict[str, Any] = {
        "workload": "W5",
        "resolved_fields": fields,
        "compression_level": settings.compression_level,
        "compression_min_bytes": settings.compression_min_bytes,
        "graphql_core_us_per_field": round(core_field, 3),
        "budget_ratio": MAX_CPU_RATIO,
        "rounds": rounds,
        "codings": {},
    }
    for coding in CODINGS:
        per_answer = statistics.median(cpu[coding])
        out["codings"][coding] = {
            "bytes": sizes[coding],
            "bytes_ratio": round(sizes[coding] / sizes["identity"], 3),
            "cpu_us_per_answer": round(per_answer, 1),
            "compression_us": round(statistics.median(alone[coding]), 1),
            "cpu_us_per_field": round(per_answer / fields, 3),
            "cpu_ratio_to_graphql_core": round(per_answer / fields / core_field, 3),
        }
    return out


def verdict(result: dict[str, Any]) -> tuple[bool, str]:
    """W5's CPU budget, with every coding: facade CPU per field <= 1.5 x graphql-core."""
    rows = result.get("compression", {}).get("codings")
    if not rows:
        return False, f"W5 compressed: CPU per field <= {MAX_CPU_RATIO} x graphql-core (no results)"
    met = all(r["cpu_ratio_to_graphql_core"] <= MAX_CPU_RATIO for r in rows.values())
    detail = ", ".join(f"{c} x {r['cpu_ratio_to_graphql_core']}" for c, r in rows.items())
    return met, f"W5 compressed: CPU per field <= {MAX_CPU_RATIO} x graphql-core ({detail})"


def describe(result: dict[str, Any]) -> str:
    """One Markdown paragraph for ``latest.md``."""
    c = result.get("compression")
    if not c:
        return ""
    cells = "; ".join(
        f"{coding} {r['bytes']:,} bytes ({r['bytes_ratio']:.0%}), "
        f"{r['cpu_us_per_answer'] / 1000:.2f} ms CPU per answer (+{r['compression_us']:.0f} µs), "
        f"x {r['cpu_ratio_to_graphql_core']:.2f} graphql-core per field"
        for coding, r in c["codings"].items()
    )
    return (
        f"Compressed answers (W5 in-process, level {c['compression_level']}, answers of "
        f"{c['compression_min_bytes']}+ bytes, medians of {c['rounds']} interleaved rounds): "
        f"{cells}."
    )


def main(argv: list[str]) -> int:
    """``python -m bench compression``: run this case alone; merge it into ``latest.json``."""
    result = asyncio.run(measure())
    return merge_case("compression", result, verdict, result["codings"])
