"""Every endpoint answers the contract's shapes (spaces-api.md)."""

from __future__ import annotations

from typing import Any

import httpx

LIST_KEYS = {"object", "url", "count", "has_more", "data"}
ADDRESS_KEYS = {"object", "line_1", "line_2", "line_3", "zip_code", "locality", "region", "country"}


def assert_list(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    assert set(body) == LIST_KEYS
    assert body["object"] == "list"
    assert body["count"] == len(body["data"])
    assert isinstance(body["has_more"], bool)
    assert all(obj["object"] == kind for obj in body["data"])
    return list(body["data"])


def assert_space(space: dict[str, Any]) -> None:
    assert set(space) == {"object", "id", "created", "url"}
    assert space["object"] == "space"
    assert isinstance(space["id"], int) and isinstance(space["created"], int)
    assert space["url"] is None or space["url"].startswith("https://")


def assert_customer(customer: dict[str, Any]) -> None:
    assert set(customer) == {"object", "id", "name", "email", "created", "space"}
    assert customer["id"].startswith("cus_") and len(customer["id"]) == 18
    assert "@" in customer["email"]
    assert_space(customer["space"])


def assert_items(items: dict[str, Any], kind: str, extra: set[str]) -> int:
    assert items["object"] == "list" and items["count"] == len(items["data"]) >= 1
    total = 0
    for item in items["data"]:
        keys = {"object", "item_id", "description", "quantity", "discount", "unit_amount"}
        assert set(item) == keys | {"total_amount"} | extra
        assert item["object"] == kind
        assert isinstance(item["item_id"], str | int)
        assert item["total_amount"] == item["quantity"] * item["unit_amount"] - item["discount"]
        total += item["total_amount"]
    return total


def assert_subscription(sub: dict[str, Any]) -> None:
    keys = {
        "object",
        "token",
        "serial_number",
        "created",
        "status",
        "items",
        "total",
        "currency",
        "customer",
    }
    assert set(sub) == keys
    assert sub["token"].startswith("sub_") and len(sub["token"]) == 14
    assert sub["status"] in ("active", "cancelled")
    assert isinstance(sub["currency"], str) and len(sub["currency"]) == 3
    assert sub["total"] == assert_items(sub["items"], "subscription_item", set())
    assert_customer(sub["customer"])


def assert_invoice(invoice: dict[str, Any]) -> None:
    keys = {
        "object",
        "id",
        "created",
        "order_number",
        "billing_address",
        "shipping_address",
        "paid",
        "shipped",
        "shipping_details",
        "total",
        "currency",
        "items",
        "customer",
        "subscription",
    }
    assert set(invoice) == keys
    assert invoice["id"].startswith("in_") and len(invoice["id"]) == 17
    for key in ("billing_address", "shipping_address"):
        address = invoice[key]
        assert address is None or (set(address) == ADDRESS_KEYS and len(address["country"]) == 2)
    assert (invoice["shipping_details"] is not None) == invoice["shipped"]
    extra = {"currency", "date_range_start", "date_range_end"}
    assert invoice["total"] == assert_items(invoice["items"], "invoice_item", extra)
    assert invoice["subscription"] is None or invoice["subscription"].startswith("sub_")
    assert_customer(invoice["customer"])


async def test_account(alice: httpx.AsyncClient) -> None:
    response = await alice.get("/api/v1/account")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    account = response.json()
    assert set(account) == {
        "object",
        "created",
        "name",
        "email",
        "avatar_image_url",
        "referral_code",
    }
    assert account["object"] == "account" and account["name"] == "Alice Andersson"


async def test_spaces_and_one_private(alice: httpx.AsyncClient) -> None:
    spaces = assert_list((await alice.get("/api/v1/spaces")).json(), "space")
    assert [s["id"] for s in spaces] == [3, 2, 1]
    for space in spaces:
        assert_space(space)
        assert (await alice.get(f"/api/v1/spaces/{space['id']}")).json() == space
    assert [s for s in spaces if s["url"] is None]
    assert (await alice.get("/api/v1/spaces/99")).status_code == 404
    assert (await alice.get("/api/v1/spaces/abc")).status_code == 404


async def test_customers(alice: httpx.AsyncClient) -> None:
    customers = assert_list((await alice.get("/api/v1/customers")).json(), "customer")
    assert len(customers) == 20
    for customer in customers:
        assert_customer(customer)
    one = (await alice.get(f"/api/v1/customers/{customers[0]['id']}")).json()
    assert one == customers[0]
    missing = await alice.get("/api/v1/customers/cus_nope")
    assert missing.status_code == 404 and "message" in missing.json()


async def test_subscriptions(alice: httpx.AsyncClient) -> None:
    subs = assert_list((await alice.get("/api/v1/subscriptions?limit=100")).json(), "subscription")
    for sub in subs:
        assert_subscription(sub)
    sub = subs[0]
    customer_id = sub["customer"]["id"]
    listed = (await alice.get(f"/api/v1/customers/{customer_id}/subscriptions")).json()
    assert sub in assert_list(listed, "subscription")
    assert all(s["customer"]["id"] == customer_id for s in listed["data"])
    one = await alice.get(f"/api/v1/customers/{customer_id}/subscriptions/{sub['token']}")
    assert one.json() == sub
    assert (
        await alice.get(f"/api/v1/customers/{customer_id}/subscriptions/sub_x")
    ).status_code == 404
    assert (await alice.get("/api/v1/customers/cus_x/subscriptions")).status_code == 404
    assert {s["status"] for s in subs} == {"active", "cancelled"}


async def test_invoices(alice: httpx.AsyncClient) -> None:
    invoices = assert_list((await alice.get("/api/v1/invoices?limit=100")).json(), "invoice")
    for invoice in invoices:
        assert_invoice(invoice)
    assert (await alice.get(f"/api/v1/invoices/{invoices[0]['id']}")).json() == invoices[0]
    assert (await alice.get("/api/v1/invoices/in_nope")).status_code == 404
    assert {i["paid"] for i in invoices} == {True, False}
    assert any(i["subscription"] is None for i in invoices)
    assert any(i["shipping_address"] is None for i in invoices)


async def test_captured_emails(alice: httpx.AsyncClient) -> None:
    emails = assert_list((await alice.get("/api/v1/captured_emails")).json(), "captured_email")
    for email in emails:
        assert set(email) == {"object", "id", "email", "created", "space"}
        assert email["id"].startswith("ce_")
        assert_space(email["space"])


async def test_events(alice: httpx.AsyncClient) -> None:
    events = assert_list((await alice.get("/api/v1/events?limit=100")).json(), "event")
    for event in events:
        assert set(event) == {"object", "id", "created", "type", "data"}
        assert event["id"].startswith("ev_")
        assert set(event["data"]) == {"object"}
        assert event["data"]["object"]["object"] == event["type"].split(".")[0]


async def test_webhooks(alice: httpx.AsyncClient) -> None:
    hooks = assert_list((await alice.get("/api/v1/webhooks?limit=100")).json(), "webhook")
    assert len(hooks) == 100
    for hook in hooks:
        assert set(hook) == {"object", "id", "created", "url", "event", "pending"}
        assert hook["id"].startswith("wh_") and hook["event"]["object"] == "event"
    assert {h["pending"] for h in hooks} == {True, False}


async def test_resource_subscriptions_start_empty(alice: httpx.AsyncClient) -> None:
    body = (await alice.get("/api/v1/resource_subscriptions")).json()
    assert assert_list(body, "resource_subscription") == [] and body["has_more"] is False


async def test_no_get_by_id_for_list_only_kinds(alice: httpx.AsyncClient) -> None:
    for path in ("events", "webhooks", "captured_emails", "resource_subscriptions"):
        first = (await alice.get(f"/api/v1/{path}?limit=1")).json()["data"]
        object_id = first[0]["id"] if first else "rs_x"
        response = await alice.get(f"/api/v1/{path}/{object_id}")
        assert response.status_code in (404, 405), path
        assert "message" in response.json()


async def test_openapi_document(alice: httpx.AsyncClient) -> None:
    response = await alice.get("/api/v1/openapi.json", auth=None)
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/openapi.json",
        "/account",
        "/spaces",
        "/spaces/{id}",
        "/customers",
        "/customers/{id}",
        "/customers/{id}/subscriptions",
        "/customers/{id}/subscriptions/{token}",
        "/subscriptions",
        "/invoices",
        "/invoices/{id}",
        "/invoices/{id}/pay",
        "/captured_emails",
        "/events",
        "/webhooks",
        "/resource_subscriptions",
        "/resource_subscriptions/{id}",
    }
    assert set(doc["paths"]["/customers/{id}/subscriptions/{token}"]) == {"get", "delete"}
    assert set(doc["paths"]["/resource_subscriptions"]) == {"get", "post"}
    # every $ref resolves
    schemas = doc["components"]["schemas"]
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs and all(r.removeprefix("#/components/schemas/") in schemas for r in refs)
    customers_params = {p["name"] for p in doc["paths"]["/customers"]["get"]["parameters"]}
    assert customers_params == {"limit", "starting_after", "starting_before", "space", "ids"}
