"""Live events with several workers behind one Redis: ``serve --workers 2``, real sockets.

Every facade here has a port of its own, so its Redis keys (namespaced by the public
hooks URL) are its own; they are deleted on the way out.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect

from tests.processes import free_port, need_redis, spawn, stop, wait_for
from tests.test_live_e2e import activity, hooks_of, next_message, until, ws_url

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

REDIS_URL = "redis://127.0.0.1:6379/0"
LEASE_SECONDS = 3  # heartbeat every second: crash recovery within ~4 s
TYPES = {
    "CUSTOMER_CREATED": "customer.created",
    "INVOICE_CREATED": "invoice.created",
    "INVOICE_PAID": "invoice.paid",
    "SUBSCRIPTION_CREATED": "subscription.created",
    "SUBSCRIPTION_CANCELLED": "subscription.cancelled",
    "CAPTURED_EMAIL_CREATED": "captured_email.created",
}
SUB = "subscription($types: [EventType!]) { eventCreated(types: $types) { id type } }"


def account_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class Deployment:
    """``serve --workers 2`` on a fixed port, and a look into its Redis keys."""

    def __init__(self, sandbox: str, port: int | None = None) -> None:
        self.sandbox = sandbox
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        digest = hashlib.sha256(f"{self.url}/hooks/".encode()).hexdigest()[:16]
        self.ns = f"spaces-graphql:live:{digest}"
        self.redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            "SPACES_GRAPHQL_REDIS_URL": REDIS_URL,
            "SPACES_GRAPHQL_LIVE_LEASE_SECONDS": str(LEASE_SECONDS),
            "SPACES_GRAPHQL_RATE_LIMIT_POINTS": "0",
            "SPACES_GRAPHQL_LOG_LEVEL": "warning",
        }
        self.proc = spawn(
            "serve", "--port", str(self.port), "--workers", "2",
            "--upstream", f"{self.sandbox}/api/v1", env=env,
        )  # fmt: skip
        wait_for(f"{self.url}/healthz", self.proc)
        deadline = time.monotonic() + 30
        while len(self.leases()) < 2:  # both workers have started their live events
            assert time.monotonic() < deadline, "the workers did not take their leases"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        stop(self.proc, hard=True)  # SIGKILL to the whole process group

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def leases(self) -> set[str]:
        prefix = f"{self.ns}:lease:"
        return {k[len(prefix) :] for k in self.redis.scan_iter(f"{prefix}*")}

    def holders(self) -> set[str]:
        found: set[str] = set()
        for key in self.redis.scan_iter(f"{self.ns}:holders:*"):
            found |= {str(m) for m in self.redis.smembers(key)}
        return found

    def records(self) -> dict[str, Any]:
        return {str(k): json.loads(v) for k, v in self.redis.hgetall(f"{self.ns}:hooks").items()}

    def hooks(self, token: str = "demo-alice") -> list[dict[str, Any]]:
        return hooks_of(self.sandbox, token, self.url)

    def cleanup(self) -> None:
        self.stop()
        keys = list(self.redis.scan_iter(f"{self.ns}:*"))
        if keys:
            self.redis.delete(*keys)
        self.redis.close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    need_redis()
    port = free_port()
    # A little latency widens the window in which a subscriber can leave mid-POST.
    proc = spawn("sandbox", "--port", str(port), "--latency-ms", "15")
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/_sandbox/stats", proc)
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def deployment(sandbox: str) -> Iterator[Deployment]:
    d = Deployment(sandbox)
    try:
        d.start()
        yield d
    finally:
        d.cleanup()


@asynccontextmanager
async def subscriber(url: str, token: str, kind: str) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(url), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        payload = {"query": SUB, "variables": {"types": [kind]}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        yield ws


def upstream_calls(sandbox: str, route: str) -> int:
    by_route: dict[str, int] = httpx.get(f"{sandbox}/_sandbox/stats").json()["by_route"]
    return by_route.get(route, 0)


async def test_subscribers_on_both_workers_each_get_their_event_once(
    deployment: Deployment,
) -> None:
    d = deployment
    pairs = [("demo-alice", kind) for kind in TYPES] + [
        ("demo-bob", "CUSTOMER_CREATED"),
        ("demo-bob", "INVOICE_PAID"),
    ]
    async with AsyncExitStack() as stack:
        conns: list[tuple[str, str, ClientConnection]] = []
        # The kernel hands each connection to one worker: open rounds of one subscriber
        # per pair until both workers hold some (usually the first or second round).
        for _ in range(6):
            for token, kind in pairs:
                ws = await stack.enter_async_context(subscriber(d.url, token, kind))
                conns.append((token, kind, ws))
            await until(lambda: len(d.records()) == len(pairs), 15)
            await until(lambda: all(r["hook_id"] for r in d.records().values()), 15)
            await asyncio.sleep(0.3)  # the later rounds join existing hooks
            if len(d.holders()) == 2:
                break
        assert d.holders() == d.leases() and len(d.holders()) == 2, "one worker got them all"
        print(f"{len(conns)} subscribers over {len(d.holders())} workers")
        # One upstream hook per distinct (account, type), whatever the workers.
        assert len(d.hooks("demo-alice")) == 6
        assert len(d.hooks("demo-bob")) == 2
        events = {}
        for kind, upstream_type in TYPES.items():
            events[kind] = activity(d.sandbox, "demo-alice", upstream_type)
            for token, k, ws in conns:
                if k == kind and token == "demo-alice":
                    msg = await next_message(ws, 10)
                    assert msg["type"] == "next", msg
                    assert msg["payload"]["data"]["eventCreated"]["type"] == kind
        # The upstream retrying a delivery, to whichever worker: a duplicate everywhere.
        (target,) = [h["target_url"] for h in d.hooks() if h["event"] == "customer.created"]
        for _ in range(6):
            replay = httpx.post(target, json=events["CUSTOMER_CREATED"])
            assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
        # Exactly once: no subscriber gets a second copy (bob's get none of alice's).
        await asyncio.sleep(0.5)
        for _token, _kind, ws in conns:
            with pytest.raises(TimeoutError):
                await next_message(ws, 0.05)
    await until(lambda: not d.hooks("demo-alice") and not d.hooks("demo-bob"), 15)
    await until(lambda: not d.records(), 5)


async def test_forty_subscribers_leaving_at_once_leave_no_hook(deployment: Deployment) -> None:
    d = deployment
    posts = upstream_calls(d.sandbox, "POST /api/v1/resource_subscriptions")
    kinds = list(TYPES)
    for n in range(40):
        async with subscriber(d.url, "demo-alice", kinds[n % 6]):
            # Leave right away, or a little later: during or around the upstream POST.
            await asyncio.sleep(random.choice([0, 0, 0.005, 0.01, 0.02, 0.04]))
    created = upstream_calls(d.sandbox, "POST /api/v1/resource_subscriptions") - posts
    assert created > 0  # the runs did reach the upstream
    print(f"40 aborted subscribers: {created} hooks created upstream")
    await until(lambda: not d.hooks() and not d.records(), 15)
    await asyncio.sleep(LEASE_SECONDS / 2)  # nothing trickles in afterwards
    assert not d.hooks() and not d.records()


async def test_a_churn_of_connections_leaves_no_hook(deployment: Deployment) -> None:
    d = deployment
    seconds = float(os.environ.get("LIVE_CHURN_SECONDS", "8"))
    deadline = time.monotonic() + seconds
    sessions = 0

    async def churn(seed: int) -> None:
        nonlocal sessions
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            async with subscriber(
                d.url, rng.choice(["demo-alice", "demo-bob"]), rng.choice(list(TYPES))
            ):
                await asyncio.sleep(rng.choice([0, 0.01, 0.03, 0.1, 0.3]))
            sessions += 1

    await asyncio.gather(*(churn(i) for i in range(8)))
    assert sessions > 20
    await until(lambda: not d.hooks("demo-alice") and not d.hooks("demo-bob"), 15)
    await until(lambda: not d.records(), 5)
    print(f"churn: {sessions} sessions in {seconds:.0f} s, 0 hooks left")


async def test_kill_9_and_restart_leave_no_orphan(sandbox: str) -> None:
    d = Deployment(sandbox)
    try:
        d.start()
        async with AsyncExitStack() as stack:
            for kind in TYPES:
                for _ in range(2):
                    await stack.enter_async_context(subscriber(d.url, "demo-alice", kind))
            await until(lambda: len(d.records()) == 6, 15)
            await until(lambda: all(r["hook_id"] for r in d.records().values()), 15)
            assert len(d.hooks()) == 6
            old_targets = [h["target_url"] for h in d.hooks()]
            # No raw token in Redis: the record keeps it sealed.
            assert not any("demo-alice" in json.dumps(r) for r in d.records().values())
            d.kill()  # every process of the facade dies holding its hooks
        assert len(d.hooks()) == 6
        d.start()
        started = time.monotonic()
        await until(lambda: not d.hooks(), 5 * LEASE_SECONDS)
        recovered = time.monotonic() - started
        print(f"kill -9: 6 orphans removed {recovered:.1f} s after the restart")
        assert recovered < 2 * LEASE_SECONDS, recovered
        assert not d.records()
        # The orphans' secrets are gone: a late delivery tells the upstream to drop it.
        forged = {"object": "event", "id": f"ev_{uuid.uuid4().hex}", "created": 1,
                  "type": "customer.created", "data": {"object": None}}  # fmt: skip
        for target in old_targets:
            assert httpx.post(target, json=forged).status_code == 410
        assert httpx.post(f"{d.url}/hooks/{uuid.uuid4().hex}", json=forged).status_code == 410
    finally:
        d.cleanup()
