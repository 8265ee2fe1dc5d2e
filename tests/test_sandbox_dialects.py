"""The sandbox speaks each dialect: the same seeded objects, and the sandbox's own
machinery (stats, faults, latency, capabilities, REST Hooks, banner, OpenAPI) in each.

The per-dialect contracts (each refusal) are in ``test_sandbox_dialects_spotcap.py``
and ``test_sandbox_dialects_launch27.py``; helpers here are shared with them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.app import SandboxConfig, create_app
from sandbox.dialects import DIALECTS
from sandbox.dialects.launch27 import encode_times
from sandbox.openapi import openapi_document
from sandbox.server import add_arguments, banner, config_from_args

ROOT = "http://sandbox.test"
BASE = ROOT + "/api/v1"
SPOTCAP_ACCEPT = "application/vnd.spaces+json; version=1"
L27_V2 = "application/launch27.v2"
L27_KEY = "l27-sandbox-key"
EMAILS = {"demo-alice": "alice@example.com", "demo-bob": "bob@example.org"}
ZONES = {"demo-alice": ZoneInfo("America/New_York"), "demo-bob": ZoneInfo("Asia/Tokyo")}


def make_app(dialect: str = "spaces", **config: Any) -> Starlette:
    return create_app(SandboxConfig(dialect=dialect, **config))


def bare(app: Starlette, **headers: str) -> httpx.AsyncClient:
    """A client of ``app`` sending only ``headers``."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers)


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"{token}:".encode()).decode()


async def login(app: Starlette, token: str = "demo-alice", key: str = L27_KEY) -> str:
    """launch27: the X-Authentication value of ``token``'s account."""
    async with bare(app, **{"X-API-Key": key}) as client:
        answer = await client.post("/login", json={"email": EMAILS[token], "password": token})
    assert answer.status_code == 200, answer.text
    return f"{EMAILS[token]}:{answer.json()['single_access_token']}"


async def speaker(
    app: Starlette, dialect: str, token: str = "demo-alice", *, v2: bool = True
) -> httpx.AsyncClient:
    """A client of ``app`` that speaks ``dialect`` correctly as ``token``."""
    if dialect == "spaces":
        return bare(app, Authorization=basic(token))
    if dialect == "spotcap":
        return bare(app, Authorization=token, Accept=SPOTCAP_ACCEPT)
    headers = {"X-API-Key": L27_KEY, "X-Authentication": await login(app, token)}
    if v2:
        headers["Accept"] = L27_V2
    return bare(app, **headers)


def items(answer: httpx.Response) -> list[dict[str, Any]]:
    """The objects of a list answer, whatever the dialect's list shape."""
    body = answer.json()
    return list(body["data"] if isinstance(body, dict) else body)


async def listed(client: httpx.AsyncClient, dialect: str, path: str) -> list[dict[str, Any]]:
    """A whole list (up to 100 objects per request), in the dialect's way of paging."""
    out: list[dict[str, Any]] = []
    if dialect == "spotcap":
        headers = {"Range": "id ..; max=100"}
        while True:
            answer = await client.get(path, headers=headers)
            assert answer.status_code in (200, 206), answer.text
            out += items(answer)
            if answer.status_code == 200:
                return out
            headers = {"Range": answer.headers["next-range"]}
    params: dict[str, Any] = {"limit": 100}
    while True:
        answer = await client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        out += body["data"]
        if not body["has_more"]:
            return out
        last = body["data"][-1]
        params = {"limit": 100, "starting_after": last.get("id", last.get("token"))}


async def first(client: httpx.AsyncClient, dialect: str, path: str, n: int) -> list[dict[str, Any]]:
    """The ``n`` newest objects of a list, asked the dialect's way."""
    if dialect == "spotcap":
        return items(await client.get(path, headers={"Range": f"id ..; max={n}"}))
    return items(await client.get(path, params={"limit": n}))


def wire(dialect: str, token: str, canonical: Any) -> Any:
    """What ``dialect`` serves (launch27: v2) for a canonical (spaces) object."""
    if dialect == "launch27":
        return encode_times(canonical, ZONES[token], v1=False)
    return canonical


@pytest.fixture
async def apps() -> AsyncIterator[dict[str, Starlette]]:
    yield {name: make_app(name) for name in DIALECTS}


# -- the same objects ------------------------------------------------------------------


@pytest.mark.parametrize("token", ["demo-alice", "demo-bob"])
async def test_same_objects_in_every_dialect(apps: dict[str, Starlette], token: str) -> None:
    async with await speaker(apps["spaces"], "spaces", token) as spaces:
        reference = {
            path: await listed(spaces, "spaces", path)
            for path in ("/spaces", "/customers", "/subscriptions", "/webhooks")
        }
        customer = reference["/customers"][7]
        invoices = (await spaces.get("/invoices", params={"limit": 30})).json()["data"]
        events = (await spaces.get("/events", params={"limit": 30})).json()["data"]
        account = (await spaces.get("/account")).json()
    assert len(reference["/customers"]) == (250 if token == "demo-alice" else 8)
    for dialect in ("spotcap", "launch27"):
        async with await speaker(apps[dialect], dialect, token) as client:
            for path, objects in reference.items():
                assert await listed(client, dialect, path) == wire(dialect, token, objects), path
            one = await client.get(f"/customers/{customer['id']}")
            assert one.json() == wire(dialect, token, customer)
            for invoice in invoices[:5]:
                answer = await client.get(f"/invoices/{invoice['id']}")
                assert answer.json() == wire(dialect, token, invoice)
            captured = "/captured-emails" if dialect == "spotcap" else "/captured_emails"
            async with await speaker(apps["spaces"], "spaces", token) as spaces:
                emails = await listed(spaces, "spaces", "/captured_emails")
            assert await listed(client, dialect, captured) == wire(dialect, token, emails)
            assert await first(client, dialect, "/events", 30) == wire(dialect, token, events)
            mine = (await client.get("/account")).json()
            extra = {"time_zone": ZONES[token].key} if dialect == "launch27" else {}
            assert mine == {**wire(dialect, token, account), **extra}


async def test_same_seed_same_objects_other_seed_others() -> None:
    async def customers(app: Starlette) -> list[dict[str, Any]]:
        async with await speaker(app, "spotcap") as client:
            return await first(client, "spotcap", "/customers", 50)

    once = await customers(make_app("spotcap"))
    assert once == await customers(make_app("spotcap"))
    assert once != await customers(make_app("spotcap", seed=7))


# -- the sandbox's own machinery -------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_stats_and_faults_name_canonical_routes(dialect: str) -> None:
    app = make_app(dialect)
    captured = "/captured-emails" if dialect == "spotcap" else "/captured_emails"
    async with await speaker(app, dialect) as client, bare(app) as own:
        await own.post(ROOT + "/_sandbox/stats/reset")
        if dialect == "launch27":
            await login(app)
        assert (await client.get(captured)).is_success
        fault = {"route": "GET /api/v1/captured_emails", "kind": "status", "status": 503}
        assert (await own.post(ROOT + "/_sandbox/faults", json=fault)).status_code == 201
        refused = await client.get(captured)
        assert refused.status_code == 503
        # The injected error is written in the dialect's envelope.
        body = refused.json()
        expected_key = {"spaces": "message", "spotcap": "id", "launch27": "code"}[dialect]
        assert expected_key in body
        await own.delete(ROOT + "/_sandbox/faults")
        stats = (await own.get(ROOT + "/_sandbox/stats")).json()
    assert stats["by_route"]["GET /api/v1/captured_emails"] == 2
    if dialect == "launch27":
        assert stats["by_route"]["POST /api/v1/login"] == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_token_scoped_fault_and_rate_limit(dialect: str) -> None:
    app = make_app(dialect)
    async with (
        await speaker(app, dialect, "demo-alice") as alice,
        await speaker(app, dialect, "demo-bob") as bob,
        bare(app) as own,
    ):
        fault = {"prefix": "/api/v1/customers", "kind": "rate_limit", "token": "demo-bob",
                 "retry_after": 7}  # fmt: skip
        await own.post(ROOT + "/_sandbox/faults", json=fault)
        assert (await alice.get("/customers")).is_success
        limited = await bob.get("/customers")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    if dialect == "spotcap":
        assert limited.json()["id"] == "rate_limited"
    if dialect == "launch27":
        assert limited.json()["code"] == 429


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_latency_applies(dialect: str) -> None:
    app = make_app(dialect, latency_ms=60)
    async with await speaker(app, dialect) as client:
        started = time.monotonic()
        assert (await client.get("/account")).status_code == 200
    assert time.monotonic() - started >= 0.05


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("batch_ids", [True, False])
async def test_batch_by_ids_capability(dialect: str, batch_ids: bool) -> None:
    app = make_app(dialect, batch_ids=batch_ids)
    async with await speaker(app, dialect) as client:
        page = await first(client, dialect, "/customers", 5)
        wanted = [page[3]["id"], page[1]["id"], "cus_missing"]
        answer = await client.get("/customers", params={"ids": ",".join(wanted)})
    assert answer.status_code == (206 if dialect == "spotcap" and not batch_ids else 200)
    got = [c["id"] for c in items(answer)]
    if batch_ids:
        assert got == [page[1]["id"], page[3]["id"]]
        assert "content-range" not in answer.headers
    else:
        assert len(got) == 20  # the capability is off: ?ids= is not a filter


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_no_etag_capability(dialect: str) -> None:
    app = make_app(dialect, etag=False)
    async with await speaker(app, dialect) as client:
        answer = await client.get("/customers", headers={"If-None-Match": "*"})
    assert answer.status_code in (200, 206) and "etag" not in answer.headers


class Receiver:
    """A REST Hooks target, reached in-process through ``hook_transport``."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.app = Starlette(routes=[Route("/hooks/{name}", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.bodies.append(await request.json())
        return JSONResponse({"ok": True})


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_rest_hooks_delivered_in_the_dialects_encoding(dialect: str) -> None:
    receiver = Receiver()
    app = create_app(
        SandboxConfig(dialect=dialect), hook_transport=httpx.ASGITransport(app=receiver.app)
    )
    path = "/resource-subscriptions" if dialect == "spotcap" else "/resource_subscriptions"
    async with await speaker(app, dialect) as client, bare(app) as own:
        made = await client.post(
            path, json={"event": "customer.created", "target_url": "http://127.0.0.1/hooks/a"}
        )
        assert made.status_code == (201 if dialect == "spotcap" else 200), made.text
        event = (
            await own.post(
                ROOT + "/_sandbox/activity",
                json={"type": "customer.created"},
                headers={"Authorization": basic("demo-alice")},
            )
        ).json()
        await app.state.sandbox.drain()
        [listed_event] = await first(client, dialect, "/events", 1)
    # /_sandbox/activity answers in spaces terms in every dialect; the hook in the dialect's.
    assert isinstance(event["created"], int)
    assert receiver.bodies == [wire(dialect, "demo-alice", event)]
    assert listed_event == wire(dialect, "demo-alice", event)


# -- start-up: arguments, banner, OpenAPI ----------------------------------------------


def test_arguments_and_banner() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args([])) == SandboxConfig()
    ns = parser.parse_args(["--dialect", "launch27", "--api-key", "k-123"])
    config = config_from_args(ns)
    assert (config.dialect, config.api_key) == ("launch27", "k-123")
    line = banner(config, "127.0.0.1", 9000)
    assert "dialect launch27" in line and "k-123" in line and ":9000/api/v1" in line
    assert "dialect spotcap" in banner(SandboxConfig(dialect="spotcap"))
    assert SPOTCAP_ACCEPT in banner(SandboxConfig(dialect="spotcap"))
    assert L27_KEY not in banner(SandboxConfig())
    with pytest.raises(SystemExit):
        parser.parse_args(["--dialect", "klingon"])
    with pytest.raises(ValueError, match="unknown dialect"):
        create_app(SandboxConfig(dialect="klingon"))


def test_cli_sandbox_subcommand_takes_the_dialect() -> None:
    from spaces_graphql.cli import build_parser

    ns = build_parser().parse_args(["sandbox", "--dialect", "spotcap", "--api-key", "x"])
    assert (config_from_args(ns).dialect, config_from_args(ns).api_key) == ("spotcap", "x")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_openapi_is_undialected_and_describes_the_dialect(dialect: str) -> None:
    async with bare(make_app(dialect)) as client:
        answer = await client.get("/openapi.json")  # no version, key or credentials needed
    assert answer.status_code == 200
    document = answer.json()
    if dialect == "spaces":
        assert document == openapi_document()
        return
    assert dialect in document["info"]["title"]
    if dialect == "spotcap":
        assert "/captured-emails" in document["paths"]
        assert "/captured_emails" not in document["paths"]
        assert "/spaces/{id_or_name}" in document["paths"]
    else:
        assert "/login" in document["paths"] and "X-API-Key" in document["info"]["description"]


async def test_several_requests_concurrently() -> None:
    app = make_app("spotcap")
    async with await speaker(app, "spotcap") as client:
        answers = await asyncio.gather(*(client.get("/account") for _ in range(10)))
    assert {a.status_code for a in answers} == {200}
