"""Writes and the events they emit: pay, cancel, REST Hooks subscriptions, activity."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.model import EVENT_TYPES


async def newest_event(client: httpx.AsyncClient, type_: str) -> dict[str, Any]:
    events = (await client.get("/api/v1/events", params={"type": type_, "limit": 1})).json()
    return dict(events["data"][0])


async def test_pay_invoice(alice: httpx.AsyncClient) -> None:
    unpaid = (await alice.post("/_sandbox/activity", json={"type": "invoice.created"})).json()
    invoice_id = unpaid["data"]["object"]["id"]
    paid = await alice.post(f"/api/v1/invoices/{invoice_id}/pay")
    assert paid.status_code == 200
    assert paid.json()["paid"] is True and paid.json()["id"] == invoice_id
    assert (await alice.get(f"/api/v1/invoices/{invoice_id}")).json() == paid.json()
    event = await newest_event(alice, "invoice.paid")
    assert event["data"]["object"]["id"] == invoice_id and event["data"]["object"]["paid"] is True
    again = await alice.post(f"/api/v1/invoices/{invoice_id}/pay")
    assert again.status_code == 400 and "already paid" in again.json()["message"]
    assert (await alice.post("/api/v1/invoices/in_nope/pay")).status_code == 404


async def test_cancel_subscription(alice: httpx.AsyncClient) -> None:
    subs = (await alice.get("/api/v1/subscriptions?limit=100")).json()["data"]
    sub = next(s for s in subs if s["status"] == "active")
    path = f"/api/v1/customers/{sub['customer']['id']}/subscriptions/{sub['token']}"
    cancelled = await alice.delete(path)
    assert cancelled.status_code == 200
    assert cancelled.json() == {**sub, "status": "cancelled"}
    assert (await alice.get(path)).json()["status"] == "cancelled"
    event = await newest_event(alice, "subscription.cancelled")
    assert event["data"]["object"]["token"] == sub["token"]
    assert event["created"] >= time.time() - 60  # run-time events use the clock
    assert (await alice.get("/api/v1/events?limit=1")).json()["data"][0] == event  # newest first
    again = await alice.delete(path)
    assert again.status_code == 400 and "already cancelled" in again.json()["message"]
    missing = f"/api/v1/customers/{sub['customer']['id']}/subscriptions/sub_nope"
    assert (await alice.delete(missing)).status_code == 404


@pytest.mark.parametrize("as_json", [True, False])
async def test_resource_subscription_lifecycle(alice: httpx.AsyncClient, as_json: bool) -> None:
    fields = {"event": "invoice.paid", "target_url": "https://example.com/hook"}
    created = await (
        alice.post("/api/v1/resource_subscriptions", json=fields)
        if as_json
        else alice.post("/api/v1/resource_subscriptions", data=fields)
    )
    assert created.status_code == 200
    obj = created.json()
    assert set(obj) == {"object", "id", "event", "target_url", "api_version", "created"}
    assert obj["object"] == "resource_subscription" and obj["id"].startswith("rs_")
    assert obj["event"] == "invoice.paid" and obj["api_version"] is None
    listed = (await alice.get("/api/v1/resource_subscriptions")).json()["data"]
    assert listed == [obj]
    deleted = await alice.delete(f"/api/v1/resource_subscriptions/{obj['id']}")
    assert deleted.status_code == 200 and deleted.json() == {**obj, "deleted": True}
    assert (await alice.get("/api/v1/resource_subscriptions")).json()["data"] == []
    assert (await alice.delete(f"/api/v1/resource_subscriptions/{obj['id']}")).status_code == 404


@pytest.mark.parametrize("as_json", [True, False])
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"target_url": "http://127.0.0.1:1/x"}, "event"),
        ({"event": "", "target_url": "http://127.0.0.1:1/x"}, "event"),
        ({"event": "invoice.exploded", "target_url": "http://127.0.0.1:1/x"}, "event"),
        ({"event": "invoice.paid"}, "target_url"),
        ({"event": "invoice.paid", "target_url": "/relative"}, "target_url"),
        ({"event": "invoice.paid", "target_url": "ftp://example.com/x"}, "target_url"),
        ({"event": "invoice.paid", "target_url": "not a url"}, "target_url"),
    ],
)
async def test_resource_subscription_validation(
    alice: httpx.AsyncClient, as_json: bool, fields: dict[str, str], named: str
) -> None:
    response = await (
        alice.post("/api/v1/resource_subscriptions", json=fields)
        if as_json
        else alice.post("/api/v1/resource_subscriptions", data=fields)
    )
    assert response.status_code == 400
    assert named in response.json()["message"]


async def test_resource_subscription_bad_json(alice: httpx.AsyncClient) -> None:
    for content in (b"{", b"[1]"):
        response = await alice.post(
            "/api/v1/resource_subscriptions",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400


@pytest.mark.parametrize("type_", EVENT_TYPES)
async def test_activity(alice: httpx.AsyncClient, bob: httpx.AsyncClient, type_: str) -> None:
    response = await alice.post("/_sandbox/activity", json={"type": type_})
    assert response.status_code == 200
    event = response.json()
    assert event["object"] == "event" and event["type"] == type_
    assert await newest_event(alice, type_) == event
    snapshot = event["data"]["object"]
    kind = type_.split(".")[0]
    assert snapshot["object"] == kind
    key = "token" if kind == "subscription" else "id"
    if kind == "customer":
        key = "token" if "token" in snapshot else "id"
    newest = (await alice.get(f"/api/v1/{kind}s?limit=1")).json()["data"][0]
    if type_ in (
        "customer.created",
        "captured_email.created",
        "subscription.created",
        "invoice.created",
    ):
        assert newest[key if kind != "customer" else "id"] == snapshot[key]
    if type_ == "invoice.paid":
        assert snapshot["paid"] is True
    if type_ == "subscription.cancelled":
        assert snapshot["status"] == "cancelled"
    if type_ == "invoice.created":
        assert snapshot["paid"] is False
    assert event not in (await bob.get(f"/api/v1/events?type={type_}&limit=1")).json()["data"]


async def test_activity_bad_requests(
    app: Starlette, alice: httpx.AsyncClient, make_client: Callable[..., httpx.AsyncClient]
) -> None:
    assert (await alice.post("/_sandbox/activity", json={"type": "x.y"})).status_code == 400
    assert (await alice.post("/_sandbox/activity", json=[])).status_code == 400
    assert (await alice.post("/_sandbox/activity", content=b"{")).status_code == 400
    async with make_client(app, None) as anonymous:
        for headers in ({}, {"Authorization": "Bearer demo-alice"}):
            response = await anonymous.post(
                "/_sandbox/activity", json={"type": "customer.created"}, headers=headers
            )
            assert response.status_code == 401


async def test_activity_on_bob_creates_in_bobs_space(bob: httpx.AsyncClient) -> None:
    event = (await bob.post("/_sandbox/activity", json={"type": "subscription.created"})).json()
    assert event["data"]["object"]["customer"]["space"]["id"] == 4
    sub = event["data"]["object"]
    customer_id = sub["customer"].get("id") or sub["customer"]["token"]
    own = (await bob.get(f"/api/v1/customers/{customer_id}/subscriptions")).json()["data"]
    assert own[0]["token"] == sub["token"]
    serials = [s["serial_number"] for s in (await bob.get("/api/v1/subscriptions")).json()["data"]]
    assert serials[0] == max(serials)


async def test_quirk_continues_at_run_time(alice: httpx.AsyncClient) -> None:
    events = [
        (await alice.post("/_sandbox/activity", json={"type": "customer.created"})).json()
        for _ in range(3)
    ]
    spellings = ["token" in e["data"]["object"] for e in events]
    assert spellings.count(True) == 1
