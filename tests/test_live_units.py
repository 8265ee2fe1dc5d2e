"""The hub never blocks, and the receiver accepts only live secrets, once per event."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from resolvers.client import SpacesClient
from resolvers.errors import UpstreamTimeout, UpstreamUnavailable
from resolvers.live.bus import HookTarget, LocalBus, RedisBus
from resolvers.live.hub import QUEUE_SIZE, EventHub, Subscriber
from resolvers.live.service import LiveEvents
from sandbox.app import create_app as create_sandbox
from spaces_graphql.settings import Settings
from tests.processes import need_redis

REDIS_URL = "redis://127.0.0.1:6379/0"


def event(n: int, kind: str = "invoice.paid") -> dict[str, Any]:
    return {
        "object": "event",
        "id": f"ev_{n}",
        "created": n,
        "type": kind,
        "data": {"object": None},
    }


async def test_hub_filters_by_account_and_type_and_drops_oldest() -> None:
    hub = EventHub()
    paid = Subscriber("acct-a", frozenset({"invoice.paid"}))
    other = Subscriber("acct-b", frozenset({"invoice.paid"}))
    hub.add(paid)
    hub.add(other)
    assert hub.deliver("acct-a", event(1, "customer.created")) == 0
    for n in range(QUEUE_SIZE + 5):
        hub.deliver("acct-a", event(n))
    assert paid.queue.qsize() == QUEUE_SIZE and paid.dropped == 5
    assert (await paid.queue.get()).id == "ev_5"
    assert other.queue.empty()
    assert hub.deliver("acct-a", {"no": "event"}) == 0
    hub.remove(paid)
    assert hub.count("acct-a") == 0


async def test_receiver_checks_secret_type_and_duplicates() -> None:
    live = LiveEvents.__new__(LiveEvents)
    live.bus = LocalBus()
    live.hub = EventHub()
    await live.bus.start(live.hub.deliver)
    sub = Subscriber("acct", frozenset({"invoice.paid"}))
    live.hub.add(sub)
    await live.bus.put_secret("s3cret", HookTarget("acct", "invoice.paid"))
    assert await live.receive("nope", event(1)) == (410, "unknown hook")
    assert (await live.receive("s3cret", event(1, "customer.created")))[0] == 400
    assert (await live.receive("s3cret", ["not", "an", "event"]))[0] == 400
    assert await live.receive("s3cret", event(1)) == (202, "accepted")
    assert await live.receive("s3cret", event(1)) == (200, "duplicate")
    assert sub.queue.qsize() == 1
    await live.bus.drop_secret("s3cret")
    assert (await live.receive("s3cret", event(2)))[0] == 410


# --- the hook registry: cancellation, sealed state, leases (in-process upstream) ------

ALICE_KEY = hashlib.sha256(b"demo-alice").hexdigest()[:32]
PUBLIC = "http://facade.test"


class SlowPosts(httpx.AsyncBaseTransport):
    """The sandbox in-process; a POST of a REST Hook takes ``delay`` seconds to answer."""

    def __init__(self, delay: float, lose_answer: bool = False) -> None:
        self.inner = httpx.ASGITransport(app=create_sandbox())
        self.delay = delay
        self.lose_answer = lose_answer
        self.routes: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.routes.append(f"{request.method} {request.url.path.removeprefix('/api/v1/')}")
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            await asyncio.sleep(self.delay)  # created upstream; the answer is late
            if self.lose_answer:
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


@asynccontextmanager
async def upstream(
    delay: float = 0.0, lose_answer: bool = False
) -> AsyncIterator[tuple[SpacesClient, SlowPosts]]:
    transport = SlowPosts(delay, lose_answer)
    client = SpacesClient(Settings(upstream_url="http://127.0.0.1/api/v1"), transport)
    try:
        yield client, transport
    finally:
        await client.aclose()


async def our_hooks(client: SpacesClient) -> list[str]:
    page = await client.session("demo-alice").get("resource_subscriptions", {"limit": 100})
    return [h["id"] for h in page["data"] if h["target_url"].startswith(PUBLIC)]


async def test_a_subscriber_leaving_during_the_post_leaves_no_hook() -> None:
    async with upstream(delay=0.1) as (client, transport):
        live = LiveEvents(client, public_url=PUBLIC)
        await live.start()
        for leave_after in (0.0, 0.01, 0.05, 0.09, 0.11, 0.2):

            async def listen() -> None:
                async with live.subscribe(ALICE_KEY, "demo-alice", frozenset({"invoice.paid"})):
                    await asyncio.sleep(10)

            task = asyncio.create_task(listen())
            await asyncio.sleep(leave_after)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            while live.registry._tasks:  # the shielded bookkeeping finishes on its own
                await asyncio.sleep(0.01)
            assert await our_hooks(client) == [], leave_after
            assert live.registry.holding() == []
        posts = transport.routes.count("POST resource_subscriptions")
        deletes = [r for r in transport.routes if r.startswith("DELETE resource_subscriptions/")]
        assert posts >= 4 and len(deletes) == posts
        await live.close()


async def test_the_state_file_holds_no_token_and_a_restart_removes_orphans(
    tmp_path: Path,
) -> None:
    state = tmp_path / "hooks.json"
    async with upstream() as (client, _):
        crashed = LiveEvents(client, public_url=PUBLIC, state_path=state)
        await crashed.start()
        async with crashed.subscribe(ALICE_KEY, "demo-alice", frozenset({"invoice.paid"})):
            assert len(await our_hooks(client)) == 1
            text = state.read_text()
            assert "demo-alice" not in text and json.loads(text)["records"][0]["token"]
            assert oct(state.stat().st_mode & 0o777) == "0o600"
            assert crashed.registry._beat is not None
            crashed.registry._beat.cancel()  # dies here: no release, no close
            restarted = LiveEvents(client, public_url=PUBLIC, state_path=state)
            await restarted.start()  # the sealed token deletes the orphan
            assert await our_hooks(client) == []
            assert json.loads(state.read_text())["records"] == []
            await restarted.close()


async def test_a_post_whose_answer_is_lost_leaves_no_hook() -> None:
    async with upstream(lose_answer=True) as (client, transport):
        live = LiveEvents(client, public_url=PUBLIC)
        await live.start()
        with pytest.raises(UpstreamTimeout):
            async with live.subscribe(ALICE_KEY, "demo-alice", frozenset({"invoice.paid"})):
                pass
        # Created upstream, answer lost: found by its target URL and deleted.
        assert transport.routes.count("POST resource_subscriptions") == 1
        assert await our_hooks(client) == []
        assert await live.registry.store.records() == []
        await live.close()


async def test_unclaimed_hooks_are_swept_only_after_the_grace() -> None:
    async with upstream() as (client, _):
        session = client.session("demo-alice")
        await session.request(
            "POST",
            "resource_subscriptions",
            json_body={"event": "invoice.paid", "target_url": f"{PUBLIC}/hooks/old"},
        )
        live = LiveEvents(client, public_url=PUBLIC)
        await live.start()
        live.registry.sweep_grace_seconds = 1.5
        await asyncio.sleep(2.6)  # "old" ages past the grace (the upstream counts seconds)
        await session.request(
            "POST",
            "resource_subscriptions",
            json_body={"event": "invoice.paid", "target_url": f"{PUBLIC}/hooks/fresh"},
        )
        async with live.subscribe(ALICE_KEY, "demo-alice", frozenset({"customer.created"})):
            page = await session.get("resource_subscriptions", {"limit": 100})
            targets = {h["target_url"].rsplit("/", 1)[1] for h in page["data"]}
            assert "old" not in targets and "fresh" in targets
        await live.close()


async def test_several_workers_without_redis_refuse_subscriptions() -> None:
    async with upstream() as (client, transport):
        live = LiveEvents(client, public_url=PUBLIC, workers=2)
        await live.start()
        with pytest.raises(UpstreamUnavailable, match="need Redis"):
            async with live.subscribe(ALICE_KEY, "demo-alice", frozenset({"invoice.paid"})):
                pass
        assert not any(r.startswith("POST") for r in transport.routes)
        await live.close()


@asynccontextmanager
async def namespace() -> AsyncIterator[str]:
    prefix = f"test-live-{uuid.uuid4().hex[:8]}"
    try:
        yield prefix
    finally:
        r = redis.from_url(REDIS_URL, decode_responses=True)
        keys = [k async for k in r.scan_iter(f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()


@pytest.mark.redis
async def test_a_secret_expires_with_its_lease_and_then_answers_410() -> None:
    need_redis()
    async with namespace() as prefix:
        r = redis.from_url(REDIS_URL, decode_responses=True)
        live = LiveEvents.__new__(LiveEvents)
        live.bus = RedisBus(r, prefix)
        live.hub = EventHub()
        await live.bus.start(live.hub.deliver)
        await live.bus.put_secret("s3cret", HookTarget("acct", "invoice.paid"), ttl=0.3)
        assert await live.receive("s3cret", event(1)) == (202, "accepted")
        await asyncio.sleep(0.5)
        assert await live.receive("s3cret", event(2)) == (410, "unknown hook")
        await live.bus.close()
        await r.aclose()


@pytest.mark.redis
async def test_processes_share_one_hook_and_reap_it_only_after_the_lease() -> None:
    need_redis()
    async with namespace() as prefix, upstream() as (client, _):
        common: dict[str, Any] = {"public_url": PUBLIC, "redis_url": REDIS_URL}
        a = LiveEvents(client, **common, lease_seconds=1.0, redis_prefix=prefix)
        b = LiveEvents(client, **common, lease_seconds=1.0, redis_prefix=prefix)
        await a.start()
        await b.start()
        types = frozenset({"invoice.paid"})
        held = b.subscribe(ALICE_KEY, "demo-alice", types)
        await held.__aenter__()  # never left: b stalls (or dies) holding the hook
        async with a.subscribe(ALICE_KEY, "demo-alice", types):
            assert len(await our_hooks(client)) == 1  # shared, not one per process
            assert b.registry._beat is not None
            b.registry._beat.cancel()
        # a left; b's lease is still alive: its hook must stay.
        assert len(await our_hooks(client)) == 1
        deadline = time.monotonic() + 5
        while await our_hooks(client):  # b's lease lapses; a's heartbeat reaps it
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await a.close()
        await b.bus.close()
        await b._redis.aclose()


@pytest.mark.redis
async def test_a_claim_whose_holders_and_secret_lapsed_is_replaced_on_join() -> None:
    need_redis()
    async with namespace() as prefix, upstream() as (client, _):
        common: dict[str, Any] = {"public_url": PUBLIC, "redis_url": REDIS_URL}
        a = LiveEvents(client, **common, lease_seconds=1.0, redis_prefix=prefix)
        b = LiveEvents(client, **common, lease_seconds=1.0, redis_prefix=prefix)
        for live in (a, b):
            await live.start()
            assert live.registry._beat is not None
            live.registry._beat.cancel()  # no reaper: the join itself must cope
        types = frozenset({"invoice.paid"})
        held = b.subscribe(ALICE_KEY, "demo-alice", types)
        await held.__aenter__()  # b dies holding it
        (stale,) = await our_hooks(client)
        await asyncio.sleep(1.3)  # b's lease and the hook's secret lapse
        await a.registry.store.renew()  # a's own (its heartbeat is off)
        async with a.subscribe(ALICE_KEY, "demo-alice", types):
            (fresh,) = await our_hooks(client)
            assert fresh != stale
            key = (ALICE_KEY, "invoice.paid")
            assert await a.registry.store.live_holders(key) == {a.instance}
        assert await our_hooks(client) == []
        await a.close()
        await b.bus.close()
        await b._redis.aclose()
