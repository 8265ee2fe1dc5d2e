"""The Markdown table and the plot, from the results JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.compression import describe as describe_compression
from bench.concurrency import describe as describe_concurrency
from bench.concurrency import plot as plot_concurrency
from bench.engine import describe as describe_engine
from bench.fragment_bomb import describe as describe_bomb


def _thr(row: dict[str, Any], key: str) -> str:
    cell = row.get("throughput", {}).get(key)
    return "-" if cell is None else f"{cell['ops_per_s']:.0f}"


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        f"Run {meta['when']} on {meta['machine']}, Python {meta['python']}; upstream latency "
        f"{meta['upstream_latency_ms']:.0f} ms per request; {meta['samples']} sequential samples "
        f"per workload; throughput windows {meta['window_s']} s; took {meta.get('duration_s')} s.",
        "",
    ]
    for mode, rows in result["modes"].items():
        lines += [
            f"**Upstream {'with' if mode == 'batch' else 'without'} batch-by-ids**",
            "",
            "| workload | requests facade / optimal | waves facade / depth | p50 facade / aggregator (ms) "
            "| ratio | p95 facade (ms) | CPU µs/field | ops/s c1·c8·c32 (1 worker, repeated op) "
            "| ops/s c1·c8·c32 (2 workers, repeated op) | peak RSS (MiB) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for key, r in rows.items():
            thr1 = "·".join(_thr(r, f"w1_c{c}") for c in (1, 8, 32))
            thr2 = "·".join(_thr(r, f"w2_c{c}") for c in (1, 8, 32))
            lines.append(
                f"| {key} {r['title']} | {r['facade_requests']} / {r['optimal_requests']} "
                f"| {r['facade_waves']} / {r['depth']} "
                f"| {r['facade_p50_ms']:.1f} / {r['aggregator_p50_ms']:.1f} "
                f"| {r['latency_ratio']:.2f} | {r['facade_p95_ms']:.1f} "
                f"| {r['cpu_us_per_field']:.1f} | {thr1} | {thr2} "
                f"| {r.get('peak_rss_mb', '-')} |"
            )
        lines.append("")
    for mode, label in (("batch", "with batch-by-ids"), ("no-batch", "without batch-by-ids")):
        w5 = result["modes"].get(mode, {}).get("W5", {})
        if "graphql_core_us_per_field" not in w5:
            continue
        worst = w5.get("cpu_ratio_max")
        lines += [
            f"W5 ({label}), CPU per resolved field: graphql-core alone over plain dicts "
            f"{w5['graphql_core_us_per_field']:.2f} µs; the facade in-process (ASGI call to "
            f"encoded answer, upstream replayed) {w5['facade_inprocess_us_per_field']:.2f} µs "
            f"(x {w5['cpu_ratio_to_graphql_core']:.2f}, median of interleaved rounds"
            + (f"; worst round x {worst:.2f}" if worst else "")
            + f"); the whole facade process, sockets and upstream client included, "
            f"{w5['cpu_us_per_field']:.2f} µs "
            f"(x {w5['cpu_ratio_to_graphql_core_whole_process']:.2f}).",
            "",
        ]
    soak = result.get("soak")
    if soak:
        lines += [
            f"Soak: {soak['clients']} concurrent clients for {soak['seconds']:.0f} s cycling "
            f"through {', '.join(soak['workloads'])}: {soak['ops']} operations, "
            f"**{soak['errors']} errors**, p50 {soak['p50_ms']} ms, p95 {soak['p95_ms']} ms, "
            f"peak RSS {soak['peak_rss_mb']} MiB.",
            "",
        ]
    bomb = describe_bomb(result)
    if bomb:
        lines += [bomb, ""]
    compressed = describe_compression(result)
    if compressed:
        lines += [compressed, ""]
    for section in (describe_concurrency(result), describe_engine(result)):
        if section:
            lines += [section, ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> bool:
    """Latency against result size, facade and aggregator; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, (mode, rows) in zip(axes, result["modes"].items(), strict=False):
        for who, color, marker in (("facade", "tab:blue", "o"), ("aggregator", "tab:orange", "s")):
            xs = [r["result_bytes"] / 1024 for r in rows.values()]
            p50 = [r[f"{who}_p50_ms"] for r in rows.values()]
            p95 = [r[f"{who}_p95_ms"] for r in rows.values()]
            err = [[0] * len(p50), [b - a for a, b in zip(p50, p95, strict=True)]]
            ax.errorbar(xs, p50, yerr=err, fmt=marker, color=color, capsize=3,
                        label=f"{who} p50 (bar to p95)")  # fmt: skip
        for key, r in rows.items():
            ax.annotate(f"{key} ({r['facade_waves']}w, {r['facade_requests']}r)",
                        (r["result_bytes"] / 1024, r["facade_p50_ms"]),
                        textcoords="offset points", xytext=(6, 4), fontsize=8)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("result size (KiB, log)")
        ax.set_title(
            f"upstream {'with' if mode == 'batch' else 'without'} batch-by-ids, 20 ms/request"
        )
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("latency (ms, log)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_reports(result: dict[str, Any], out: Path) -> None:
    (out / "latest.md").write_text(markdown(result), encoding="utf-8")
    plot(result, out / "latest.png")
    plot_concurrency(result, out / "concurrency.png")
