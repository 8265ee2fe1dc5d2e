"""The fragment bomb: how fast the facade refuses it (issue 11).

``levels`` fragments, each spreading the next three times, expand to 3^levels
fields from a document of a few hundred bytes (15 levels: 796 bytes, 14 million
fields). Pre-flight measures each fragment once and refuses the document before
any spec rule or upstream call. This case posts distinct bombs (the document
cache must not answer them) through the facade's own ASGI app over the
in-process sandbox and reports the refusal time and the AST selections
pre-flight visited. ``python -m bench bomb`` runs it alone and merges the
numbers into ``bench/results/latest.json``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import orjson

from bench.measure import Recording
from bench.standalone import merge_case
from bench.workloads import TOKEN
from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings

LEVELS = (15, 30)
ROUNDS = 25
#: The budget line of ``python -m bench check``.
MAX_REFUSAL_MS = 50.0
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def bomb(levels: int, tag: int = 0) -> str:
    """The document; ``tag`` makes each one distinct (a comment), so none is cached."""
    parts = [f"# bomb {tag}", "query { customers(first: 1) { nodes { ...F0 } } }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on Customer {{ ...F{i + 1} ...F{i + 1} ...F{i + 1} }}")
    parts.append(f"fragment F{levels} on Customer {{ name }}")
    return "\n".join(parts)


async def measure(levels: tuple[int, ...] = LEVELS, rounds: int = ROUNDS) -> dict[str, Any]:
    """Per level: refusal time (median and worst of ``rounds``), work, upstream requests."""
    recording = Recording(httpx.ASGITransport(app=create_sandbox(SandboxConfig())))
    settings = Settings.load(
        {"upstream_url": "http://127.0.0.1/api/v1", "profile": "production", "rate_limit_points": 0}
    )
    app = create_app(settings, transport=recording)
    out: dict[str, Any] = {"budget_ms": MAX_REFUSAL_MS, "levels": {}}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://facade") as c,
    ):
        preflight = app.state.runtime.preflight
        tag = 0
        for level in levels:
            times: list[float] = []
            work: list[int] = []
            recording.calls.clear()
            for _ in range(rounds):
                tag += 1
                body = orjson.dumps({"query": bomb(level, tag)})
                before = preflight.nodes_visited
                t = time.perf_counter()
                response = await c.post("/graphql", content=body, headers=HEADERS)
                times.append(time.perf_counter() - t)
                work.append(preflight.nodes_visited - before)
                code = response.json()["errors"][0]["extensions"]["code"]
                if code != "QUERY_TOO_COMPLEX":
                    raise RuntimeError(f"the {level}-level bomb was answered with {code}")
            out["levels"][str(level)] = {
                "document_bytes": len(bomb(level).encode()),
                "expanded_fields": 3**level,
                "refusal_p50_ms": round(statistics.median(times) * 1000, 2),
                "refusal_max_ms": round(max(times) * 1000, 2),
                "selections_visited": max(work),
                "upstream_requests": len(recording.calls),
                "rounds": rounds,
            }
    return out


def verdict(result: dict[str, Any]) -> tuple[bool, str]:
    """The budget line: every level's median refusal under the budget, no upstream call."""
    bombs = result.get("fragment_bomb")
    if not bombs:
        return False, f"fragment bomb refused in < {MAX_REFUSAL_MS:.0f} ms (no results)"
    rows = bombs["levels"]
    met = all(
        r["refusal_p50_ms"] < MAX_REFUSAL_MS and r["upstream_requests"] == 0 for r in rows.values()
    )
    detail = ", ".join(
        f"{level} levels {r['refusal_p50_ms']} ms, {r['selections_visited']} selections"
        for level, r in rows.items()
    )
    return met, f"fragment bomb refused in < {MAX_REFUSAL_MS:.0f} ms ({detail}; 0 upstream)"


def describe(result: dict[str, Any]) -> str:
    """One Markdown paragraph for ``latest.md``."""
    rows = result.get("fragment_bomb", {}).get("levels", {})
    if not rows:
        return ""
    cells = "; ".join(
        f"{level} levels ({r['document_bytes']} bytes, {r['expanded_fields']:,} fields expanded): "
        f"refused in {r['refusal_p50_ms']} ms (worst {r['refusal_max_ms']} ms), "
        f"{r['selections_visited']} selections visited, {r['upstream_requests']} upstream requests"
        for level, r in rows.items()
    )
    return f"Fragment bomb (each fragment spreads the next three times): {cells}."


def main(argv: list[str]) -> int:
    """``python -m bench bomb``: run this case alone; merge it into ``latest.json``."""
    import asyncio

    result = asyncio.run(measure())
    return merge_case(
        "fragment_bomb", result, verdict, result["levels"], label=lambda level: f"{level} levels"
    )
