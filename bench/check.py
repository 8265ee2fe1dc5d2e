"""``python -m bench check``: compare ``bench/results/latest.json`` with the budget."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from bench import fragment_bomb

RESULTS = Path(__file__).parent / "results"

W3_MAX_RATIO = 1.25
SMALL_MAX_OVERHEAD_MS = 3.0
W5_MAX_CPU_RATIO = 1.5
#: Distinct operations (bench/concurrency.py), on the engine the facade defaults to.
ENGINE = "httptools"
W3_TIGHT_RATIO = 1.05
CPU_FLAT_RATIO = 1.15
W3D_SCALING = 4.0


def verdicts(result: dict[str, Any]) -> list[tuple[bool, str]]:
    """Every budget line as (met, description)."""
    out: list[tuple[bool, str]] = []
    for mode in ("batch", "no-batch"):
        rows = result["modes"].get(mode)
        if rows is None:
            out.append((False, f"[{mode}] no results"))
            continue
        for key, r in rows.items():
            out.append((r["facade_requests"] == r["optimal_requests"],
                        f"[{mode}] {key} upstream requests {r['facade_requests']} == optimal "
                        f"{r['optimal_requests']}"))  # fmt: skip
        w3 = rows["W3"]
        out.append((w3["latency_ratio"] <= W3_MAX_RATIO,
                    f"[{mode}] W3 p50 {w3['facade_p50_ms']} ms <= {W3_MAX_RATIO} x aggregator "
                    f"{w3['aggregator_p50_ms']} ms (x {w3['latency_ratio']})"))  # fmt: skip
        for key in ("W1", "W2"):
            r = rows[key]
            out.append((r["latency_overhead_ms"] <= SMALL_MAX_OVERHEAD_MS,
                        f"[{mode}] {key} p50 {r['facade_p50_ms']} ms <= aggregator "
                        f"{r['aggregator_p50_ms']} + {SMALL_MAX_OVERHEAD_MS} ms "
                        f"(+{r['latency_overhead_ms']} ms)"))  # fmt: skip
        w5 = rows.get("W5", {})
        ratio = w5.get("cpu_ratio_to_graphql_core")
        out.append((ratio is not None and ratio <= W5_MAX_CPU_RATIO,
                    f"[{mode}] W5 CPU per field {w5.get('facade_inprocess_us_per_field')} us <= "
                    f"{W5_MAX_CPU_RATIO} x graphql-core {w5.get('graphql_core_us_per_field')} us "
                    f"(x {ratio})"))  # fmt: skip
    out += concurrency_verdicts(result)
    soak = result.get("soak")
    out.append((soak is not None and soak["errors"] == 0 and soak["ops"] > 0
                and soak["seconds"] >= 60 and soak["clients"] >= 32,
                "soak: 0 errors, 32 clients, 60 s" + (
                    f" ({soak['errors']} errors in {soak['ops']} operations)" if soak else "")))  # fmt: skip
    out.append(fragment_bomb.verdict(result))
    return out


def concurrency_verdicts(result: dict[str, Any]) -> list[tuple[bool, str]]:
    """CPU per operation flat in concurrency, W3 near the aggregator, W3d scaling."""
    out: list[tuple[bool, str]] = []
    conc = result.get("concurrency", {}).get("modes", {})
    for mode in ("batch", "no-batch"):
        w3 = result["modes"].get(mode, {}).get("W3")
        ratio = None if w3 is None else w3["latency_ratio"]
        out.append((ratio is not None and ratio <= W3_TIGHT_RATIO,
                    f"[{mode}] W3 p50 <= {W3_TIGHT_RATIO} x aggregator (x {ratio})"))  # fmt: skip
        rows = conc.get(mode, {}).get("workloads", {})
        for key in ("W3d", "W5d"):
            cells = rows.get(key, {}).get(ENGINE, {})
            base = cells.get("c1", {}).get("facade_cpu_ms_per_op")
            for c in (8, 32):
                cpu = cells.get(f"c{c}", {}).get("facade_cpu_ms_per_op")
                r = None if not base or cpu is None else round(cpu / base, 3)
                out.append((r is not None and r <= CPU_FLAT_RATIO,
                            f"[{mode}] {key} facade CPU per operation at c={c} {cpu} ms <= "
                            f"{CPU_FLAT_RATIO} x c=1 {base} ms (x {r})"))  # fmt: skip
        cells = rows.get("W3d", {}).get(ENGINE, {})
        one = cells.get("c1", {}).get("ops_per_s")
        eight = cells.get("c8", {}).get("ops_per_s")
        r = None if not one or eight is None else round(eight / one, 2)
        out.append((r is not None and r >= W3D_SCALING,
                    f"[{mode}] W3d throughput at c=8 {eight}/s >= {W3D_SCALING} x c=1 {one}/s "
                    f"(x {r})"))  # fmt: skip
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench check")
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS / "latest.json")
    opts = parser.parse_args(argv)
    if not opts.results.exists():
        print(f"{opts.results} is missing: run `make bench` first", file=sys.stderr)
        return 2
    lines = verdicts(orjson.loads(opts.results.read_bytes()))
    for met, text in lines:
        print(("PASS " if met else "MISS ") + text)
    missed = sum(1 for met, _ in lines if not met)
    print(f"{len(lines) - missed}/{len(lines)} budget lines met")
    return 1 if missed else 0
