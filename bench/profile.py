"""``python -m bench profile W3 [W5 ...]``: where the facade's time goes (pyinstrument).

Runs the facade's app in this process over a real sandbox (20 ms latency,
loopback) and profiles N sequential operations of each workload; writes
``bench/results/profile-<W>.txt``. Needs the ``bench`` extra (pyinstrument).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx

from bench.procs import running, start_sandbox
from bench.run import LATENCY_MS, RESULTS
from bench.workloads import TOKEN, discover
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings


async def profile(keys: list[str], runs: int, out: Path, batch: bool) -> None:
    from pyinstrument import Profiler

    with running(start_sandbox(batch_ids=batch, latency_ms=LATENCY_MS)) as sandbox:
        async with httpx.AsyncClient(base_url=sandbox.url + "/api/v1/", auth=(TOKEN, "")) as up:
            workloads = {w.key: w for w in await discover(up)}
        settings = Settings.load({"upstream_url": sandbox.url + "/api/v1", "rate_limit_points": 0})
        app = create_app(settings)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://f") as c,
        ):
            for key in keys:
                body = workloads[key].body()
                for _ in range(5):
                    await c.post("/graphql", content=body, headers=headers)
                profiler = Profiler(interval=0.0005, async_mode="disabled")
                cpu, wall = time.process_time(), time.perf_counter()
                profiler.start()
                for _ in range(runs):
                    await c.post("/graphql", content=body, headers=headers)
                profiler.stop()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                text = (f"{key}: {runs} operations, {wall / runs * 1000:.1f} ms wall and "
                        f"{cpu / runs * 1000:.2f} ms CPU each (profiler on)\n\n")  # fmt: skip
                text += profiler.output_text(unicode=False, color=False, show_all=False)
                (out / f"profile-{key}.txt").write_text(text, encoding="utf-8")
                print(text.splitlines()[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench profile")
    parser.add_argument("workloads", nargs="*", default=["W3", "W5"])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--no-batch", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args(argv)
    opts.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(profile(opts.workloads, opts.runs, opts.out, not opts.no_batch))
    return 0
