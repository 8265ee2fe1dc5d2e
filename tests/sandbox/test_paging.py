"""Cursor pagination: newest first, both directions, boundaries and bad arguments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


async def walk_forward(client: httpx.AsyncClient, path: str, limit: int = 100) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        body = (await client.get(path, params=params)).json()
        ids += [o["id"] for o in body["data"]]
        if not body["has_more"]:
            return ids
        params["starting_after"] = ids[-1]


async def walk_backward(
    client: httpx.AsyncClient, path: str, last: str, limit: int = 100
) -> list[str]:
    """Pages before ``last`` (exclusive), each newest first, from the end to the start."""
    ids: list[str] = []
    cursor = last
    while True:
        body = (await client.get(path, params={"limit": limit, "starting_before": cursor})).json()
        ids = [o["id"] for o in body["data"]] + ids
        if not body["has_more"]:
            return ids
        cursor = body["data"][0]["id"]


async def test_newest_first(alice: httpx.AsyncClient) -> None:
    data = (await alice.get("/api/v1/invoices", params={"limit": 100})).json()["data"]
    keys = [o["created"] for o in data]
    assert keys == sorted(keys, reverse=True)


async def test_walk_forward_equals_walk_backward(alice: httpx.AsyncClient) -> None:
    forward = await walk_forward(alice, "/api/v1/customers")
    assert len(forward) == len(set(forward)) >= 220
    oldest = forward[-1]
    backward = await walk_backward(alice, "/api/v1/customers", oldest)
    assert [*backward, oldest] == forward


async def test_first_and_last_page(alice: httpx.AsyncClient) -> None:
    all_ids = await walk_forward(alice, "/api/v1/customers")
    first = (await alice.get("/api/v1/customers", params={"limit": 5})).json()
    assert [o["id"] for o in first["data"]] == all_ids[:5] and first["has_more"] is True
    last = (await alice.get("/api/v1/customers", params={"starting_after": all_ids[-6]})).json()
    assert [o["id"] for o in last["data"]] == all_ids[-5:] and last["has_more"] is False
    empty = (await alice.get("/api/v1/customers", params={"starting_after": all_ids[-1]})).json()
    assert empty["data"] == [] and empty["count"] == 0 and empty["has_more"] is False


async def test_starting_before(alice: httpx.AsyncClient) -> None:
    all_ids = await walk_forward(alice, "/api/v1/customers")
    newest = (await alice.get("/api/v1/customers", params={"starting_before": all_ids[0]})).json()
    assert newest["data"] == [] and newest["has_more"] is False
    body = (
        await alice.get("/api/v1/customers", params={"starting_before": all_ids[10], "limit": 3})
    ).json()
    assert [o["id"] for o in body["data"]] == all_ids[7:10] and body["has_more"] is True
    body = (
        await alice.get("/api/v1/customers", params={"starting_before": all_ids[3], "limit": 3})
    ).json()
    assert [o["id"] for o in body["data"]] == all_ids[:3] and body["has_more"] is False
    body = (
        await alice.get("/api/v1/customers", params={"starting_before": all_ids[3], "limit": 10})
    ).json()
    assert [o["id"] for o in body["data"]] == all_ids[:3] and body["has_more"] is False


async def test_limit_default_and_bounds(alice: httpx.AsyncClient) -> None:
    assert (await alice.get("/api/v1/invoices")).json()["count"] == 20
    assert (await alice.get("/api/v1/invoices?limit=1")).json()["count"] == 1
    assert (await alice.get("/api/v1/invoices?limit=100")).json()["count"] == 100


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", ""])
async def test_bad_limit(alice: httpx.AsyncClient, limit: str) -> None:
    response = await alice.get("/api/v1/customers", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["message"]


async def test_unknown_cursor_and_both_cursors(alice: httpx.AsyncClient) -> None:
    for arg in ("starting_after", "starting_before"):
        response = await alice.get("/api/v1/customers", params={arg: "cus_doesnotexist"})
        assert response.status_code == 400 and "cus_doesnotexist" in response.json()["message"]
    ids = await walk_forward(alice, "/api/v1/customers", 3)
    response = await alice.get(
        "/api/v1/customers", params={"starting_after": ids[0], "starting_before": ids[2]}
    )
    assert response.status_code == 400


async def test_cursor_must_belong_to_the_filtered_list(alice: httpx.AsyncClient) -> None:
    invoices = (await alice.get("/api/v1/invoices?limit=100")).json()["data"]
    a = invoices[0]["customer"]["id"]
    other = next(i["id"] for i in invoices if i["customer"]["id"] != a)
    response = await alice.get("/api/v1/invoices", params={"customer": a, "starting_after": other})
    assert response.status_code == 400


async def test_subscription_cursor_is_the_token(alice: httpx.AsyncClient) -> None:
    subs = (await alice.get("/api/v1/subscriptions?limit=6")).json()["data"]
    after = (
        await alice.get(
            "/api/v1/subscriptions", params={"limit": 3, "starting_after": subs[2]["token"]}
        )
    ).json()
    assert [s["token"] for s in after["data"]] == [s["token"] for s in subs[3:6]]
    customer = subs[0]["customer"]["id"]
    own = (await alice.get(f"/api/v1/customers/{customer}/subscriptions")).json()["data"]
    if len(own) > 1:
        rest = (
            await alice.get(
                f"/api/v1/customers/{customer}/subscriptions",
                params={"starting_after": own[0]["token"]},
            )
        ).json()
        assert rest["data"] == own[1:]


async def test_every_list_pages(alice: httpx.AsyncClient) -> None:
    for path in ("spaces", "subscriptions", "invoices", "captured_emails", "events", "webhooks"):
        first = (await alice.get(f"/api/v1/{path}", params={"limit": 2})).json()
        key = "token" if path == "subscriptions" else "id"
        cursor = first["data"][0][key]
        second = (
            await alice.get(f"/api/v1/{path}", params={"limit": 1, "starting_after": cursor})
        ).json()
        assert second["data"][0][key] == first["data"][1][key], path
