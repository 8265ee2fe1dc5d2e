"""The operation pipeline: one parse, abuse accounting, persisted-query policy, per-event contexts."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import uuid
from typing import Any

import httpx
import pytest

from graph.context import Context
from graph.schema import schema
from resolvers.errors import ErrorCode
from spaces_graphql.persisted import (
    LocalQueryStore,
    PersistedQueries,
    PersistedQueryError,
    sha256_hex,
)
from spaces_graphql.pipeline import Code, Transport, code_of
from spaces_graphql.ratelimit import Admission, LocalRateLimiter, RedisRateLimiter
from tests.support import ALICE, BOB, harness
from tests.transport_support import WS, Served, codes, serve

AUTH = {"Authorization": f"Bearer {ALICE}"}
COST_10 = "{ customers(first: 9) { nodes { invoices(first: 1) { nodes { paid } } } } }"


def test_enums_are_closed_sets() -> None:
    assert {t.value for t in Transport} == {"http-get", "http-post", "ws"}
    assert Code is ErrorCode  # one closed set of extensions.code values, everywhere
    assert code_of("QUERY_TOO_COMPLEX", Code.BAD_REQUEST) is Code.QUERY_TOO_COMPLEX
    assert (
        code_of("SOMETHING_NEW", Code.GRAPHQL_VALIDATION_FAILED) is Code.GRAPHQL_VALIDATION_FAILED
    )


async def test_execution_runs_the_preflight_document_without_parsing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import strawberry.schema.schema as strawberry_schema

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Strawberry parsed or validated the document again")

    async with harness(profile="production") as h:
        monkeypatch.setattr(strawberry_schema, "parse", refuse)
        monkeypatch.setattr(strawberry_schema, "validate_document", refuse)
        bitten = schema.execute_sync("{ __typename }")  # the patch bites without a document
        assert bitten.errors and "parsed or validated" in bitten.errors[0].message
        data = await h.data("query Me($n: Int) { viewer { name } customers(first: $n) { nodes { name } } }", {"n": 2})  # fmt: skip
        assert data["viewer"]["name"] and len(data["customers"]["nodes"]) == 2


def test_schema_execute_without_a_prepared_document_still_parses_and_validates() -> None:
    assert schema.execute_sync("{ __typename }").data == {"__typename": "Query"}
    invalid = schema.execute_sync("{ nope }")
    assert invalid.errors and "nope" in invalid.errors[0].message


# --- abuse: unproven tokens, refusals ---------------------------------------------------


async def test_refused_random_tokens_drain_their_address_bucket() -> None:
    async with harness(profile="production", rate_limit_points=30) as h:
        ok = await h.facade.post("/graphql", json={"query": "{ viewer { name } }"}, headers={"Authorization": f"Bearer {BOB}"})  # fmt: skip
        assert ok.status_code == 200  # bob is proven before the attack
        statuses = []
        for _ in range(5):
            h.upstream.reset()
            token = "rnd-" + secrets.token_hex(8)
            r = await h.facade.post(
                "/graphql", json={"query": COST_10}, headers={"Authorization": f"Bearer {token}"}
            )
            statuses.append((r.status_code, len(h.upstream.calls)))
        # Three refusals by the upstream (10 points each to the address), then 429 at no cost.
        assert [s for s, _ in statuses] == [401, 401, 401, 429, 429], statuses
        assert [n for s, n in statuses if s == 429] == [0, 0]
        # A proven token from the same address keeps its own bucket.
        again = await h.facade.post("/graphql", json={"query": "{ viewer { name } }"}, headers={"Authorization": f"Bearer {BOB}"})  # fmt: skip
        assert again.status_code == 200


async def test_refusals_before_execution_cost_points() -> None:
    async with harness(profile="production", rate_limit_points=5) as h:
        assert (await h.query("{ viewer { name } }"))["_status"] == 200  # 1 point, proven
        for _ in range(4):
            r = await h.facade.post("/graphql", json={"query": "{ viewer {"}, headers=AUTH)
            assert codes(r.json()["errors"]) == {"GRAPHQL_PARSE_FAILED"}
        h.upstream.reset()
        limited = await h.facade.post("/graphql", json={"query": "{ viewer {"}, headers=AUTH)
        assert limited.status_code == 429, limited.text
        assert codes(limited.json()["errors"]) == {"RATE_LIMITED"}
        assert int(limited.headers["retry-after"]) >= 1
        assert (await h.query("{ viewer { name } }"))["_status"] == 429
        assert h.upstream.calls == []


async def test_development_has_no_rate_limit_at_all() -> None:
    async with harness(profile="development", rate_limit_points=1) as h:
        for _ in range(3):
            await h.facade.post("/graphql", json={"query": "{ viewer {"}, headers=AUTH)
        assert (await h.query("{ viewer { name } }"))["_status"] == 200


async def test_refused_websocket_tokens_drain_their_address_bucket() -> None:
    with serve(profile="production", rate_limit_points=3) as f:
        got = []
        for _ in range(5):
            f.upstream.reset()
            async with WS.connect(f.ws_url) as ws:
                await ws.init("rnd-" + secrets.token_hex(8))
                code, _ = await ws.closed()
            got.append((code, len(f.upstream.calls)))
        assert got == [(4403, 1), (4403, 1), (4403, 1), (4429, 0), (4429, 0)], got


def _redis_up() -> bool:
    try:
        out = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, timeout=3
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == b"PONG"


@pytest.mark.redis
async def test_admission_works_with_the_redis_limiter() -> None:
    if not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    import redis.asyncio as redis

    client = redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    try:
        limiter = RedisRateLimiter(client, 10, 3600, prefix=f"test-rl-{uuid.uuid4().hex}:")
        await _admission_contract(Admission(lambda: limiter))
    finally:
        await client.aclose()


async def test_admission_works_with_the_local_limiter() -> None:
    limiter = LocalRateLimiter(10, 3600)
    await _admission_contract(Admission(lambda: limiter))


async def _admission_contract(admission: Admission) -> None:
    assert (await admission.take("t1", "1.2.3.4", 4)).allowed
    await admission.refused_upstream("t1", "1.2.3.4", 4)  # 6 left at the address
    await admission.refused_upstream("t2", "1.2.3.4", 4)  # 2 left
    denied = await admission.take("t3", "1.2.3.4", 4)
    assert not denied.allowed and denied.retry_after >= 1
    assert (await admission.take("t3", "5.6.7.8", 4)).allowed  # another address
    admission.proven("t4")
    assert (await admission.take("t4", "1.2.3.4", 4)).allowed  # proven: its own bucket only
    assert (await admission.refused_early("t4", "1.2.3.4")).remaining == 5


# --- persisted queries ------------------------------------------------------------------


async def test_lookup_only_resolution_never_registers() -> None:
    pq = PersistedQueries(LocalQueryStore())
    query = "{ viewer { name } }"
    ext = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    with pytest.raises(PersistedQueryError) as missing:
        await pq.resolve(query, ext, register=False)
    assert missing.value.code == "PERSISTED_QUERY_NOT_FOUND"
    resolved = await pq.resolve(query, ext)
    assert resolved.register == sha256_hex(query) and resolved.by_hash
    assert await pq.store.get(sha256_hex(query)) is None  # stored only after pre-flight
    await pq.register(sha256_hex(query), query)
    assert (await pq.resolve(None, ext, register=False)).query == query
    assert (await pq.resolve(query, ext, register=False)).register is None


# --- subscriptions: one fresh context per event -----------------------------------------


async def _deliver(f: Served, kind: str) -> None:
    """Make activity in the sandbox and deliver its event to the facade's hook."""
    async with f.sandbox() as sandbox:
        event = (
            await sandbox.post("/_sandbox/activity", json={"type": kind}, auth=(ALICE, ""))
        ).json()
        hooks = (await sandbox.get("/api/v1/resource_subscriptions", params={"limit": 100}, auth=(ALICE, ""))).json()  # fmt: skip
    (hook,) = [h for h in hooks["data"] if "/hooks/" in h["target_url"]]
    path = "/hooks/" + hook["target_url"].split("/hooks/", 1)[1]
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{f.url}{path}", json=event)
    assert r.status_code in (200, 202), r.text


async def test_each_subscription_event_gets_a_fresh_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Context] = []
    original = Context.for_event

    def tracked(self: Context) -> Context:
        fresh = original(self)
        made.append(fresh)
        return fresh

    monkeypatch.setattr(Context, "for_event", tracked)
    query = """subscription Live { eventCreated(types: [CUSTOMER_CREATED]) { type resource {
      ... on Customer { name invoices(first: 1) { nodes { id } } } } } }"""
    with serve(profile="development") as f:
        async with f.ws() as ws:
            await ws.send({"id": "s", "type": "subscribe", "payload": {"query": query}})
            for _ in range(100):  # the REST Hook registration upstream
                if "POST resource_subscriptions" in f.upstream.routes():
                    break
                await asyncio.sleep(0.05)
            names = []
            for _ in range(2):
                await _deliver(f, "customer.created")
                msg = await ws.recv()
                assert msg["type"] == "next" and "errors" not in msg["payload"], msg
                names.append(msg["payload"]["data"]["eventCreated"]["resource"]["name"])
            await ws.send({"id": "s", "type": "complete"})
    assert len(made) == 2 and made[0] is not made[1]
    assert made[0].loaders is not made[1].loaders and made[0].upstream is not made[1].upstream
    assert all(c.upstream.requests == 1 for c in made)  # each event read its own invoices
    assert len(set(names)) == 2
    assert json.dumps(names)
