"""HTTP Basic auth with the access token as username, and isolation between accounts."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.test_paging import walk_forward


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer demo-alice"},
        {"Authorization": "Basic ZGVtby1tYWxsb3J5Og=="},  # demo-mallory:
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic Og=="},  # ":" - empty token
    ],
)
async def test_refused(alice: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for path in ("/api/v1/account", "/api/v1/customers", "/api/v1/invoices/in_x"):
        response = await alice.get(path, headers=headers, auth=None)  # auth=None: no client auth
        assert response.status_code == 401
        assert set(response.json()) == {"message"}


async def test_bob_is_small_and_separate(alice: httpx.AsyncClient, bob: httpx.AsyncClient) -> None:
    assert (await bob.get("/api/v1/account")).json()["name"] == "Bob Berg"
    spaces = (await bob.get("/api/v1/spaces")).json()["data"]
    assert [s["id"] for s in spaces] == [4]
    bob_customers = set(await walk_forward(bob, "/api/v1/customers"))
    alice_customers = set(await walk_forward(alice, "/api/v1/customers"))
    assert 5 <= len(bob_customers) <= 12 and not bob_customers & alice_customers
    for path in ("invoices", "events", "webhooks", "captured_emails"):
        bob_ids = set(await walk_forward(bob, f"/api/v1/{path}"))
        alice_page = {
            o["id"] for o in (await alice.get(f"/api/v1/{path}?limit=100")).json()["data"]
        }
        assert bob_ids and not bob_ids & alice_page, path


async def test_bob_gets_404_for_alice_objects(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    invoice = (await alice.get("/api/v1/invoices?limit=1")).json()["data"][0]
    sub = (await alice.get("/api/v1/subscriptions?limit=1")).json()["data"][0]
    customer = invoice["customer"]["id"]
    for path in (
        f"/api/v1/customers/{customer}",
        f"/api/v1/invoices/{invoice['id']}",
        "/api/v1/spaces/1",
        f"/api/v1/customers/{customer}/subscriptions",
        f"/api/v1/customers/{sub['customer']['id']}/subscriptions/{sub['token']}",
    ):
        assert (await bob.get(path)).status_code == 404, path
    assert (await bob.post(f"/api/v1/invoices/{invoice['id']}/pay")).status_code == 404
    cancel = f"/api/v1/customers/{sub['customer']['id']}/subscriptions/{sub['token']}"
    assert (await bob.delete(cancel)).status_code == 404
    batch = await bob.get("/api/v1/customers", params={"ids": customer})
    assert batch.json()["data"] == []
    assert (await bob.get("/api/v1/invoices", params={"customer": customer})).json()["data"] == []
    # and a cursor from alice's list is not in bob's
    assert (
        await bob.get("/api/v1/customers", params={"starting_after": customer})
    ).status_code == 400
