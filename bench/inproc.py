"""In-process measurements: upstream waves, and W5's execution CPU against graphql-core."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import graphql
import httpx
import orjson
from starlette.types import ASGIApp

from bench.measure import Recording
from bench.workloads import TOKEN, Workload
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings

HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


async def facade_waves(upstream: str, w: Workload, warm: int = 1) -> tuple[int, int]:
    """(upstream requests, sequential waves) of one query through the facade's own code,
    default settings, over the real sandbox; ``warm`` runs first (batch detection)."""
    recording = Recording(httpx.AsyncHTTPTransport())
    app = create_app(
        Settings.load({"upstream_url": upstream + "/api/v1", "rate_limit_points": 0}),
        transport=recording,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://facade") as c,
    ):
        for _ in range(warm + 1):
            recording.calls.clear()
            response = await c.post("/graphql", content=w.body(), headers=HEADERS)
            if response.status_code != 200 or b'"errors"' in response.content:
                raise RuntimeError(f"{w.key}: {response.text[:300]}")
        return len(recording.calls), recording.waves()


async def aggregator_waves(upstream: str, w: Workload, batch: bool) -> tuple[int, int]:
    recording = Recording(httpx.AsyncHTTPTransport())
    async with httpx.AsyncClient(
        base_url=upstream + "/api/v1/", auth=(TOKEN, ""), transport=recording
    ) as c:
        await w.aggregate(c, batch)
        return len(recording.calls), recording.waves()


def _core_executor(w: Workload, result: dict[str, Any]) -> Callable[[], Any]:
    """graphql-core alone executing ``w``'s query over ``result``'s data as plain dicts
    (default resolvers, no Strawberry, parsed and validated once)."""
    from graph.schema import schema as strawberry_schema

    schema = graphql.build_schema(strawberry_schema.as_str())
    document = graphql.parse(w.query)
    if graphql.validate(schema, document):
        raise RuntimeError(f"the {w.key} query does not validate against the printed schema")
    root = result["data"]
    # The printed schema declares @defer/@stream, which graphql.execute refuses to run
    # with; this entry point is the same executor (execute calls it).
    run = graphql.experimental_execute_incrementally
    check = run(schema, document, root, variable_values=w.variables)
    if not isinstance(check, graphql.ExecutionResult):
        raise RuntimeError("graphql-core answered asynchronously over plain dicts")
    if check.errors or check.data != root:
        raise RuntimeError(f"graphql-core did not reproduce the result: {check.errors}")
    return lambda: run(schema, document, root, variable_values=w.variables)


async def cpu_per_field(
    upstream_payload: bytes,
    w: Workload,
    result: dict[str, Any],
    fields: int,
    rounds: int = 15,
    seconds: float = 0.25,
) -> dict[str, float]:
    """CPU µs per field: graphql-core alone, and the facade's own code answering ``w``.

    The facade runs in-process from the ASGI call to the encoded answer (Starlette,
    the view, loaders, record parsing, execution, encoding), its upstream replayed
    from ``upstream_payload`` (no sockets). The two alternate in short rounds, so a
    slow spell of a shared machine hits both alike; medians over the rounds.
    """
    core = _core_executor(w, result)

    def replay(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=upstream_payload,
                              headers={"content-type": "application/json"})  # fmt: skip

    app = create_app(Settings.load({"rate_limit_points": 0}), transport=httpx.MockTransport(replay))
    body = w.body()
    headers = [(b"authorization", f"Bearer {TOKEN}".encode()),
               (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    out: list[bytes] = []

    async def call() -> None:
        out.append((await post_graphql(app, body, headers))[0])

    core_us: list[float] = []
    own_us: list[float] = []
    async with app.router.lifespan_context(app):
        for _ in range(20):
            core()
            await call()
        data = orjson.loads(out[-1])
        if "errors" in data or data["data"] != result["data"]:
            raise RuntimeError(f"in-process {w.key} differs: {str(data)[:300]}")
        for _ in range(rounds):
            n, start = 0, time.process_time()
            while time.process_time() - start < seconds:
                core()
                n += 1
            core_us.append((time.process_time() - start) / n / fields * 1e6)
            n, start = 0, time.process_time()
            while time.process_time() - start < seconds:
                await call()
                n += 1
            own_us.append((time.process_time() - start) / n / fields * 1e6)
            out.clear()
    ratios = [o / c for o, c in zip(own_us, core_us, strict=True)]
    return {
        "graphql_core_us_per_field": statistics.median(core_us),
        "facade_inprocess_us_per_field": statistics.median(own_us),
        "cpu_ratio_to_graphql_core": statistics.median(ratios),
        "cpu_ratio_rounds": len(ratios),
        "cpu_ratio_max": max(ratios),
    }


async def post_graphql(
    app: ASGIApp, body: bytes, headers: list[tuple[bytes, bytes]], *, want_headers: bool = False
) -> tuple[bytes, dict[str, str]]:
    """One raw ASGI ``POST /graphql`` (no HTTP client in the measurement): body, headers.

    The response headers are decoded only when ``want_headers``: the W5 CPU line is
    measured through this call and should pay for the facade's work alone.
    """
    sent = False
    chunks: list[bytes] = []
    answer_headers: dict[str, str] = {}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        elif want_headers and message["type"] == "http.response.start":
            answer_headers.update({k.decode(): v.decode() for k, v in message["headers"]})

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    await app(scope, receive, send)
    return b"".join(chunks), answer_headers
