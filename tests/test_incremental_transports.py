"""``@defer``/``@stream`` on a real socket, on every transport: HTTP POST, HTTP GET
(development; production GET runs persisted operations only) and WebSocket
(``graphql-transport-ws``: one ``next`` per incremental payload, then ``complete``).

Each guarantee is checked on each transport: the parts merge to the plain answer,
an upstream error stays in its deferred part, refusals cost no upstream call, the
first part comes before a slow upstream list, and a client that leaves (or sends
``complete``) cancels what is still upstream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from tests.support import ALICE
from tests.test_incremental import (
    DEFER,
    MULTIPART,
    NESTED,
    STREAM_NODES,
    Slow,
    merge,
    parse_multipart,
    plain,
)
from tests.transport_support import TIMEOUT, Served, codes, serve

pytestmark = pytest.mark.e2e

TRANSPORTS = ("post", "get", "ws")


async def run(f: Served, transport: str, query: str, **extra: Any) -> list[dict[str, Any]]:
    """The payloads of one operation over ``transport``."""
    body = {"query": query, **extra}
    if transport == "ws":
        async with f.ws() as ws:
            messages = await ws.run(body)
        assert messages[-1]["type"] == "complete", messages
        return [m["payload"] for m in messages if m["type"] == "next"]
    if transport == "post":
        r = await f.post(body, accept=MULTIPART)
    else:
        r = await f.get(body, accept=MULTIPART)
    assert r.status_code == 200, r.text
    if r.headers["content-type"].startswith("multipart/mixed"):
        return parse_multipart(r.text)
    return [r.json()]


async def timed(f: Served, transport: str, query: str) -> list[tuple[float, bytes]]:
    """Each chunk (HTTP) or message (WebSocket) with the time it arrived."""
    got: list[tuple[float, bytes]] = []
    if transport == "ws":
        async with f.ws() as ws:
            await ws.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
            while True:
                message = await ws.recv()
                got.append((time.monotonic(), json.dumps(message).encode()))
                if message["type"] in ("complete", "error"):
                    return got
    headers = {"Accept": MULTIPART, "Authorization": f"Bearer {ALICE}"}
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        if transport == "post":
            request = client.build_request(
                "POST", f"{f.url}/graphql", json={"query": query}, headers=headers
            )
        else:
            request = client.build_request(
                "GET", f"{f.url}/graphql", params={"query": query}, headers=headers
            )
        response = await client.send(request, stream=True)
        async for chunk in response.aiter_raw():
            got.append((time.monotonic(), chunk))
        await response.aclose()
    return got


@pytest.fixture(scope="module")
def served() -> Any:
    with serve() as f:
        yield f


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("query", [DEFER, STREAM_NODES, NESTED], ids=["defer", "stream", "nested"])
async def test_parts_merge_to_the_plain_answer(served: Served, transport: str, query: str) -> None:
    whole = (await served.post({"query": plain(query)})).json()
    served.upstream.reset()
    payloads = await run(served, transport, query)
    assert len(payloads) >= 2
    data, errors = merge(payloads)
    assert errors == [] and data == whole["data"]
    assert payloads[-1]["extensions"]["cost"] == whole["extensions"]["cost"]
    assert len(served.upstream.calls) == whole["extensions"]["cost"]["upstreamRequests"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_upstream_error_stays_in_its_deferred_part(transport: str) -> None:
    with serve() as f:
        f.upstream.faults.append(("GET", "customers/", 500))
        payloads = await run(f, transport, DEFER)
    assert "errors" not in payloads[0] and payloads[0]["hasNext"] is True
    _, errors = merge(payloads)
    assert errors and codes(errors) == {"UPSTREAM_ERROR"}
    assert all(e["path"][:2] == ["customers", "nodes"] for e in errors)
    assert all(e["path"][3] == "subscriptions" for e in errors)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_costly_deferred_selection_is_refused_without_upstream_calls(
    served: Served, transport: str
) -> None:
    query = """{ customers(first: 100) { nodes { id ... @defer {
        subscriptions(first: 10) { nodes { invoices(first: 5) { nodes { id } } } } } } } }"""
    served.upstream.reset()
    if transport == "ws":
        async with served.ws() as ws:
            (refused,) = await ws.run({"query": query})
        assert refused["type"] == "error" and codes(refused["payload"]) == {"QUERY_TOO_COMPLEX"}
    else:
        send = served.post if transport == "post" else served.get
        r = await send({"query": query}, accept=MULTIPART)
        assert codes(r.json()["errors"]) == {"QUERY_TOO_COMPLEX"}, r.text
    assert served.upstream.calls == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_first_part_comes_before_a_slow_list(transport: str) -> None:
    delay = 0.8
    with serve() as f:
        f.upstream.inner = Slow(f.upstream.inner, "customers/", delay)
        started = time.monotonic()
        got = await timed(f, transport, DEFER)
    first, last = got[0][0] - started, got[-1][0] - started
    assert b'"hasNext": true' in got[0][1] or b'"hasNext":true' in got[0][1], got[0][1][:300]
    assert first < delay <= last, (first, last)


async def test_a_client_leaving_over_http_cancels_the_pending_reads() -> None:
    with serve() as f:
        slowed = Slow(f.upstream.inner, "customers/", 10.0)
        f.upstream.inner = slowed
        headers = {"Accept": MULTIPART, "Authorization": f"Bearer {ALICE}"}
        started = time.monotonic()
        async with (
            httpx.AsyncClient(timeout=TIMEOUT) as client,
            client.stream(
                "POST", f"{f.url}/graphql", json={"query": DEFER}, headers=headers
            ) as response,
        ):
            async for chunk in response.aiter_raw():
                assert b'"hasNext":true' in chunk
                break
            while len(slowed.started) < 3 and time.monotonic() - started < 5:
                await asyncio.sleep(0.02)
        # The connection is closed: the server cancels the three slow reads.
        while len(slowed.cancelled) < 3 and time.monotonic() - started < 8:
            await asyncio.sleep(0.02)
        assert len(slowed.started) == 3 and sorted(slowed.cancelled) == sorted(slowed.started)
        assert time.monotonic() - started < 9


async def test_complete_over_websocket_cancels_the_pending_reads() -> None:
    with serve() as f:
        slowed = Slow(f.upstream.inner, "customers/", 10.0)
        f.upstream.inner = slowed
        started = time.monotonic()
        async with f.ws() as ws:
            await ws.send({"id": "1", "type": "subscribe", "payload": {"query": DEFER}})
            first = await ws.recv()
            assert first["type"] == "next" and first["payload"]["hasNext"] is True
            while len(slowed.started) < 3 and time.monotonic() - started < 5:
                await asyncio.sleep(0.02)
            await ws.send({"id": "1", "type": "complete"})
            while len(slowed.cancelled) < 3 and time.monotonic() - started < 8:
                await asyncio.sleep(0.02)
            # The connection is still good for the next operation.
            (answer, done) = await ws.run({"query": "{ viewer { name } }"}, "2")
            assert answer["payload"]["data"]["viewer"]["name"] and done["type"] == "complete"
        assert sorted(slowed.cancelled) == sorted(slowed.started) and len(slowed.started) == 3


async def test_get_without_multipart_is_one_json_answer_with_an_etag(served: Served) -> None:
    r = await served.get({"query": DEFER}, accept="application/json")
    assert r.status_code == 200 and r.headers["etag"].startswith('W/"')
    assert "hasNext" not in r.json()
    again = await served.get({"query": DEFER}, accept="application/json")
    assert again.headers["etag"] == r.headers["etag"]
    streamed = await served.get({"query": DEFER}, accept=MULTIPART)
    assert "etag" not in streamed.headers and len(parse_multipart(streamed.text)) >= 2


async def test_production_get_streams_persisted_operations_only() -> None:
    digest = hashlib.sha256(DEFER.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    with serve(profile="production") as f:
        f.upstream.reset()
        refused = await f.get({"query": DEFER}, accept=MULTIPART)
        assert refused.status_code == 405 and f.upstream.calls == []
        stored = await f.post({"query": DEFER, "extensions": ext}, accept=MULTIPART)
        assert len(parse_multipart(stored.text)) >= 2
        r = await f.get({"extensions": ext}, accept=MULTIPART)
        assert r.status_code == 200, r.text
        data, errors = merge(parse_multipart(r.text))
        assert errors == [] and len(data["customers"]["nodes"]) == 3
