"""Seeded data: determinism, volume, realism and the upstream's quirks."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from sandbox.app import SandboxConfig, create_app
from sandbox.db import open_store, seed_into
from sandbox.seed import build_rows, seeded_counts


async def test_same_seed_same_answers(make_client: Callable[..., httpx.AsyncClient]) -> None:
    pages = []
    for seed in (42, 42, 7):
        async with make_client(create_app(SandboxConfig(seed=seed))) as client:
            pages.append(
                [
                    (await client.get(f"/api/v1/{p}?limit=100")).content
                    for p in ("customers", "invoices", "events")
                ]
            )
    assert pages[0] == pages[1]
    assert all(a != b for a, b in zip(pages[0], pages[2], strict=True))


def test_rows_are_byte_identical_per_seed() -> None:
    assert build_rows(5) == build_rows(5)
    assert build_rows(5) != build_rows(6)


def test_volumes() -> None:
    counts = seeded_counts(build_rows(42))
    alice, bob = counts["demo-alice"], counts["demo-bob"]
    assert alice["space"] == 3 and alice["customer"] >= 220 and alice["subscription"] >= 440
    assert alice["invoice"] >= 2200 and alice["captured_email"] >= 150
    assert alice["event"] >= 3000 and alice["webhook"] >= 100
    assert "resource_subscription" not in alice
    assert bob["space"] == 1 and 5 <= bob["customer"] <= 12 and 8 <= bob["subscription"] <= 16
    assert 25 <= bob["invoice"] <= 60 and bob["event"] > 0 and bob["webhook"] > 0


def test_every_object_has_its_creation_event() -> None:
    counts = seeded_counts(build_rows(42))["demo-alice"]
    conn = sqlite3.connect(":memory:")
    seed_into(conn, 42)
    by_type = dict(
        conn.execute(
            "SELECT type, COUNT(*) FROM objects WHERE account='demo-alice' AND kind='event' GROUP BY type"
        ).fetchall()
    )
    paid = conn.execute(
        "SELECT COUNT(*) FROM objects WHERE account='demo-alice' AND kind='invoice'"
        " AND json_extract(body, '$.paid')"
    ).fetchone()[0]
    cancelled = conn.execute(
        "SELECT COUNT(*) FROM objects WHERE account='demo-alice' AND kind='subscription'"
        " AND json_extract(body, '$.status')='cancelled'"
    ).fetchone()[0]
    assert by_type == {
        "customer.created": counts["customer"],
        "subscription.created": counts["subscription"],
        "invoice.created": counts["invoice"],
        "invoice.paid": paid,
        "subscription.cancelled": cancelled,
        "captured_email.created": counts["captured_email"],
    }


def test_seeding_is_fast(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "seed.sqlite3")
    started = time.perf_counter()
    seed_into(conn, 1234)
    assert time.perf_counter() - started < 1.5


def test_db_file_is_seeded_once_then_reused(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.sqlite3")
    store = open_store(3, path)
    store.insert(
        [
            (
                "demo-bob",
                "resource_subscription",
                "rs_keep",
                1,
                None,
                None,
                None,
                "invoice.paid",
                None,
                '{"id": "rs_keep"}',
            )
        ]
    )
    store.close()
    again = open_store(99, path)  # a different seed does not reseed a used file
    assert again.raw("demo-bob", "resource_subscription", "rs_keep") == {"id": "rs_keep"}
    assert (
        again.count("demo-alice", "customer")
        == seeded_counts(build_rows(3))["demo-alice"]["customer"]
    )
    again.close()


async def test_item_id_string_and_int_in_one_list(alice: httpx.AsyncClient) -> None:
    invoices = (await alice.get("/api/v1/invoices?limit=100")).json()["data"]
    mixed = [
        i for i in invoices if {type(item["item_id"]) for item in i["items"]["data"]} == {str, int}
    ]
    assert mixed
    assert any(item["item_id"] == "100100" for i in invoices for item in i["items"]["data"])


async def test_customer_token_spelling_in_event_snapshots(alice: httpx.AsyncClient) -> None:
    events = (await alice.get("/api/v1/events?limit=100")).json()["data"]
    spellings = {"id": 0, "token": 0}
    for event in events:
        snapshot = event["data"]["object"]
        customer = snapshot if snapshot["object"] == "customer" else snapshot.get("customer")
        if customer is not None:
            spellings["token" if "token" in customer else "id"] += 1
            assert ("token" in customer) != ("id" in customer)
    assert spellings["id"] and spellings["token"]
    created = (await alice.get("/api/v1/events?type=customer.created&limit=100")).json()["data"]
    assert any("token" in e["data"]["object"] for e in created)
    assert any("id" in e["data"]["object"] for e in created)


async def test_currency_codes_and_amounts(alice: httpx.AsyncClient) -> None:
    subs = (await alice.get("/api/v1/subscriptions?limit=100")).json()["data"]
    currencies = {s["currency"] for s in subs}
    assert currencies <= {"USD", "EUR", "SEK"} and len(currencies) > 1
    assert all(isinstance(s["total"], int) for s in subs)


async def test_numbers_sequential_per_space(alice: httpx.AsyncClient) -> None:
    subs: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        body = (await alice.get("/api/v1/subscriptions", params=params)).json()
        subs += body["data"]
        if not body["has_more"]:
            break
        params["starting_after"] = subs[-1]["token"]
    assert len({s["token"] for s in subs}) == len(subs) >= 440
    per_space: dict[int, list[int]] = {}
    for sub in reversed(subs):  # oldest first
        per_space.setdefault(sub["customer"]["space"]["id"], []).append(sub["serial_number"])
    for numbers in per_space.values():
        assert numbers == list(range(1, len(numbers) + 1))


async def test_both_accounts_show_every_state(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    for client in (alice, bob):
        subs = (await client.get("/api/v1/subscriptions?limit=100")).json()["data"]
        invoices = (await client.get("/api/v1/invoices?limit=100")).json()["data"]
        hooks = (await client.get("/api/v1/webhooks?limit=100")).json()["data"]
        assert {s["status"] for s in subs} == {"active", "cancelled"}
        assert {i["paid"] for i in invoices} == {True, False}
        assert {h["pending"] for h in hooks} == {True, False}
