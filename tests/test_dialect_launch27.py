"""The launch27 dialect transport against a fake upstream speaking its wire contract.

docs/dialects.md ("launch27") is the contract: the fake below answers v2 only when
asked with ``Accept: application/launch27.v2``, needs ``X-API-Key`` on every request
and ``X-Authentication: email:token`` on every request but ``/login``, and writes
date-times local to the account's zone, without a zone.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from resolvers.client import SpacesClient
from resolvers.dialects import dialect
from resolvers.dialects.base import DialectConfig
from resolvers.dialects.launch27 import (
    ACCEPT_V2,
    DIALECT,
    Launch27Transport,
    make_token,
    open_token,
)
from resolvers.errors import UpstreamError, UpstreamRejected
from spaces_graphql.settings import Settings

KEY = "l27-test-key"
BASE = "http://127.0.0.1/api/v1/"
ALICE = {
    "email": "alice@example.com",
    "password": "demo-alice",
    "sat": "SATalice1",
    "tz": "America/New_York",
}
BOB = {"email": "bob@example.com", "password": "demo-bob", "sat": "SATbob22", "tz": "Asia/Tokyo"}
ACCOUNTS = {a["email"]: a for a in (ALICE, BOB)}


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


class FakeLaunch27:
    """A strict launch27 v2 upstream (an ``httpx.MockTransport`` handler)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.etag = '"v1"'
        #: Refuse every new REST Hook with a field map (the facade checks targets first).
        self.reject_hooks = False

    def routes(self) -> list[str]:
        return [f"{r.method} {r.url.path.removeprefix('/api/v1/')}" for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = request.headers.get("x-api-key")
        if key != KEY:
            why = "Missing API key" if key is None else "Invalid API key"
            return self.error(406, "not acceptable", [why])
        path = request.url.path.removeprefix("/api/v1/")
        if request.method == "POST" and path == "login":
            body = orjson.loads(request.content)
            account = ACCOUNTS.get(body.get("email", ""))
            if account is None or account["password"] != body.get("password"):
                return self.error(401, "invalid email or password")
            return httpx.Response(
                200, json={"single_access_token": account["sat"], "email": account["email"]}
            )
        email, _, sat = request.headers.get("x-authentication", "").partition(":")
        account = ACCOUNTS.get(email)
        if account is None or account["sat"] != sat:
            return self.error(401, "unauthorized")
        v2 = request.headers.get("accept") == ACCEPT_V2
        return self.route(request, path, account, v2)

    @staticmethod
    def error(status: int, message: str, errors: Any = None) -> httpx.Response:
        body: dict[str, Any] = {"code": status, "message": message}
        if errors is not None:
            body["errors"] = errors
        return httpx.Response(status, json=body)

    def route(
        self, request: httpx.Request, path: str, account: dict[str, str], v2: bool
    ) -> httpx.Response:
        ny = account["tz"] == "America/New_York"
        if path == "account":
            return httpx.Response(
                200,
                json={
                    "object": "account",
                    "email": account["email"],
                    "created": "2024-11-03T01:30:00" if ny else "2024-03-10T02:30:00",
                    "time_zone": account["tz"],
                },
            )
        if path == "customers":
            if request.headers.get("if-none-match") == self.etag:
                return httpx.Response(304, headers={"etag": self.etag})
            space = {"object": "space", "id": 1, "created": "2024-03-10T03:00:00", "url": None}
            data = [
                {
                    "object": "customer",
                    "id": "cus_1",
                    "created": "2024-07-04T12:00:00",
                    "space": space,
                }
            ]
            if not v2:  # v1: a bare array, `created_at`
                return httpx.Response(200, json=[{**data[0], "created_at": data[0].pop("created")}])
            body = {"object": "list", "count": 1, "has_more": False, "data": data}
            return httpx.Response(200, json=body, headers={"etag": self.etag})
        if path == "invoices/in_1":
            item = {
                "item_id": "1",
                "date_range_start": "2024-03-10T02:30:00",
                "date_range_end": None,
            }
            return httpx.Response(
                200,
                json={
                    "object": "invoice",
                    "id": "in_1",
                    "created": "2024-01-15T12:00:00",
                    "items": {"data": [item], "count": 1},
                    "customer": {
                        "object": "customer",
                        "id": "cus_1",
                        "created": "2024-01-01T00:00:00",
                    },
                },
            )
        if path == "events":
            snapshot = {"object": "customer", "id": "cus_1", "created": "2024-11-03T02:00:00"}
            event = {
                "object": "event",
                "id": "ev_1",
                "type": "customer.created",
                "created": "2024-11-03T00:59:59",
                "data": {"object": snapshot},
            }
            wh = {
                "object": "webhook",
                "id": "wh_1",
                "created": "2024-11-03T03:00:00",
                "event": event,
            }
            return httpx.Response(
                200, json={"object": "list", "count": 2, "has_more": False, "data": [event, wh]}
            )
        if path == "resource_subscriptions" and request.method == "POST":
            body = orjson.loads(request.content)
            if self.reject_hooks:
                return self.error(
                    406,
                    "not acceptable",
                    {"target_url": ["is not reachable"], "event": ["is invalid", "is unknown"]},
                )
            if not body.get("target_url"):
                return self.error(
                    406,
                    "not acceptable",
                    {"target_url": ["can't be blank"], "event": ["is invalid", "is unknown"]},
                )
            if body.get("event") == "full":
                return self.error(406, "not acceptable", ["Too many hooks", "Account is suspended"])
            return httpx.Response(
                200,
                json={
                    "object": "resource_subscription",
                    "id": "rs_1",
                    "created": body.get("created", "2024-01-15T12:00:00"),
                    **body,
                },
            )
        if path == "invoices/in_2/pay":
            return self.error(406, "not acceptable", ["Invoice is already paid"])
        if path == "limited":
            return httpx.Response(
                429, json={"code": 429, "message": "slow down"}, headers={"retry-after": "7"}
            )
        if path == "broken":
            return httpx.Response(500, json={"code": 500, "message": "internal"})
        return self.error(404, "resource not found")


def basic(token: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


ALICE_TOKEN = make_token(ALICE["email"], ALICE["sat"])
BOB_TOKEN = make_token(BOB["email"], BOB["sat"])


@pytest.fixture
async def wire() -> AsyncIterator[tuple[httpx.AsyncClient, FakeLaunch27, Launch27Transport]]:
    fake = FakeLaunch27()
    transport = DIALECT.wrap(
        httpx.MockTransport(fake),
        DialectConfig(api_key=KEY, max_upstream_body_bytes=1 << 20, base_url=BASE),
    )
    assert isinstance(transport, Launch27Transport)
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        yield http, fake, transport


Wire = tuple[httpx.AsyncClient, FakeLaunch27, Launch27Transport]


def test_registry_and_token_format() -> None:
    assert dialect("launch27") is DIALECT and DIALECT.has_login
    assert not dialect("spaces").has_login
    assert ALICE_TOKEN.startswith("l27.") and "=" not in ALICE_TOKEN
    assert open_token(ALICE_TOKEN) == (ALICE["email"], ALICE["sat"])
    for bad in (
        "demo-alice",
        "l27.",
        "l27.!!!",
        "l27." + base64.urlsafe_b64encode(b"[1,2]").decode(),
    ):
        assert open_token(bad) is None
    # Nothing that could split a header, nor a colon in the email.
    assert open_token(make_token("a@b.c", "x\r\nX-Evil: 1")) is None
    assert open_token(make_token("a:b@c.d", "tok")) is None


async def test_headers_and_one_zone_lookup_per_credential(wire: Wire) -> None:
    http, fake, transport = wire
    response = await http.get("customers", headers=basic(ALICE_TOKEN))
    assert response.status_code == 200
    assert fake.routes() == ["GET account", "GET customers"]
    for sent in fake.requests:
        assert sent.headers["x-api-key"] == KEY
        assert sent.headers["accept"] == ACCEPT_V2
        assert sent.headers["x-authentication"] == f"{ALICE['email']}:{ALICE['sat']}"
        assert "authorization" not in sent.headers
    body = response.json()
    assert body["data"][0]["created"] == utc("2024-07-04T16:00:00")
    # The embedded Space: 03:00 EDT on the spring-forward day.
    assert body["data"][0]["space"]["created"] == utc("2024-03-10T07:00:00")
    await http.get("customers", headers=basic(ALICE_TOKEN))
    assert fake.routes()[2:] == ["GET customers"]  # the zone is remembered
    # Another credential has its own zone (Tokyo: +9).
    bob = (await http.get("customers", headers=basic(BOB_TOKEN))).json()
    assert bob["data"][0]["created"] == utc("2024-07-04T03:00:00")
    assert transport.zone_lookups == 2


async def test_every_timestamp_at_every_depth(wire: Wire) -> None:
    http, _, _ = wire
    invoice = (await http.get("invoices/in_1", headers=basic(ALICE_TOKEN))).json()
    assert invoice["created"] == utc("2024-01-15T17:00:00")
    assert invoice["customer"]["created"] == utc("2024-01-01T05:00:00")
    item = invoice["items"]["data"][0]
    assert item["date_range_start"] == utc("2024-03-10T07:30:00")  # the missing hour
    assert item["date_range_end"] is None
    events = (await http.get("events", headers=basic(ALICE_TOKEN))).json()["data"]
    assert events[0]["created"] == utc("2024-11-03T04:59:59")
    assert events[0]["data"]["object"]["created"] == utc("2024-11-03T07:00:00")
    assert events[1]["created"] == utc("2024-11-03T08:00:00")
    assert events[1]["event"]["data"]["object"]["created"] == utc("2024-11-03T07:00:00")
    assert events[0]["type"] == "customer.created"  # values are not keys


async def test_the_account_names_its_own_zone(wire: Wire) -> None:
    http, fake, transport = wire
    account = (await http.get("account", headers=basic(ALICE_TOKEN))).json()
    assert fake.routes() == ["GET account"] and transport.zone_lookups == 0
    assert account["created"] == utc("2024-11-03T05:30:00")  # ambiguous: the earlier
    await http.get("customers", headers=basic(ALICE_TOKEN))
    assert fake.routes() == ["GET account", "GET customers"]


async def test_concurrent_requests_share_one_lookup(wire: Wire) -> None:
    http, fake, transport = wire
    answers = await asyncio.gather(
        *(http.get("customers", headers=basic(ALICE_TOKEN)) for _ in range(8))
    )
    assert all(a.status_code == 200 for a in answers)
    assert transport.zone_lookups == 1 and fake.routes().count("GET account") == 1


async def test_zone_cache_expires_and_is_bounded() -> None:
    fake = FakeLaunch27()
    config = DialectConfig(
        api_key=KEY,
        max_upstream_body_bytes=1 << 20,
        zone_ttl_seconds=0.0,
        zone_cache_entries=1,
        base_url=BASE,
    )
    transport = DIALECT.wrap(httpx.MockTransport(fake), config)
    assert isinstance(transport, Launch27Transport)
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        await http.get("customers", headers=basic(ALICE_TOKEN))
        await http.get("customers", headers=basic(ALICE_TOKEN))
        assert transport.zone_lookups == 2  # a TTL of 0 remembers nothing
    transport = DIALECT.wrap(
        httpx.MockTransport(fake),
        DialectConfig(
            api_key=KEY, max_upstream_body_bytes=1 << 20, zone_cache_entries=1, base_url=BASE
        ),
    )
    assert isinstance(transport, Launch27Transport)
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        for token in (ALICE_TOKEN, BOB_TOKEN, ALICE_TOKEN):
            await http.get("customers", headers=basic(token))
        assert transport.zone_lookups == 3  # one entry: Bob's pushed Alice's out
        assert len(transport._zones) == 1 and not transport._lookups


async def test_base_path_found_without_a_base_url() -> None:
    fake = FakeLaunch27()
    transport = DIALECT.wrap(
        httpx.MockTransport(fake), DialectConfig(api_key=KEY, max_upstream_body_bytes=1 << 20)
    )
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        assert (await http.get("customers", headers=basic(ALICE_TOKEN))).status_code == 200
    assert fake.requests[0].url == BASE + "account"


async def test_time_params_and_bodies_go_out_local(wire: Wire) -> None:
    http, fake, _ = wire
    await http.get(
        "customers",
        params={"created[gte]": utc("2024-03-10T07:30:00"), "limit": 5, "created": "x"},
        headers=basic(ALICE_TOKEN),
    )
    sent = fake.requests[-1].url.params
    assert sent["created[gte]"] == "2024-03-10T03:30:00" and sent["limit"] == "5"
    assert sent["created"] == "x"  # not a number: left for the upstream to judge
    created = await http.post(
        "resource_subscriptions",
        json={
            "event": "customer.created",
            "target_url": "https://x.test",
            "created": utc("2024-07-04T16:00:00"),
        },
        headers=basic(ALICE_TOKEN),
    )
    assert orjson.loads(fake.requests[-1].content)["created"] == "2024-07-04T12:00:00"
    assert created.status_code == 200 and created.json()["created"] == utc("2024-07-04T16:00:00")


async def test_etag_and_304_pass_through(wire: Wire) -> None:
    http, _, _ = wire
    first = await http.get("customers", headers=basic(ALICE_TOKEN))
    assert first.headers["etag"] == '"v1"'
    again = await http.get("customers", headers={**basic(ALICE_TOKEN), "if-none-match": '"v1"'})
    assert again.status_code == 304 and again.headers["etag"] == '"v1"' and again.content == b""


async def test_errors_become_canonical(wire: Wire) -> None:
    http, _, _ = wire
    auth = basic(ALICE_TOKEN)
    fields = await http.post(
        "resource_subscriptions", json={"event": "x", "target_url": ""}, headers=auth
    )
    assert fields.status_code == 422
    assert fields.json()["fields"] == {
        "target_url": ["can't be blank"],
        "event": ["is invalid", "is unknown"],
    }
    assert "target_url can't be blank" in fields.json()["message"]
    listed = await http.post(
        "resource_subscriptions", json={"event": "full", "target_url": "u"}, headers=auth
    )
    assert listed.status_code == 422
    assert listed.json() == {"message": "Too many hooks; Account is suspended"}
    missing = await http.get("nothing/here", headers=auth)
    assert missing.status_code == 404 and missing.json() == {"message": "resource not found"}
    limited = await http.get("limited", headers=auth)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert (await http.get("broken", headers=auth)).status_code == 500
    wrong = await http.get("customers", headers=basic(make_token(ALICE["email"], "stale")))
    assert wrong.status_code == 401 and wrong.json() == {"message": "unauthorized"}


async def test_a_token_that_is_not_a_session_is_refused_without_a_request(wire: Wire) -> None:
    http, fake, _ = wire
    response = await http.get("customers", headers=basic("demo-alice"))
    assert response.status_code == 401 and "message" in response.json()
    assert fake.requests == []


@pytest.mark.parametrize("key", ["", "wrong-key"])
async def test_a_refused_integration_key_is_an_upstream_error(key: str) -> None:
    fake = FakeLaunch27()
    transport = DIALECT.wrap(
        httpx.MockTransport(fake),
        DialectConfig(api_key=key, max_upstream_body_bytes=1 << 20, base_url=BASE),
    )
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        response = await http.get("customers", headers=basic(ALICE_TOKEN))
    assert response.status_code == 500  # the facade's configuration, not the caller's fault
    message = response.json()["message"]
    assert "API key" in message and "SPACES_GRAPHQL_UPSTREAM_API_KEY" in message
    assert fake.routes() == ["GET account"]  # the lookup's refusal answers the request
    if key:
        assert key not in message


async def test_v1_is_what_an_upstream_answers_without_the_header() -> None:
    """The fake is strict: the Accept header is what makes the answer readable."""
    fake = FakeLaunch27()
    request = httpx.Request(
        "GET",
        BASE + "customers",
        headers={"x-api-key": KEY, "x-authentication": f"{ALICE['email']}:{ALICE['sat']}"},
    )
    assert isinstance(fake(request).json(), list)


# --- through the facade's client -------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[tuple[SpacesClient, FakeLaunch27]]:
    fake = FakeLaunch27()
    settings = Settings(upstream_url=BASE, upstream_dialect="launch27", upstream_api_key=KEY)
    spaces = SpacesClient(settings, httpx.MockTransport(fake))
    try:
        yield spaces, fake
    finally:
        await spaces.aclose()


async def test_login_through_the_client(client: tuple[SpacesClient, FakeLaunch27]) -> None:
    spaces, fake = client
    token = await spaces.dialect.login(spaces.http, ALICE["email"], ALICE["password"])
    assert token is not None and open_token(token) == (ALICE["email"], ALICE["sat"])
    sent = fake.requests[-1]
    assert sent.headers["x-api-key"] == KEY and "x-authentication" not in sent.headers
    assert orjson.loads(sent.content) == {"email": ALICE["email"], "password": ALICE["password"]}
    assert await spaces.dialect.login(spaces.http, ALICE["email"], "wrong") is None
    assert await spaces.dialect.login(spaces.http, "nobody@example.com", "x") is None
    # The token then reads as any credential does.
    account = await spaces.session(token).request("GET", "account")
    assert account["created"] == utc("2024-11-03T05:30:00")


async def test_client_maps_validation_and_key_errors(
    client: tuple[SpacesClient, FakeLaunch27],
) -> None:
    spaces, _ = client
    session = spaces.session(ALICE_TOKEN)
    with pytest.raises(UpstreamRejected) as rejected:
        await session.request(
            "POST", "resource_subscriptions", json_body={"event": "x", "target_url": ""}
        )
    assert rejected.value.status == 422
    assert rejected.value.fields == {
        "target_url": ["can't be blank"],
        "event": ["is invalid", "is unknown"],
    }
    assert "fields" not in rejected.value.extensions
    with pytest.raises(UpstreamRejected) as listed:
        await session.request("POST", "invoices/in_2/pay")
    assert listed.value.fields is None and listed.value.message == "Invoice is already paid"


async def test_login_with_a_refused_key_is_an_upstream_error() -> None:
    settings = Settings(upstream_url=BASE, upstream_dialect="launch27", upstream_api_key="nope")
    spaces = SpacesClient(settings, httpx.MockTransport(FakeLaunch27()))
    try:
        with pytest.raises(UpstreamError) as failed:
            await spaces.dialect.login(spaces.http, ALICE["email"], ALICE["password"])
        assert "nope" not in failed.value.message and "API key" in failed.value.message
        assert ALICE["password"] not in repr(failed.value)
    finally:
        await spaces.aclose()


async def test_hook_deliveries_read_with_the_accounts_last_zone() -> None:
    from graph.context import Caller
    from resolvers.dialects.launch27 import account_key

    fake = FakeLaunch27()
    config = DialectConfig(
        api_key=KEY, max_upstream_body_bytes=1 << 20, zone_ttl_seconds=0.0, base_url=BASE
    )
    transport = DIALECT.wrap(httpx.MockTransport(fake), config)
    assert isinstance(transport, Launch27Transport)
    account = Caller.from_token(ALICE_TOKEN).key
    assert account_key(ALICE_TOKEN) == account
    delivery = {"id": "ev_9", "type": "customer.created", "created": "2024-11-03T01:30:00",
                "data": {"object": {"object": "customer", "id": "cus_9", "created": "2024-11-03T01:30:00"}}}  # fmt: skip
    assert transport.canonical_event(account, delivery) is delivery  # never seen: as it is
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        await http.get("customers", headers=basic(ALICE_TOKEN))
    # Expired (a TTL of 0), yet still the account's last known zone.
    event = transport.canonical_event(account, delivery)
    assert event["created"] == utc("2024-11-03T05:30:00")
    assert event["data"]["object"]["created"] == utc("2024-11-03T05:30:00")
    assert delivery["created"] == "2024-11-03T01:30:00"  # the original is not changed
