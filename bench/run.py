"""``python -m bench run``: every workload, with and without batch-by-ids, plus load and soak."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import compression, concurrency, engine, fragment_bomb, inproc
from bench.measure import (
    closed_loop,
    describe,
    facade_client,
    ok,
    percentile,
    same_data,
    upstream_requests,
)
from bench.procs import (
    cpu_seconds,
    peak_rss_mb,
    reset_peak_rss,
    running,
    start_facade,
    start_sandbox,
)
from bench.report import write_reports
from bench.workloads import TOKEN, Workload, count_fields, discover
from resolvers.wire import WireEngine

RESULTS = Path(__file__).parent / "results"
LATENCY_MS = 20.0


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


async def run_mode(batch: bool, opts: argparse.Namespace, out: dict[str, Any]) -> None:
    mode = "batch" if batch else "no-batch"
    with running(start_sandbox(batch_ids=batch, latency_ms=LATENCY_MS)) as sandbox:
        # Idle connections expire before the sandbox's 5 s keep-alive, as the facade's do:
        # the W5 CPU rounds leave this pool idle for several seconds.
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200,
                              keepalive_expiry=4.0)  # fmt: skip
        # The aggregator runs on the engine the facade defaults to (the fastest measured).
        async with (
            httpx.AsyncClient(base_url=sandbox.url + "/api/v1/", auth=(TOKEN, ""),
                              transport=WireEngine(limits)) as upstream,
            httpx.AsyncClient(base_url=sandbox.url) as stats,
        ):  # fmt: skip
            workloads = await discover(upstream)
            rows: dict[str, Any] = {}
            with running(start_facade(sandbox.url)) as facade:
                client = facade_client(facade.port)
                try:
                    for w in workloads:
                        log(f"[{mode}] {w.key} {w.title}")
                        rows[w.key] = await measure_workload(
                            w, batch, opts, sandbox.url, upstream, stats, client, facade.pid
                        )
                finally:
                    await client.close()
                if not opts.quick_skip_load:
                    await load_phase(workloads, facade.port, facade.pid, opts, rows, out,
                                     mode=mode, soak=batch)  # fmt: skip
            if not opts.quick_skip_load:
                with running(start_facade(sandbox.url, workers=2)) as facade2:
                    for w in workloads:
                        body = w.body()
                        for conc in (1, 8, 32):
                            res = await closed_loop(facade2.port, [body], conc, opts.window)
                            rows[w.key]["throughput"][f"w2_c{conc}"] = res.summary()
                            log(f"[{mode}] {w.key} workers=2 c={conc}: {res.per_second:.1f}/s")
            out["modes"][mode] = rows


async def measure_workload(
    w: Workload,
    batch: bool,
    opts: argparse.Namespace,
    upstream_url: str,
    upstream: httpx.AsyncClient,
    stats: httpx.AsyncClient,
    client: Any,
    facade_pid: int,
) -> dict[str, Any]:
    body = w.body()
    answers: list[bytes] = []

    async def via_facade() -> None:
        status, data = await client.post(body)
        if not ok(status, data):
            errors = orjson.loads(data).get("errors") if data.startswith(b"{") else data[:300]
            raise RuntimeError(f"{w.key}: facade answered {status}: {str(errors)[:600]}")
        answers.append(data)

    agg_answers: list[bytes] = []

    async def via_aggregator() -> None:
        agg_answers.append(await w.aggregate(upstream, batch))

    for _ in range(3):  # warm: caches, pooled connections, batch-capability detection
        await via_facade()
        await via_aggregator()
    facade_requests = await upstream_requests(stats, via_facade)
    aggregator_requests = await upstream_requests(stats, via_aggregator)
    inproc_requests, facade_waves = await inproc.facade_waves(upstream_url, w)
    _, aggregator_waves = await inproc.aggregator_waves(upstream_url, w, batch)
    result = orjson.loads(answers[-1])
    fields = count_fields(result["data"])

    facade_lat: list[float] = []
    agg_lat: list[float] = []
    agg_cpu = 0.0
    cpu_before = cpu_seconds(facade_pid)
    for _ in range(opts.samples):  # interleaved, so background noise hits both alike
        t = time.perf_counter()
        await via_facade()
        facade_lat.append(time.perf_counter() - t)
        t, c = time.perf_counter(), time.process_time()
        await via_aggregator()
        agg_lat.append(time.perf_counter() - t)
        agg_cpu += time.process_time() - c
    cpu = cpu_seconds(facade_pid) - cpu_before
    f50, a50 = statistics.median(facade_lat), statistics.median(agg_lat)
    row: dict[str, Any] = {
        **describe(w),
        "optimal_requests": w.optimal[batch],
        "facade_requests": facade_requests,
        "facade_requests_inprocess": inproc_requests,
        "aggregator_requests": aggregator_requests,
        "facade_waves": facade_waves,
        "aggregator_waves": aggregator_waves,
        "same_data_as_aggregator": same_data(answers[-1], agg_answers[-1]),
        "result_bytes": len(answers[-1]),
        "resolved_fields": fields,
        "samples": opts.samples,
        "facade_p50_ms": round(f50 * 1000, 2),
        "facade_p95_ms": round(percentile(facade_lat, 0.95) * 1000, 2),
        "aggregator_p50_ms": round(a50 * 1000, 2),
        "aggregator_p95_ms": round(percentile(agg_lat, 0.95) * 1000, 2),
        "latency_ratio": round(f50 / a50, 3),
        "latency_overhead_ms": round((f50 - a50) * 1000, 2),
        "cpu_us_per_field": round(cpu / opts.samples / fields * 1e6, 2),
        "cpu_ms_per_op": round(cpu / opts.samples * 1000, 2),
        "aggregator_cpu_ms_per_op": round(agg_cpu / opts.samples * 1000, 2),
        "throughput": {},
    }
    log(f"    requests {facade_requests}/{w.optimal[batch]} (agg {aggregator_requests}), "
        f"waves {facade_waves}/{w.depth}, p50 {f50 * 1000:.1f} vs {a50 * 1000:.1f} ms, "
        f"{row['cpu_us_per_field']} us/field, same data: {row['same_data_as_aggregator']}")  # fmt: skip
    if w.key == "W5":
        payload = (await upstream.get("customers", params={"limit": 100})).content
        cpu = await inproc.cpu_per_field(payload, w, result, fields)
        core, own = cpu["graphql_core_us_per_field"], cpu["facade_inprocess_us_per_field"]
        row.update({k: round(v, 3) for k, v in cpu.items()})
        row["cpu_ratio_to_graphql_core_whole_process"] = round(row["cpu_us_per_field"] / core, 3)
        log(f"    graphql-core {core:.2f} us/field; facade in-process {own:.2f} us/field "
            f"(x {cpu['cpu_ratio_to_graphql_core']:.2f}, median of {cpu['cpu_ratio_rounds']:.0f} "
            f"interleaved rounds; worst x {cpu['cpu_ratio_max']:.2f})")  # fmt: skip
    return row


async def load_phase(
    workloads: list[Workload],
    port: int,
    pid: int,
    opts: argparse.Namespace,
    rows: dict[str, Any],
    out: dict[str, Any],
    *,
    mode: str,
    soak: bool,
) -> None:
    """Throughput and peak memory per workload; then, if ``soak``, the mixed soak."""
    for w in workloads:
        reset_peak_rss(pid)
        body = w.body()
        for conc in (1, 8, 32):
            res = await closed_loop(port, [body], conc, opts.window)
            rows[w.key]["throughput"][f"w1_c{conc}"] = res.summary()
            log(f"[{mode}] {w.key} workers=1 c={conc}: {res.per_second:.1f}/s, {res.errors} errors")
        rows[w.key]["peak_rss_mb"] = round(peak_rss_mb(pid), 1)
    if not soak:
        return
    log(f"[{mode}] soak: 32 clients, all workloads mixed, {opts.soak} s")
    reset_peak_rss(pid)
    result = await closed_loop(port, [w.body() for w in workloads], 32, opts.soak)
    out["soak"] = {**result.summary(), "clients": 32, "workloads": [w.key for w in workloads],
                   "peak_rss_mb": round(peak_rss_mb(pid), 1)}  # fmt: skip
    log(f"    {result.ops} operations, {result.errors} errors, {result.per_second:.1f}/s")


async def main_async(opts: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    out: dict[str, Any] = {
        "meta": {
            "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "upstream_latency_ms": LATENCY_MS,
            "samples": opts.samples,
            "window_s": opts.window,
        },
        "modes": {},
    }
    for batch in (True, False):
        await run_mode(batch, opts, out)
    log("fragment bomb: refusal time at 15 and 30 levels")
    out["fragment_bomb"] = await fragment_bomb.measure()
    log("compression: W5 bytes and CPU per answer, identity / gzip / br / zstd")
    out["compression"] = await compression.measure()
    if not opts.quick_skip_load:
        log("concurrency: distinct operations at 1, 8, 32 clients, per engine")
        out["concurrency"] = await concurrency.measure(opts.conc_window, opts.long, log)
    log("engine: CPU per upstream request by engine and requests in flight; replayed stack")
    out["engine"] = await engine.measure(rounds=opts.engine_rounds, count=opts.engine_count)
    out["meta"]["duration_s"] = round(time.monotonic() - started, 1)
    return out


def _check_uvloop() -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return None
    return uvloop


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench run")
    parser.add_argument("--samples", type=int, default=40, help="sequential runs per workload")
    parser.add_argument("--window", type=float, default=2.0, help="seconds per throughput cell")
    parser.add_argument("--soak", type=float, default=60.0, help="soak seconds (32 clients)")
    parser.add_argument("--quick-skip-load", action="store_true", help="no throughput or soak")
    parser.add_argument("--conc-window", type=float, default=2.5,
                        help="seconds per distinct-operation concurrency cell")  # fmt: skip
    parser.add_argument("--long", type=float, default=20.0,
                        help="seconds of the long distinct-W3 run (first vs second half)")  # fmt: skip
    parser.add_argument("--engine-rounds", type=int, default=2)
    parser.add_argument("--engine-count", type=int, default=800)
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args(argv)
    uvloop = _check_uvloop()
    result = uvloop.run(main_async(opts)) if uvloop else asyncio.run(main_async(opts))
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "latest.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    write_reports(result, opts.out)
    log(f"wrote {opts.out}/latest.json, latest.md, latest.png, concurrency.png in "
        f"{result['meta']['duration_s']} s")  # fmt: skip
    return 0
