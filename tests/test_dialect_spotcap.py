"""The spotcap transport, against a mock that speaks the wire contract (docs/dialects.md).

What the facade sends is canonical (Spaces); what reaches the mock must be spotcap,
and what comes back to the client canonical again: paths, auth, version, Ranges,
list envelopes, statuses, errors, ETags. The parametrised end-to-end suite over the
sandbox in each dialect is tests/test_dialects.py.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from resolvers.client import SpacesClient
from resolvers.dialects import dialect
from resolvers.dialects.base import DialectConfig
from resolvers.dialects.spotcap import MEDIA_TYPE, SpotcapTransport
from resolvers.errors import NotFound, RateLimited, UpstreamRejected
from resolvers.transfer import BodyTooLarge
from spaces_graphql.settings import Settings

BASE = "http://127.0.0.1/api/v1"
#: 45 objects, newest first (ids ``o44`` .. ``o0``).
OBJECTS = [{"object": "event", "id": f"o{n}", "created": n} for n in range(44, -1, -1)]

Handler = Callable[[httpx.Request], httpx.Response]


def ranged(request: httpx.Request, objects: list[dict[str, Any]] = OBJECTS) -> httpx.Response:
    """A strict enough spotcap list: ``Range: id [START]..[; max=N][, order=O]``."""
    spec = request.headers.get("range", "id ..")
    field, _, rest = spec.partition(" ")
    bounds, _, options = rest.partition(";")
    assert field == "id" and bounds.endswith(".."), spec
    start = bounds[:-2]
    opts = dict(o.strip().split("=") for o in options.replace(",", ";").split(";") if o.strip())
    size, order = int(opts.get("max", "20")), opts.get("order", "desc")
    ordered = objects if order == "desc" else objects[::-1]
    ids = [o["id"] for o in ordered]
    begin = ids.index(start[1:]) + 1 if start.startswith("]") else 0
    chunk = ordered[begin : begin + size]
    more = begin + size < len(ordered)
    headers = {"accept-ranges": "id", "etag": f'"{order}-{begin}-{size}"'}
    if chunk:
        headers["content-range"] = f"id {chunk[0]['id']}..{chunk[-1]['id']}"
    if more:
        headers["next-range"] = f"id ]{chunk[-1]['id']}..; max={size}, order={order}"
    return httpx.Response(206 if more else 200, headers=headers, json=chunk)


class Wire:
    """A mock spotcap upstream that records what reached it."""

    def __init__(self, handler: Handler = ranged) -> None:
        self.handler = handler
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        assert request.headers["accept"] == MEDIA_TYPE
        return self.handler(request)


def client(wire: Wire, **settings: Any) -> SpacesClient:
    config = Settings(upstream_url=BASE, upstream_dialect="spotcap", **settings)
    return SpacesClient(config, httpx.MockTransport(wire))


async def test_the_registry_knows_spotcap_and_the_client_keeps_its_dialect() -> None:
    c = client(Wire())
    try:
        assert dialect("spotcap") is c.dialect and c.dialect.name == "spotcap"
        assert not c.dialect.has_login
        assert isinstance(c.http._engine, SpotcapTransport)
    finally:
        await c.aclose()
    plain = SpacesClient(Settings(upstream_url=BASE))
    try:
        assert plain.dialect.name == "spaces"
        assert not isinstance(plain.http._engine, SpotcapTransport)  # nothing in between
    finally:
        await plain.aclose()


async def test_raw_token_version_and_dashed_static_segments_only() -> None:
    wire = Wire(lambda r: httpx.Response(200, json={"object": "customer", "id": "x"}))
    c = client(wire)
    try:
        up = c.session("demo-alice")
        await up.get("account")
        await up.get("customers/captured_emails/subscriptions/resource_subscriptions")
        await up.request("POST", "resource_subscriptions", json_body={"event": "customer.created"})
        await up.request("DELETE", "resource_subscriptions/hook_1")
        await up.request("POST", "invoices/in_1/pay")
    finally:
        await c.aclose()
    assert [r.headers["authorization"] for r in wire.seen] == ["demo-alice"] * 5
    assert [f"{r.method} {r.url.path}" for r in wire.seen] == [
        "GET /api/v1/account",
        # IDs (odd positions) are never respelled, even when they look like a collection.
        "GET /api/v1/customers/captured_emails/subscriptions/resource_subscriptions",
        "POST /api/v1/resource-subscriptions",
        "DELETE /api/v1/resource-subscriptions/hook_1",
        "POST /api/v1/invoices/in_1/pay",
    ]
    assert orjson.loads(wire.seen[2].content) == {"event": "customer.created"}
    assert wire.seen[2].headers["content-type"] == "application/json"


async def test_pages_become_ranges_and_answers_envelopes() -> None:
    wire = Wire()
    c = client(wire)
    try:
        up = c.session("demo-alice")
        first = await up.get("captured_emails", {"limit": 10, "space": 3})
        after = await up.get("captured_emails", {"limit": 10, "starting_after": "o35"})
        before = await up.get("captured_emails", {"limit": 10, "starting_before": "o5"})
        newest = await up.get("captured_emails", {"limit": 10, "starting_before": "o40"})
        last = await up.get("captured_emails", {"limit": 50, "starting_after": "o10"})
    finally:
        await c.aclose()
    assert [r.headers["range"] for r in wire.seen] == [
        "id ..; max=10",
        "id ]o35..; max=10",
        "id ]o5..; max=10, order=asc",
        "id ]o40..; max=10, order=asc",
        "id ]o10..; max=50",
    ]
    # The filters stay in the query, the paging parameters do not.
    assert [r.url.query.decode() for r in wire.seen] == ["space=3", "", "", "", ""]
    assert [r.url.path for r in wire.seen] == ["/api/v1/captured-emails"] * 5
    ids = [o["id"] for o in OBJECTS]
    assert first["object"] == "list" and first["has_more"] is True and first["count"] == 10
    assert [o["id"] for o in first["data"]] == ids[:10]
    assert [o["id"] for o in after["data"]] == ids[10:20] and after["has_more"]
    # Backward: the ten just newer than o5, newest first like every canonical page.
    assert [o["id"] for o in before["data"]] == ids[29:39] and before["has_more"]
    assert [o["id"] for o in newest["data"]] == ids[:4] and newest["has_more"] is False
    assert [o["id"] for o in last["data"]] == ids[35:] and last["has_more"] is False


async def test_a_batch_by_ids_is_one_array_without_a_range() -> None:
    def batch(request: httpx.Request) -> httpx.Response:
        assert "range" not in request.headers
        wanted = request.url.params["ids"].split(",")
        return httpx.Response(200, json=[o for o in OBJECTS if o["id"] in wanted])

    wire = Wire(batch)
    c = client(wire)
    try:
        page = await c.session("demo-alice").get("invoices", {"ids": "o1,o2", "limit": 2})
    finally:
        await c.aclose()
    assert wire.seen[0].url.query.decode() == "ids=o1%2Co2"
    assert page == {"object": "list", "count": 2, "has_more": False, "data": OBJECTS[-3:-1]}


async def test_a_cursor_a_range_cannot_spell_is_refused_without_a_request() -> None:
    wire = Wire()
    c = client(wire)
    try:
        with pytest.raises(UpstreamRejected):
            await c.session("demo-alice").get("events", {"limit": 5, "starting_after": "a..b"})
    finally:
        await c.aclose()
    assert wire.seen == []


async def test_created_is_200_and_errors_are_canonical() -> None:
    def answers(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/")
        if request.method == "POST" and path == "resource-subscriptions":
            return httpx.Response(201, json={"object": "resource_subscription", "id": "h1"})
        if path == "invoices/in_paid/pay":
            body = {"id": "invalid_params", "message": "Invoice is already paid"}
            return httpx.Response(422, json=body)
        if path == "invoices/in_bad/pay":
            body = {
                "id": "invalid_params",
                "message": "invalid parameters",
                "fields": {"target_url": ["is not an absolute http(s) URL"]},
            }
            return httpx.Response(422, json=body)
        if path == "invoices/nope":
            return httpx.Response(404, json={"id": "not_found", "message": "No such invoice: nope"})
        if path == "invoices/slow":
            body = {"id": "rate_limited", "message": "slow down"}
            return httpx.Response(429, headers={"retry-after": "7"}, json=body)
        if path == "invoices/html":
            return httpx.Response(500, content=b"<html>oops</html>")
        raise AssertionError(path)

    c = client(Wire(answers), upstream_retries=0)
    try:
        up = c.session("demo-alice")
        created = await up.request("POST", "resource_subscriptions", json_body={"event": "x"})
        assert created == {"object": "resource_subscription", "id": "h1"}
        response = await c._send(
            "POST", "invoices/in_bad/pay", c.url("invoices/in_bad/pay"), {}, None, "t"
        )
        assert response.status_code == 422
        assert response.json() == {
            "message": "invalid parameters: target_url is not an absolute http(s) URL",
            "fields": {"target_url": ["is not an absolute http(s) URL"]},
        }
        with pytest.raises(UpstreamRejected) as paid:
            await up.request("POST", "invoices/in_paid/pay")
        # A refusal that names no field is about the resource's state: Spaces' 400.
        assert paid.value.message == "Invoice is already paid"
        assert paid.value.extra["upstream_status"] == 400
        with pytest.raises(NotFound, match="No such invoice"):
            await up.get("invoices/nope")
        with pytest.raises(RateLimited) as limited:
            await up.get("invoices/slow")
        assert limited.value.retry_after == 7
    finally:
        await c.aclose()


async def test_etags_revalidate_through_the_translation() -> None:
    etag = '"v1"'

    def conditional(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        if request.url.path.endswith("/events"):
            return httpx.Response(200, headers={"etag": etag}, json=OBJECTS[:2])
        return httpx.Response(200, headers={"etag": etag}, json={"object": "account", "id": 1})

    wire = Wire(conditional)
    c = client(wire)
    try:
        up = c.session("demo-alice")
        pages = [await up.get("events", {"limit": 2}) for _ in range(2)]
        accounts = [await up.get("account") for _ in range(2)]
    finally:
        await c.aclose()
    assert (
        pages[0]
        == pages[1]
        == {
            "object": "list",
            "count": 2,
            "has_more": False,
            "data": OBJECTS[:2],
        }
    )
    assert accounts[0] == accounts[1] == {"object": "account", "id": 1}
    assert ["if-none-match" in r.headers for r in wire.seen] == [False, True, False, True]
    assert c.cache_revalidated == 2


async def test_translated_bodies_are_bounded_and_decoded() -> None:
    big = orjson.dumps(OBJECTS)

    def compressed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=gzip.compress(big))

    inner = httpx.MockTransport(compressed)
    canonical_request = httpx.Request("GET", f"{BASE}/events?limit=100")
    roomy = SpotcapTransport(inner, DialectConfig("", 10_000, base_url=BASE))
    answer = await roomy.handle_async_request(canonical_request)
    await answer.aread()
    assert orjson.loads(answer.content)["data"] == OBJECTS
    tight = SpotcapTransport(inner, DialectConfig("", len(big) - 1, base_url=BASE))
    with pytest.raises(BodyTooLarge):
        await tight.handle_async_request(canonical_request)
    declared = SpotcapTransport(
        httpx.MockTransport(lambda r: httpx.Response(200, content=big)),
        DialectConfig("", 100, base_url=BASE),
    )
    with pytest.raises(BodyTooLarge):
        await declared.handle_async_request(canonical_request)


def test_the_dialect_settings() -> None:
    from spaces_graphql.settings import SettingsError

    assert Settings().upstream_dialect == "spaces"
    assert Settings.load(environ={"SPACES_GRAPHQL_UPSTREAM_DIALECT": "spotcap"}).upstream_dialect == "spotcap"  # fmt: skip
    with pytest.raises(SettingsError, match="upstream_dialect"):
        Settings(upstream_dialect="soap")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="upstream_api_key"):
        Settings(upstream_dialect="launch27")
    secret = "l27-very-secret-key"
    with pytest.raises(SettingsError) as bad:
        Settings(upstream_api_key=secret + "\n")
    assert secret not in str(bad.value)
    s = Settings(upstream_dialect="spotcap", upstream_api_key=secret)
    assert secret not in repr(s) and secret not in repr(s.upstream_config())
    assert s.upstream_config().upstream_api_key == secret
    assert s.upstream_config().upstream_dialect == "spotcap"
