"""A bench case run alone (``python -m bench bomb``, ``… compression``): merge its result.

The case's figures go into ``bench/results/latest.json`` under its key, the
report is rewritten when a full run's results are there, and the case's budget
line decides the exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).parent / "results"


def merge_case(
    key: str,
    result: Mapping[str, Any],
    verdict: Callable[[dict[str, Any]], tuple[bool, str]],
    rows: Mapping[str, Any],
    label: Callable[[str], str] = str,
) -> int:
    """Print ``rows``, merge ``result`` under ``key``; 0 when the budget line is met."""
    for name, row in rows.items():
        print(f"{label(name)}: {row}", file=sys.stderr)
    path = RESULTS / "latest.json"
    merged = orjson.loads(path.read_bytes()) if path.exists() else {"meta": {}, "modes": {}}
    merged[key] = result
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(merged, option=orjson.OPT_INDENT_2))
    if merged.get("modes"):  # a full run's report gains this case's paragraph
        from bench.report import markdown

        (RESULTS / "latest.md").write_text(markdown(merged), encoding="utf-8")
    met, line = verdict(merged)
    print(("PASS " if met else "MISS ") + line)
    return 0 if met else 1
