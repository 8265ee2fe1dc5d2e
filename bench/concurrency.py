"""Throughput and CPU per operation against concurrency, on work that is never repeated.

``python -m bench concurrency`` (and a phase of ``bench run``). The repeated workloads
of ``bench run`` send the same operation again and again, which single flight (identical
requests in flight share one) and the ETag cache (a 304 instead of a body) make cheap.
Here every client cycles through *distinct* operations, each client starting at its own
offset, so concurrent clients ask for different data:

* ``W2d``: ``customer(id:)`` over every customer (250 IDs);
* ``W3d``: W3's shape over 25 distinct windows of 10 customers (``after:`` cursors);
* ``W5d``: W5's shape over 16 distinct windows of 100 customers;
* ``W3r``: W3 itself, repeated (labelled as such: single flight helps it).

Each at 1, 8 and 32 closed-loop clients, in both capability modes, with one facade per
engine (``SPACES_GRAPHQL_UPSTREAM_ENGINE``) measured cell by cell in turn, so that a
noisy spell hits every engine alike. The sandbox is a group of processes sharing one
port (``bench/sandbox_worker.py``), and its CPU is reported next to the facade's, so a
sandbox-bound number shows as one. With batch-by-ids, a long run (``--long`` seconds of
W3d at 8 clients) compares its first and second halves: ops/s, p50, CPU per operation
and the facade's upstream connections (ESTABLISHED sockets, sampled each quarter).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench.measure import closed_loop, facade_client, ok, percentile
from bench.procs import (
    Proc,
    cpu_seconds,
    running,
    start_facade,
    start_sandbox_group,
)
from bench.workloads import W2_QUERY, W3_QUERY, W5_QUERY

CONCURRENCY = (1, 8, 32)
ENGINES = ("httpcore", "aiohttp", "httptools")
LATENCY_MS = 20.0
W3D = W3_QUERY.replace(
    "{ customers(first: 10)", "query($after: String) { customers(first: 10, after: $after)", 1
)
W5D = W5_QUERY.replace(
    "{ customers(first: 100)", "query($after: String) { customers(first: 100, after: $after)", 1
)
_PAGE = """query($after: String) { customers(first: 10, after: $after) {
  nodes { customerId } pageInfo { endCursor hasNextPage } } }"""


def _body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps({"query": query, **({"variables": variables} if variables else {})})


async def distinct_bodies(port: int) -> dict[str, list[bytes]]:
    """The request bodies of each workload, read from the data through the facade."""
    client = facade_client(port)
    cursors: list[str | None] = [None]
    ids: list[str] = []
    try:
        while True:
            status, data = await client.post(_body(_PAGE, {"after": cursors[-1]}))
            if not ok(status, data):
                raise RuntimeError(f"discovery failed: {status} {data[:300]!r}")
            page = orjson.loads(data)["data"]["customers"]
            ids += [n["customerId"] for n in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            cursors.append(page["pageInfo"]["endCursor"])
    finally:
        await client.close()
    return {
        "W2d": [_body(W2_QUERY, {"id": i}) for i in ids],
        "W3d": [_body(W3D, {"after": c} if c else None) for c in cursors[:25]],
        "W5d": [_body(W5D, {"after": c} if c else None) for c in cursors[:16]],
        "W3r": [_body(W3_QUERY)],
    }


def _group_cpu(procs: list[int]) -> float:
    return sum(cpu_seconds(p) for p in procs)


def upstream_connections(pid: int, port: int) -> int:
    """ESTABLISHED TCP connections of ``pid`` (and its children) to ``port`` on loopback."""
    from bench.procs import tree

    inodes: set[str] = set()
    for p in tree(pid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{p}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = fd.readlink().name
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    count = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            cols = line.split()
            remote_port = int(cols[2].split(":")[1], 16)
            if cols[3] == "01" and remote_port == port and cols[9] in inodes:
                count += 1
    return count


async def cell(facade: Proc, sandbox: Proc, bodies: list[bytes], conc: int,
               seconds: float) -> dict[str, Any]:  # fmt: skip
    """One closed-loop run: ops/s, p50/p95, CPU per operation of facade and sandbox."""
    f0, s0 = cpu_seconds(facade.pid), _group_cpu(sandbox.pids)
    load = await closed_loop(facade.port, bodies, conc, seconds)
    f1, s1 = cpu_seconds(facade.pid), _group_cpu(sandbox.pids)
    ops = max(load.ops, 1)
    return {**load.summary(), "clients": conc,
            "facade_cpu_ms_per_op": round((f1 - f0) / ops * 1000, 2),
            "facade_cpu_utilisation": round((f1 - f0) / load.seconds, 2),
            "sandbox_cpu_ms_per_op": round((s1 - s0) / ops * 1000, 2),
            "sandbox_cpu_utilisation": round((s1 - s0) / load.seconds, 2),
            "sandbox_processes": len(sandbox.pids)}  # fmt: skip


async def long_run(facade: Proc, sandbox: Proc, bodies: list[bytes], seconds: float,
                   conc: int = 8) -> dict[str, Any]:  # fmt: skip
    """``seconds`` of ``bodies`` at ``conc`` clients: first half against second half."""
    cpu_marks: list[float] = []
    conns: list[int] = []

    async def sample() -> None:
        for _ in range(4):
            await asyncio.sleep(seconds / 4)
            cpu_marks.append(cpu_seconds(facade.pid))
            conns.append(upstream_connections(facade.pid, sandbox.port))

    start_cpu = cpu_seconds(facade.pid)
    load, _ = await asyncio.gather(closed_loop(facade.port, bodies, conc, seconds), sample())
    half = seconds / 2
    halves = []
    for lo, hi, c0, c1 in ((0.0, half, start_cpu, cpu_marks[1]),
                           (half, seconds, cpu_marks[1], cpu_marks[3])):  # fmt: skip
        lat = [x for x, end in zip(load.latencies, load.ends, strict=True) if lo <= end < hi]
        n = max(len(lat), 1)
        halves.append({"ops": len(lat), "ops_per_s": round(len(lat) / half, 1),
                       "p50_ms": round(statistics.median(lat or [0.0]) * 1000, 1),
                       "p95_ms": round(percentile(lat or [0.0], 0.95) * 1000, 1),
                       "facade_cpu_ms_per_op": round((c1 - c0) / n * 1000, 2)})  # fmt: skip
    first, second = halves
    return {"seconds": seconds, "clients": conc, "errors": load.errors, "first": first,
            "second": second, "upstream_connections_by_quarter": conns,
            "second_half_slowdown": round(first["ops_per_s"] / max(second["ops_per_s"], 0.1), 3)
            }  # fmt: skip


async def run_mode(batch: bool, window: float, long: float, log: Any) -> dict[str, Any]:
    mode = "batch" if batch else "no-batch"
    out: dict[str, Any] = {"workloads": {}}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sandbox-")))
        sandbox = stack.enter_context(running(start_sandbox_group(
            batch_ids=batch, latency_ms=LATENCY_MS, processes=2, db=tmp / "sandbox.db")))  # fmt: skip
        facades = {e: stack.enter_context(running(start_facade(
            sandbox.url, env={"SPACES_GRAPHQL_UPSTREAM_ENGINE": e}))) for e in ENGINES}  # fmt: skip
        bodies = await distinct_bodies(facades[ENGINES[0]].port)
        out["distinct_operations"] = {k: len(v) for k, v in bodies.items()}
        for key, bs in bodies.items():
            row: dict[str, Any] = {e: {} for e in ENGINES}
            for facade in facades.values():  # warm: pools, batch detection, first revalidations
                await closed_loop(facade.port, bs, 8, min(window, 1.0))
            for conc in CONCURRENCY:
                for engine, facade in facades.items():
                    res = await cell(facade, sandbox, bs, conc, window)
                    row[engine][f"c{conc}"] = res
                    log(f"[{mode}] {key} {engine} c={conc}: {res['ops_per_s']}/s, p50 "
                        f"{res['p50_ms']} ms, facade {res['facade_cpu_ms_per_op']} ms CPU/op "
                        f"({res['facade_cpu_utilisation']} cores), sandbox "
                        f"{res['sandbox_cpu_utilisation']} cores, {res['errors']} errors")  # fmt: skip
            out["workloads"][key] = row
        if long > 0:
            out["long_run"] = {}
            for engine, facade in facades.items():
                res = await long_run(facade, sandbox, bodies["W3d"], long)
                out["long_run"][engine] = res
                log(f"[{mode}] long W3d {engine}: {res['first']} -> {res['second']}, "
                    f"connections {res['upstream_connections_by_quarter']}")  # fmt: skip
    return out


async def measure(window: float = 2.5, long: float = 20.0, log: Any = print) -> dict[str, Any]:
    """Both capability modes (the long run with batch-by-ids only)."""
    return {"window_s": window, "engines": list(ENGINES),
            "modes": {"batch": await run_mode(True, window, long, log),
                      "no-batch": await run_mode(False, window, 0.0, log)}}  # fmt: skip


def _cell(c: dict[str, Any] | None) -> str:
    if not c:
        return "-"
    return (f"{c['ops_per_s']:.1f} / {c['p50_ms']:.0f}·{c['p95_ms']:.0f} / "
            f"{c['facade_cpu_ms_per_op']:.1f} ({c['sandbox_cpu_utilisation']:.2f})")  # fmt: skip


def describe(result: dict[str, Any]) -> str:
    """The concurrency section of ``latest.md``; empty when the run has none."""
    conc = result.get("concurrency")
    if not conc:
        return ""
    lines = ["**Distinct operations against concurrency** (d: every operation different; "
             "r: repeated). Cell: ops/s / p50·p95 ms / facade CPU ms per operation "
             "(sandbox CPU cores in use).", ""]  # fmt: skip
    for mode, m in conc["modes"].items():
        lines += [f"Upstream {'with' if mode == 'batch' else 'without'} batch-by-ids:", "",
                  "| workload | engine | c=1 | c=8 | c=32 |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for key, row in m["workloads"].items():
            for engine, cells in row.items():
                lines.append(f"| {key} | {engine} | "
                             + " | ".join(_cell(cells.get(f"c{c}")) for c in CONCURRENCY) + " |")  # fmt: skip
        lines.append("")
        for engine, r in m.get("long_run", {}).items():
            lines.append(f"Long run, W3d at {r['clients']} clients for {r['seconds']:.0f} s, "
                         f"{engine}: first half {r['first']['ops_per_s']} ops/s, p50 "
                         f"{r['first']['p50_ms']} ms, {r['first']['facade_cpu_ms_per_op']} ms "
                         f"CPU/op; second half {r['second']['ops_per_s']} ops/s, p50 "
                         f"{r['second']['p50_ms']} ms, {r['second']['facade_cpu_ms_per_op']} ms "
                         f"CPU/op; upstream connections by quarter "
                         f"{r['upstream_connections_by_quarter']}.")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> bool:
    """Throughput and CPU per operation against concurrency; False without matplotlib."""
    conc = result.get("concurrency")
    if not conc:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    modes = list(conc["modes"].items())
    fig, axes = plt.subplots(2, len(modes), figsize=(6 * len(modes), 8), squeeze=False)
    colors = {"W2d": "tab:green", "W3d": "tab:blue", "W5d": "tab:purple", "W3r": "tab:gray"}
    for col, (mode, m) in enumerate(modes):
        for key, row in m["workloads"].items():
            for engine, cells in row.items():
                style = {"httptools": "-", "aiohttp": "--"}.get(engine, ":")
                xs = [c for c in CONCURRENCY if f"c{c}" in cells]
                thr = [cells[f"c{c}"]["ops_per_s"] for c in xs]
                cpu = [cells[f"c{c}"]["facade_cpu_ms_per_op"] for c in xs]
                label = f"{key} {engine}"
                axes[0][col].plot(xs, thr, style, marker="o", color=colors.get(key), label=label)
                axes[1][col].plot(xs, cpu, style, marker="o", color=colors.get(key), label=label)
        title = f"upstream {'with' if mode == 'batch' else 'without'} batch-by-ids"
        axes[0][col].set_title(f"throughput, {title}")
        axes[1][col].set_title(f"facade CPU per operation, {title}")
        axes[0][col].set_ylabel("operations / s (log)")
        axes[0][col].set_yscale("log")
        axes[1][col].set_ylabel("CPU ms / operation")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale("log", base=2)
            ax.set_xticks(list(CONCURRENCY), [str(c) for c in CONCURRENCY])
            ax.set_xlabel("concurrent clients")
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench concurrency")
    parser.add_argument("--window", type=float, default=2.5, help="seconds per cell")
    parser.add_argument("--long", type=float, default=20.0, help="long-run seconds (0: none)")
    parser.add_argument("--out", type=Path, default=None, help="write JSON, md and png here")
    opts = parser.parse_args(argv)
    try:
        import uvloop

        result = uvloop.run(measure(opts.window, opts.long))
    except ImportError:  # pragma: no cover
        result = asyncio.run(measure(opts.window, opts.long))
    whole = {"concurrency": result}
    print(describe(whole))
    if opts.out:
        opts.out.mkdir(parents=True, exist_ok=True)
        (opts.out / "concurrency.json").write_bytes(
            orjson.dumps(result, option=orjson.OPT_INDENT_2)
        )
        plot(whole, opts.out / "concurrency.png")
    return 0
