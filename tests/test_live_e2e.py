"""Live events end to end: WebSocket subscribers, REST Hooks upstream, real sockets."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.processes import free_port, need_redis, start_facade, start_sandbox, stop

pytestmark = pytest.mark.e2e

CUSTOMER_SUB = """subscription($types: [EventType!]) { eventCreated(types: $types) {
  id type createdAt resource { __typename ... on Customer { customerId name space { spaceId }
  invoices(first: 1) { nodes { invoiceId } } } } } }"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    proc, url = start_sandbox()
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def facade(sandbox: str) -> Iterator[str]:
    proc, url = start_facade(sandbox)
    yield url
    stop(proc)


def ws_url(facade: str) -> str:
    return facade.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def subscribed(
    facade: str,
    token: str | None,
    variables: dict[str, Any] | None = None,
    via: str = "init",
) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"} if token and via == "header" else {}
    async with connect(
        ws_url(facade),
        subprotocols=["graphql-transport-ws"],
        additional_headers=headers,  # type: ignore[list-item]
    ) as ws:
        payload = {"Authorization": f"Bearer {token}"} if token and via == "init" else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": CUSTOMER_SUB, "variables": variables or {}},
                }
            )
        )
        yield ws


def hooks_of(sandbox: str, token: str, facade: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{sandbox}/api/v1/resource_subscriptions", params={"limit": 100}, auth=(token, "")
    )
    return [h for h in r.json()["data"] if h["target_url"].startswith(f"{facade}/hooks/")]


async def until(predicate: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def activity(sandbox: str, token: str, kind: str) -> dict[str, Any]:
    r = httpx.post(f"{sandbox}/_sandbox/activity", json={"type": kind}, auth=(token, ""))
    assert r.status_code == 200, r.text
    event: dict[str, Any] = r.json()
    return event


async def next_message(ws: ClientConnection, seconds: float) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), seconds))
    return msg


async def test_event_reaches_its_account_only_within_a_second(sandbox: str, facade: str) -> None:
    types = {"types": ["CUSTOMER_CREATED"]}
    async with (
        subscribed(facade, "demo-alice", types) as alice,
        subscribed(facade, "demo-bob", types, via="header") as bob,
    ):
        await until(lambda: len(hooks_of(sandbox, "demo-alice", facade)) == 1)
        await until(lambda: len(hooks_of(sandbox, "demo-bob", facade)) == 1)
        started = time.monotonic()
        event = activity(sandbox, "demo-alice", "customer.created")
        msg = await next_message(alice, 1.0)
        elapsed = time.monotonic() - started
        assert msg["type"] == "next", msg
        got = msg["payload"]["data"]["eventCreated"]
        assert got["type"] == "CUSTOMER_CREATED"
        snapshot = event["data"]["object"]
        assert got["resource"]["customerId"] == snapshot.get("id", snapshot.get("token"))
        assert got["resource"]["space"]["spaceId"] >= 1
        assert got["resource"]["invoices"]["nodes"] == []  # nested fields resolve live
        assert elapsed < 1.0
        with pytest.raises(TimeoutError):
            await next_message(bob, 0.7)
    # The last subscriber left: the upstream hooks are deleted.
    await until(lambda: not hooks_of(sandbox, "demo-alice", facade))
    await until(lambda: not hooks_of(sandbox, "demo-bob", facade))


async def test_subscribers_share_one_hook_per_type(sandbox: str, facade: str) -> None:
    v = {"types": ["INVOICE_PAID"]}
    async with subscribed(facade, "demo-alice", v) as first:
        async with subscribed(facade, "demo-alice", v) as second:
            await until(lambda: len(hooks_of(sandbox, "demo-alice", facade)) == 1)
            activity(sandbox, "demo-alice", "invoice.paid")
            for ws in (first, second):
                assert (await next_message(ws, 1.0))["payload"]["data"]["eventCreated"][
                    "type"
                ] == "INVOICE_PAID"
        # One subscriber left: the hook stays.
        await asyncio.sleep(0.2)
        assert len(hooks_of(sandbox, "demo-alice", facade)) == 1
    await until(lambda: not hooks_of(sandbox, "demo-alice", facade))


async def test_forged_and_replayed_deliveries_change_nothing(sandbox: str, facade: str) -> None:
    async with subscribed(facade, "demo-alice", {"types": ["CUSTOMER_CREATED"]}) as ws:
        await until(lambda: len(hooks_of(sandbox, "demo-alice", facade)) == 1)
        (hook,) = hooks_of(sandbox, "demo-alice", facade)
        target = hook["target_url"]
        forged = {"object": "event", "id": "ev_forged", "created": 1, "type": "customer.created",
                  "data": {"object": {"object": "customer", "id": "cus_x", "created": 1}}}  # fmt: skip
        assert httpx.post(f"{facade}/hooks/{uuid.uuid4().hex}", json=forged).status_code == 410
        assert httpx.post(target, json={**forged, "type": "invoice.paid"}).status_code == 400
        assert httpx.post(target, content=b"not json").status_code == 400
        event = activity(sandbox, "demo-alice", "customer.created")
        assert (await next_message(ws, 1.0))["payload"]["data"]["eventCreated"]["id"]
        replay = httpx.post(target, json=event)
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
        with pytest.raises(TimeoutError):
            await next_message(ws, 0.5)


async def test_no_token_no_subscription(facade: str) -> None:
    async with connect(ws_url(facade), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    async with connect(ws_url(facade), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nobody"}})
        )
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


async def test_restart_removes_hooks_left_behind(sandbox: str, tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "hooks.json"
    env = {"SPACES_GRAPHQL_HOOK_STATE_PATH": str(state)}
    proc, url = start_facade(sandbox, env=env, port=port)
    try:
        async with subscribed(url, "demo-bob", {"types": ["CAPTURED_EMAIL_CREATED"]}):
            await until(lambda: len(hooks_of(sandbox, "demo-bob", url)) == 1)
            stop(proc, hard=True)  # dies holding the hook
        assert len(hooks_of(sandbox, "demo-bob", url)) == 1
        proc, url = start_facade(sandbox, env=env, port=port)
        await until(lambda: not hooks_of(sandbox, "demo-bob", url))
    finally:
        stop(proc)


@pytest.mark.redis
async def test_two_processes_share_events_through_redis(sandbox: str) -> None:
    need_redis()
    port_a = free_port()
    public = f"http://127.0.0.1:{port_a}"
    env = {
        "SPACES_GRAPHQL_REDIS_URL": "redis://127.0.0.1:6379/0",
        "SPACES_GRAPHQL_PUBLIC_URL": public,
    }
    a, _ = start_facade(sandbox, env=env, port=port_a)
    b, url_b = start_facade(sandbox, env=env)
    try:
        # The subscriber is on B; the upstream delivers to A (the public URL).
        async with subscribed(url_b, "demo-alice", {"types": ["CUSTOMER_CREATED"]}) as ws:
            await until(lambda: len(hooks_of(sandbox, "demo-alice", public)) == 1)
            activity(sandbox, "demo-alice", "customer.created")
            msg = await next_message(ws, 1.5)
            assert msg["payload"]["data"]["eventCreated"]["type"] == "CUSTOMER_CREATED"
        await until(lambda: not hooks_of(sandbox, "demo-alice", public))
    finally:
        stop(a)
        stop(b)
