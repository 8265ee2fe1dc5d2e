"""Filters, batch fetch by ids and multi-value filters, with the capabilities on and off."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox.app import SandboxConfig, create_app
from sandbox.model import EVENT_TYPES


async def test_space_filter(alice: httpx.AsyncClient) -> None:
    for path in ("customers", "captured_emails"):
        body = (await alice.get(f"/api/v1/{path}", params={"space": 2, "limit": 100})).json()
        assert body["data"] and all(o["space"]["id"] == 2 for o in body["data"])
    assert (await alice.get("/api/v1/customers?space=4")).json()["data"] == []  # bob's Space
    assert (await alice.get("/api/v1/customers?space=x")).status_code == 400


async def test_customer_filter(alice: httpx.AsyncClient) -> None:
    invoices = (await alice.get("/api/v1/invoices?limit=50")).json()["data"]
    customers = list(dict.fromkeys(i["customer"]["id"] for i in invoices))[:3]
    for path in ("subscriptions", "invoices"):
        one = (await alice.get(f"/api/v1/{path}", params={"customer": customers[0]})).json()
        assert all(o["customer"]["id"] == customers[0] for o in one["data"])
        many = await alice.get(
            f"/api/v1/{path}", params={"customer": ",".join(customers), "limit": 100}
        )
        assert many.status_code == 200
        assert {o["customer"]["id"] for o in many.json()["data"]} <= set(customers)
    assert (await alice.get("/api/v1/invoices?customer=cus_unknown")).json()["data"] == []


async def test_subscription_filter_on_invoices(alice: httpx.AsyncClient) -> None:
    sub = next(s for s in (await alice.get("/api/v1/subscriptions?limit=100")).json()["data"])
    customer = sub["customer"]["id"]
    body = (
        await alice.get(
            "/api/v1/invoices", params={"customer": customer, "subscription": sub["token"]}
        )
    ).json()
    assert body["data"] and all(i["subscription"] == sub["token"] for i in body["data"])
    missing = await alice.get("/api/v1/invoices", params={"subscription": sub["token"]})
    assert missing.status_code == 400 and "customer" in missing.json()["message"]


async def test_event_type_filter(alice: httpx.AsyncClient) -> None:
    paid = (await alice.get("/api/v1/events?type=invoice.paid&limit=50")).json()["data"]
    assert paid and {e["type"] for e in paid} == {"invoice.paid"}
    two = (await alice.get("/api/v1/events?type=invoice.paid,customer.created&limit=100")).json()
    assert {e["type"] for e in two["data"]} <= {"invoice.paid", "customer.created"}
    for type_ in EVENT_TYPES:
        assert (await alice.get("/api/v1/events", params={"type": type_})).json()["data"], type_
    bad = await alice.get("/api/v1/events?type=invoice.exploded")
    assert bad.status_code == 400 and "invoice.exploded" in bad.json()["message"]


@pytest.mark.parametrize("path", ["customers", "invoices"])
async def test_batch_ids(alice: httpx.AsyncClient, path: str) -> None:
    page = (await alice.get(f"/api/v1/{path}", params={"limit": 5})).json()["data"]
    ids = [o["id"] for o in page]
    body = (
        await alice.get(f"/api/v1/{path}", params={"ids": ",".join([*ids, "x_unknown"])})
    ).json()
    assert body["has_more"] is False and body["data"] == page
    too_many = ",".join(f"id{i}" for i in range(101))
    assert (await alice.get(f"/api/v1/{path}", params={"ids": too_many})).status_code == 400


async def test_capabilities_off(make_client: Callable[..., httpx.AsyncClient]) -> None:
    app = create_app(SandboxConfig(batch_ids=False, multi_filters=False))
    async with make_client(app) as client:
        page = (await client.get("/api/v1/customers", params={"limit": 3})).json()["data"]
        ignored = await client.get("/api/v1/customers", params={"ids": page[2]["id"]})
        assert ignored.status_code == 200 and ignored.json()["count"] == 20  # like unknown params
        ids = ",".join(c["id"] for c in page)
        for path in ("subscriptions", "invoices"):
            response = await client.get(f"/api/v1/{path}", params={"customer": ids})
            assert response.status_code == 400
            assert response.json()["message"].startswith("multi-value filters not supported")
            single = await client.get(f"/api/v1/{path}", params={"customer": page[0]["id"]})
            assert single.status_code == 200


async def test_unknown_params_are_ignored(alice: httpx.AsyncClient) -> None:
    assert (await alice.get("/api/v1/customers?colour=blue")).status_code == 200
