"""The sandbox in the launch27 dialect: the contract of docs/dialects.md, each refusal."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.dialects.launch27 import local_time
from tests.test_sandbox_dialects import (
    EMAILS,
    L27_KEY,
    L27_V2,
    ROOT,
    ZONES,
    bare,
    basic,
    listed,
    login,
    make_app,
    speaker,
)

LOCAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def app() -> Starlette:
    return make_app("launch27")


@pytest.fixture
async def alice(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with await speaker(app, "launch27") as client:
        yield client


@pytest.fixture
async def alice_v1(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with await speaker(app, "launch27", v2=False) as client:
        yield client


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


# -- the integration key -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/account", "/customers", "/nowhere", "/login"])
async def test_missing_and_wrong_api_key(app: Starlette, path: str) -> None:
    credentials = {"X-Authentication": await login(app)}
    for headers, problem in (
        ({}, "Missing API key"),
        ({"X-API-Key": ""}, "Missing API key"),
        ({"X-API-Key": "l27-wrong"}, "Invalid API key"),
    ):
        async with bare(app, **credentials, **headers) as client:
            answer = await client.request("POST" if path == "/login" else "GET", path)
        assert answer.status_code == 406
        assert answer.json() == {"code": 406, "message": "not acceptable", "errors": [problem]}


async def test_a_configured_key() -> None:
    app = make_app("launch27", api_key="k-42")
    async with bare(app, **{"X-API-Key": L27_KEY}) as client:
        assert (await client.get("/account")).json()["errors"] == ["Invalid API key"]
    async with bare(
        app, **{"X-API-Key": "k-42", "X-Authentication": await login(app, key="k-42")}
    ) as client:
        assert (await client.get("/account")).status_code == 200


# -- login and X-Authentication ------------------------------------------------------------


@pytest.mark.parametrize("token", ["demo-alice", "demo-bob"])
async def test_login(app: Starlette, token: str) -> None:
    async with bare(app, **{"X-API-Key": L27_KEY}) as client:
        answer = await client.post("/login", json={"email": EMAILS[token], "password": token})
        assert answer.status_code == 200
        body = answer.json()
        assert set(body) == {"single_access_token", "email"} and body["email"] == EMAILS[token]
        assert token not in body["single_access_token"]
        shouted = await client.post(
            "/login", json={"email": EMAILS[token].upper(), "password": token}
        )
        assert shouted.json() == body  # e-mails compare case-insensitively
        form = await client.post("/login", data={"email": EMAILS[token], "password": token})
        assert form.json() == body
        auth = {"X-Authentication": f"{body['email']}:{body['single_access_token']}"}
        account = await client.get("/account", headers=auth)
    assert account.json()["email"] == EMAILS[token]


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "alice@example.com", "password": "wrong"},
        {"email": "bob@example.org", "password": "demo-alice"},
        {"email": "nobody@example.com", "password": "demo-alice"},
    ],
)
async def test_bad_login(app: Starlette, credentials: dict[str, str]) -> None:
    async with bare(app, **{"X-API-Key": L27_KEY}) as client:
        answer = await client.post("/login", json=credentials)
    assert answer.status_code == 401
    assert answer.json() == {"code": 401, "message": "invalid email or password"}


async def test_login_validation(app: Starlette) -> None:
    async with bare(app, **{"X-API-Key": L27_KEY}) as client:
        blank = await client.post("/login", json={"email": "", "password": 5})
        assert blank.status_code == 406
        assert blank.json() == {
            "code": 406,
            "message": "not acceptable",
            "errors": {"email": ["can't be blank"], "password": ["must be a string"]},
        }
        broken = await client.post(
            "/login", content=b"{", headers={"Content-Type": "application/json"}
        )
    assert broken.status_code == 400 and broken.json()["code"] == 400


async def test_tokens_are_stateless_across_processes() -> None:
    one, two = make_app("launch27"), make_app("launch27")
    issued = await login(one)
    async with bare(two, **{"X-API-Key": L27_KEY, "X-Authentication": issued}) as client:
        assert (await client.get("/account")).json()["email"] == "alice@example.com"
    other_key = make_app("launch27", api_key="another")
    async with bare(other_key, **{"X-API-Key": "another", "X-Authentication": issued}) as client:
        assert (await client.get("/account")).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "alice@example.com",
        "alice@example.com:",
        ":token",
        "alice@example.com:not-the-token",
        "nobody@example.com:whatever",
    ],
)
async def test_x_authentication_missing_or_invalid(app: Starlette, header: str | None) -> None:
    headers = {"X-API-Key": L27_KEY, "Authorization": basic("demo-alice")}
    if header is not None:
        headers["X-Authentication"] = header
    async with bare(app, **headers) as client:
        answer = await client.get("/account")
    assert answer.status_code == 401
    assert answer.json() == {"code": 401, "message": "unauthorized"}


async def test_bobs_token_is_not_alices(app: Starlette) -> None:
    bob = await login(app, "demo-bob")
    forged = "alice@example.com:" + bob.partition(":")[2]
    async with bare(app, **{"X-API-Key": L27_KEY, "X-Authentication": forged}) as client:
        assert (await client.get("/account")).status_code == 401


# -- versions ------------------------------------------------------------------------------


async def test_v1_and_v2_shapes(alice: httpx.AsyncClient, alice_v1: httpx.AsyncClient) -> None:
    v2 = (await alice.get("/customers", params={"limit": 3})).json()
    assert v2["object"] == "list" and v2["has_more"] is True and v2["count"] == 3
    assert {"created", "space"} <= set(v2["data"][0]) and "created" in v2["data"][0]["space"]
    v1 = (await alice_v1.get("/customers", params={"limit": 3})).json()
    assert isinstance(v1, list) and len(v1) == 3
    for old, new in zip(v1, v2["data"], strict=True):
        assert "created" not in old and "created" not in old["space"]
        assert old["created_at"] == new["created"]
        assert old["space"]["created_at"] == new["space"]["created"]
        assert {k: v for k, v in old.items() if k not in ("created_at", "space")} == {
            k: v for k, v in new.items() if k not in ("created", "space")
        }
    one = (await alice_v1.get(f"/customers/{v1[0]['id']}")).json()
    assert one == v1[0]
    account = (await alice_v1.get("/account")).json()
    assert "created_at" in account and account["time_zone"] == "America/New_York"


@pytest.mark.parametrize(
    ("accept", "v2"),
    [
        (None, False),
        ("application/json", False),
        ("application/launch27.v1", False),
        ("application/launch27.v3", False),
        (L27_V2, True),
        (f"application/json, {L27_V2}", True),
        ("APPLICATION/LAUNCH27.V2; q=1", True),
    ],
)
async def test_version_negotiation(app: Starlette, accept: str | None, v2: bool) -> None:
    headers = {"X-API-Key": L27_KEY, "X-Authentication": await login(app)}
    if accept is not None:
        headers["Accept"] = accept
    async with bare(app, **headers) as client:
        body = (await client.get("/spaces")).json()
    assert isinstance(body, dict) is v2


async def test_v2_cursor_walk_equals_the_full_list(alice: httpx.AsyncClient) -> None:
    full = await listed(alice, "launch27", "/customers")
    assert len(full) == 250
    walked: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 33}
    while True:
        body = (await alice.get("/customers", params=params)).json()
        walked += body["data"]
        if not body["has_more"]:
            break
        params = {"limit": 33, "starting_after": body["data"][-1]["id"]}
    assert walked == full
    back = await alice.get("/customers", params={"limit": 4, "starting_before": full[10]["id"]})
    assert back.json()["data"] == full[6:10]


# -- date-times ----------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["demo-alice", "demo-bob"])
async def test_local_date_times_in_the_accounts_zone(app: Starlette, token: str) -> None:
    spaces_app = make_app("spaces")
    async with (
        await speaker(app, "launch27", token) as local,
        await speaker(spaces_app, "spaces", token) as unix,
    ):
        zone = ZONES[token]
        assert (await local.get("/account")).json()["time_zone"] == zone.key
        pairs = list(
            zip(
                await listed(local, "launch27", "/customers"),
                await listed(unix, "spaces", "/customers"),
                strict=True,
            )
        )
        invoices = list(
            zip(
                (await local.get("/invoices", params={"limit": 100})).json()["data"],
                (await unix.get("/invoices", params={"limit": 100})).json()["data"],
                strict=True,
            )
        )
    offsets = set()
    for mine, theirs in pairs:
        assert LOCAL.fullmatch(mine["created"])
        assert mine["created"] == datetime.fromtimestamp(theirs["created"], zone).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
        offsets.add(utc(mine["created"]) - theirs["created"])
    # New York: both sides of daylight saving time; Tokyo: one offset, +9 h.
    assert offsets == ({-4 * 3600, -5 * 3600} if token == "demo-alice" else {9 * 3600})
    ranged = 0
    for mine, theirs in invoices:
        for item, raw in zip(mine["items"]["data"], theirs["items"]["data"], strict=True):
            for key in ("date_range_start", "date_range_end"):
                if raw[key] is None:
                    assert item[key] is None
                else:
                    ranged += 1
                    assert item[key] == local_time(raw[key], zone)
    assert ranged


@pytest.mark.parametrize(
    ("instant", "local"),
    [
        # Spring forward, 2024-03-10: 01:59:59 EST is followed by 03:00:00 EDT.
        ("2024-03-10T06:59:59", "2024-03-10T01:59:59"),
        ("2024-03-10T07:00:00", "2024-03-10T03:00:00"),
        # Fall back, 2024-11-03: 01:30 happens twice; both read 01:30 (no offset sent).
        ("2024-11-03T05:30:00", "2024-11-03T01:30:00"),
        ("2024-11-03T06:30:00", "2024-11-03T01:30:00"),
        ("2024-11-03T07:00:00", "2024-11-03T02:00:00"),
        ("2024-07-01T12:00:05", "2024-07-01T08:00:05"),
        ("2024-01-15T12:00:05", "2024-01-15T07:00:05"),
    ],
)
def test_local_time_across_daylight_saving(instant: str, local: str) -> None:
    assert local_time(utc(instant), NEW_YORK) == local


async def test_seeded_objects_across_a_transition(app: Starlette) -> None:
    """Alice's events on both sides of 2023-11-05 06:00Z read in EDT, then EST."""
    spaces_app = make_app("spaces")
    transition = utc("2023-11-05T06:00:00")
    async with (
        await speaker(app, "launch27") as local,
        await speaker(spaces_app, "spaces") as unix,
    ):
        events = await listed(unix, "spaces", "/events")
        before = max((e for e in events if e["created"] < transition), key=lambda e: e["created"])
        after = min((e for e in events if e["created"] >= transition), key=lambda e: e["created"])
        got = {}
        for event in (before, after):
            page = (
                await local.get(
                    "/events", params={"limit": 1, "starting_after": _newer(events, event)}
                )
            ).json()["data"]
            got[event["id"]] = page[0]
    assert got[before["id"]]["created"] == datetime.fromtimestamp(
        before["created"] - 4 * 3600, UTC
    ).strftime("%Y-%m-%dT%H:%M:%S")
    assert got[after["id"]]["created"] == datetime.fromtimestamp(
        after["created"] - 5 * 3600, UTC
    ).strftime("%Y-%m-%dT%H:%M:%S")
    snapshot = got[after["id"]]["data"]["object"]
    assert LOCAL.fullmatch(snapshot["created"])


def _newer(events: list[dict[str, Any]], event: dict[str, Any]) -> str:
    """The id of the event just before ``event`` in the newest-first list."""
    return str(events[events.index(event) - 1]["id"])


# -- errors ----------------------------------------------------------------------------------


async def test_not_found_and_other_errors(alice: httpx.AsyncClient, app: Starlette) -> None:
    for path in ("/invoices/in_nope", "/customers/cus_nope", "/nowhere", "/spaces/alices-coffee"):
        answer = await alice.get(path)
        assert answer.status_code == 404
        assert answer.json() == {"code": 404, "message": "resource not found"}
    limit = await alice.get("/customers", params={"limit": 0})
    assert limit.status_code == 400 and limit.json()["code"] == 400
    assert "limit" in limit.json()["message"]
    method = await alice.put("/customers")
    assert method.status_code == 405 and method.json()["code"] == 405
    assert method.headers["allow"] == "GET"
    # the spotcap spelling is not launch27's
    assert (await alice.get("/captured-emails")).status_code == 404

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    app.state.sandbox.store.page = explode
    failed = await alice.get("/customers")
    assert failed.status_code == 500
    assert failed.json() == {"code": 500, "message": "internal server error"}


async def test_validation_errors_are_406(alice: httpx.AsyncClient, app: Starlette) -> None:
    blank = await alice.post("/resource_subscriptions", json={"event": "invoice.paid"})
    assert blank.status_code == 406
    assert blank.json() == {
        "code": 406,
        "message": "not acceptable",
        "errors": {"target_url": ["can't be blank"]},
    }
    bad = await alice.post(
        "/resource_subscriptions", json={"event": "nope", "target_url": "mailto:x@example.com"}
    )
    assert bad.status_code == 406 and set(bad.json()["errors"]) == {"event", "target_url"}
    assert bad.json()["errors"]["target_url"] == ["is not an absolute http(s) URL"]

    async with bare(app, Authorization=basic("demo-alice")) as own:
        made = await own.post(ROOT + "/_sandbox/activity", json={"type": "invoice.created"})
    invoice = made.json()["data"]["object"]
    paid = await alice.post(f"/invoices/{invoice['id']}/pay")
    assert paid.status_code == 200 and paid.json()["paid"] is True
    assert LOCAL.fullmatch(paid.json()["created"]) and "etag" not in paid.headers
    again = await alice.post(f"/invoices/{invoice['id']}/pay")
    assert again.status_code == 406
    assert again.json() == {
        "code": 406,
        "message": "not acceptable",
        "errors": [f"Invoice {invoice['id']} is already paid"],
    }


async def test_writes_answer_200_and_etags_as_spaces(alice: httpx.AsyncClient) -> None:
    made = await alice.post(
        "/resource_subscriptions",
        json={"event": "invoice.paid", "target_url": "http://127.0.0.1:9/h"},
    )
    assert made.status_code == 200 and LOCAL.fullmatch(made.json()["created"])
    listed_now = await alice.get("/resource_subscriptions")
    etag = listed_now.headers["etag"]
    assert (
        await alice.get("/resource_subscriptions", headers={"If-None-Match": etag})
    ).status_code == 304
    gone = await alice.delete(f"/resource_subscriptions/{made.json()['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    changed = await alice.get("/resource_subscriptions", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["data"] == []
