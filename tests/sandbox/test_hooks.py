"""REST Hooks delivery to a real loopback receiver: success, retries, 410 and refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette

from sandbox.app import SandboxConfig, create_app
from sandbox.hooks import is_loopback
from tests.sandbox.conftest import Receiver


async def subscribe(client: httpx.AsyncClient, event: str, url: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/resource_subscriptions", data={"event": event, "target_url": url}
    )
    assert response.status_code == 200
    return dict(response.json())


async def webhooks_for(client: httpx.AsyncClient, event_id: str) -> list[dict[str, Any]]:
    hooks = (await client.get("/api/v1/webhooks?limit=100")).json()["data"]
    return [h for h in hooks if h["event"]["id"] == event_id]


async def test_delivered_to_matching_subscriptions(
    app: Starlette,
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
    receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    await subscribe(alice, "customer.created", f"{url}/hooks/alice")
    await subscribe(alice, "invoice.paid", f"{url}/hooks/other-type")
    await subscribe(bob, "customer.created", f"{url}/hooks/bob")
    event = (await alice.post("/_sandbox/activity", json={"type": "customer.created"})).json()
    await rec.wait_for(1, within=1.0)
    await app.state.sandbox.drain()
    assert len(rec.received) == 1
    headers, body = rec.received[0]
    assert body == event
    assert headers["content-type"] == "application/json"
    assert headers["x-spaces-event"] == "customer.created"
    [hook] = await webhooks_for(alice, event["id"])
    assert hook["pending"] is False and hook["url"] == f"{url}/hooks/alice"
    assert hook["event"] == event
    assert await webhooks_for(bob, event["id"]) == []


async def test_writes_trigger_hooks_too(
    app: Starlette, alice: httpx.AsyncClient, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    await subscribe(alice, "invoice.paid", f"{url}/hooks/paid")
    created = (await alice.post("/_sandbox/activity", json={"type": "invoice.created"})).json()
    paid = await alice.post(f"/api/v1/invoices/{created['data']['object']['id']}/pay")
    assert paid.status_code == 200
    await rec.wait_for(1)
    assert rec.received[0][1]["type"] == "invoice.paid"
    assert rec.received[0][1]["data"]["object"]["id"] == paid.json()["id"]


async def test_retried_until_success(receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    rec.statuses = [500, 503]
    app = create_app(SandboxConfig(hook_retry_seconds=0.2))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=("demo-alice", "")
    ) as alice:
        await subscribe(alice, "captured_email.created", f"{url}/hooks/flaky")
        event = (
            await alice.post("/_sandbox/activity", json={"type": "captured_email.created"})
        ).json()
        await rec.wait_for(1)
        await app.state.sandbox.drain()
        [hook] = await webhooks_for(alice, event["id"])
        assert hook["pending"] is True
        await rec.wait_for(3, within=2.0)
        await app.state.sandbox.drain()
        [hook] = await webhooks_for(alice, event["id"])
        assert hook["pending"] is False
        assert [body for _, body in rec.received] == [event, event, event]
        await asyncio.sleep(0.3)
        assert len(rec.received) == 3  # no more attempts once delivered


async def test_gives_up_after_max_attempts(receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    rec.statuses = [500] * 10
    app = create_app(SandboxConfig(hook_retry_seconds=0.05, hook_max_attempts=3))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=("demo-alice", "")
    ) as alice:
        await subscribe(alice, "customer.created", f"{url}/hooks/down")
        event = (await alice.post("/_sandbox/activity", json={"type": "customer.created"})).json()
        await rec.wait_for(3)
        await asyncio.sleep(0.3)
        assert len(rec.received) == 3
        [hook] = await webhooks_for(alice, event["id"])
        assert hook["pending"] is True


async def test_gone_removes_the_subscription(
    app: Starlette, alice: httpx.AsyncClient, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    rec.statuses = [410]
    sub = await subscribe(alice, "customer.created", f"{url}/hooks/gone")
    await alice.post("/_sandbox/activity", json={"type": "customer.created"})
    await rec.wait_for(1)
    await app.state.sandbox.drain()
    listed = (await alice.get("/api/v1/resource_subscriptions")).json()["data"]
    assert sub["id"] not in [s["id"] for s in listed]
    await alice.post("/_sandbox/activity", json={"type": "customer.created"})
    await app.state.sandbox.drain()
    assert len(rec.received) == 1


async def test_connection_refused_is_a_failed_attempt(
    app: Starlette, alice: httpx.AsyncClient
) -> None:
    from tests.sandbox.conftest import free_port

    await subscribe(alice, "customer.created", f"http://127.0.0.1:{free_port()}/nobody")
    event = (await alice.post("/_sandbox/activity", json={"type": "customer.created"})).json()
    await app.state.sandbox.drain()
    [hook] = await webhooks_for(alice, event["id"])
    assert hook["pending"] is True


async def test_non_loopback_targets_are_never_contacted(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    contacted: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        contacted.append(request)
        return httpx.Response(200)

    app = create_app(SandboxConfig(), hook_transport=httpx.MockTransport(handler))
    async with make_client(app) as alice:
        await subscribe(alice, "customer.created", "https://hooks.example.com/x")
        await subscribe(alice, "customer.created", "http://localhost:9/x")
        event = (await alice.post("/_sandbox/activity", json={"type": "customer.created"})).json()
        await app.state.sandbox.drain()
        hooks = {h["url"]: h["pending"] for h in await webhooks_for(alice, event["id"])}
    assert [str(r.url) for r in contacted] == ["http://localhost:9/x"]
    assert hooks == {"https://hooks.example.com/x": True, "http://localhost:9/x": False}
    assert app.state.sandbox.hooks.attempts == 2


async def test_in_process_transport(make_client: Callable[..., httpx.AsyncClient]) -> None:
    rec = Receiver()
    app = create_app(SandboxConfig(), hook_transport=httpx.ASGITransport(app=rec.app))
    async with make_client(app) as alice:
        await subscribe(alice, "invoice.created", "http://127.0.0.1/hooks/in-process")
        event = (await alice.post("/_sandbox/activity", json={"type": "invoice.created"})).json()
        await app.state.sandbox.drain()
    assert [body for _, body in rec.received] == [event]


def test_is_loopback() -> None:
    for url in (
        "http://127.0.0.1:8/x",
        "http://127.3.4.5/",
        "http://[::1]:80/",
        "http://localhost/",
    ):
        assert is_loopback(url), url
    for url in ("http://10.0.0.1/", "https://example.com/", "http://[2001:db8::1]/", "nonsense"):
        assert not is_loopback(url), url
