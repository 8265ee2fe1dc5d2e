"""The federation subgraph over HTTP POST, HTTP GET and a real WebSocket (issue 16).

``_entities`` answers alike on every transport; ``_service``'s secret, the
representation list's shape, cost and depth are refused alike, each with ZERO
upstream calls (the one pipeline decides them: ``spaces_graphql/subgraph.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.transport_support import Served, codes, serve

pytestmark = pytest.mark.e2e

SECRET = "a-federation-secret-0123456789"
HEADER = "X-Federation-Secret"
ENTITIES = (
    "query($r: [_Any!]!) { _entities(representations: $r) { __typename "
    "... on Customer { id name } ... on BillingSubscription { id status } } }"
)


@pytest.fixture(scope="module")
def facades() -> Iterator[dict[str, Served]]:
    limits: dict[str, Any] = {"max_cost": 8, "max_depth": 5}
    with (
        serve(profile="development", federation=True, federation_secret=SECRET, **limits) as dev,
        serve(profile="production", federation=True, **limits) as prod,
    ):
        yield {"development": dev, "production": prod}


async def _reps(f: Served) -> list[dict[str, Any]]:
    r = await f.post(
        {
            "query": "{ customers(first: 3) { nodes { id } } subscriptions(first: 2) { nodes { id } } }"
        }
    )
    data = r.json()["data"]
    return [{"__typename": "Customer", "id": n["id"]} for n in data["customers"]["nodes"]] + [
        {"__typename": "BillingSubscription", "id": n["id"]} for n in data["subscriptions"]["nodes"]
    ]


async def test_entities_answer_alike_on_every_transport(facades: dict[str, Served]) -> None:
    f = facades["development"]
    reps = await _reps(f)
    body = {"query": ENTITIES, "variables": {"r": reps}}
    f.upstream.reset()
    posted = (await f.post(body)).json()
    assert "errors" not in posted, posted
    requests = len(f.upstream.calls)
    assert requests == 1 + 2  # the customers in one batch, each subscription alone
    assert [e["id"] for e in posted["data"]["_entities"]] == [r["id"] for r in reps]
    f.upstream.reset()
    got = (await f.get({"query": ENTITIES, "variables": json.dumps({"r": reps})})).json()
    assert got["data"] == posted["data"]
    assert len(f.upstream.calls) <= requests  # the same, or fewer where the ETag cache holds
    async with f.ws() as ws:
        (message, done) = await ws.run(body)
        assert message["type"] == "next" and done["type"] == "complete"
        assert message["payload"]["data"] == posted["data"]


async def test_entities_in_production_over_persisted_get(facades: dict[str, Served]) -> None:
    f = facades["production"]
    reps = (await _reps(f))[:2]
    digest = hashlib.sha256(ENTITIES.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    stored = await f.post({"query": ENTITIES, "variables": {"r": reps}, "extensions": ext})
    assert "errors" not in stored.json(), stored.text
    got = await f.get({"extensions": ext, "variables": json.dumps({"r": reps})})
    assert got.status_code == 200 and got.json()["data"] == stored.json()["data"]
    # Not persisted: production GET refuses it before anything else.
    f.upstream.reset()
    r = await f.get({"query": ENTITIES, "variables": json.dumps({"r": reps})})
    assert r.status_code == 405 and f.upstream.calls == []


def _deep() -> str:
    return (
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { "
        "invoices { nodes { customer { invoices { nodes { paid } } } } } } } }"
    )


REFUSED = [
    # (name, body maker, code, message fragment)
    ("malformed list", lambda reps: {"query": ENTITIES, "variables": {"r": [*reps, 7]}},
     "BAD_USER_INPUT", "representations"),
    ("over 100", lambda reps: {"query": ENTITIES, "variables": {"r": reps[:1] * 101}},
     "BAD_USER_INPUT", "at most 100"),
    ("cost", lambda reps: {"query": ENTITIES, "variables": {"r": reps * 2}},
     "QUERY_TOO_COMPLEX", "upstream requests"),
    ("depth", lambda reps: {"query": _deep(), "variables": {"r": reps[:1]}},
     "QUERY_TOO_COMPLEX", "levels deep"),
    ("service without the secret", lambda reps: {"query": "{ _service { sdl } }"},
     "GRAPHQL_VALIDATION_FAILED", HEADER),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "code", "fragment"), REFUSED, ids=[c[0] for c in REFUSED])
async def test_refused_alike_on_every_transport(
    facades: dict[str, Served], name: str, make: Any, code: str, fragment: str
) -> None:
    f = facades["development"]
    body = make(await _reps(f))
    get_params = {k: json.dumps(v) if k == "variables" else v for k, v in body.items()}
    f.upstream.reset()
    posted = await f.post(body)
    assert posted.status_code == 400 and "data" not in posted.json(), posted.text
    assert codes(posted.json()["errors"]) == {code}, posted.text
    assert fragment in posted.json()["errors"][0]["message"]
    got = await f.get(get_params)
    assert got.status_code == 400 and codes(got.json()["errors"]) == {code}, got.text
    async with f.ws() as ws:
        (message,) = await ws.run(body)
        assert message["type"] == "error" and codes(message["payload"]) == {code}, message
    assert f.upstream.calls == [], (name, f.upstream.routes())


async def test_service_with_the_secret_on_every_transport(facades: dict[str, Served]) -> None:
    f = facades["development"]
    body = {"query": "{ _service { sdl } }"}
    f.upstream.reset()
    # No token needed: a gateway reads the SDL with the secret alone.
    posted = await f.post(body, token=None, **{HEADER: SECRET})
    sdl = posted.json()["data"]["_service"]["sdl"]
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.9"')
    async with f.ws(additional_headers={HEADER: SECRET}) as ws:
        (message, _) = await ws.run(body)
        assert message["payload"]["data"]["_service"]["sdl"] == sdl
    async with f.ws(additional_headers={HEADER: "not-the-secret-at-all"}) as ws:
        (message,) = await ws.run(body)
        assert codes(message["payload"]) == {"GRAPHQL_VALIDATION_FAILED"}
    assert f.upstream.calls == []


async def test_production_without_a_secret_refuses_service(facades: dict[str, Served]) -> None:
    f = facades["production"]
    f.upstream.reset()
    for headers in ({}, {HEADER: SECRET}):
        r = await f.post({"query": "{ _service { sdl } }"}, **headers)
        assert r.status_code == 400 and codes(r.json()["errors"]) == {"GRAPHQL_VALIDATION_FAILED"}
    async with f.ws() as ws:
        (message,) = await ws.run({"query": "{ _service { sdl } }"})
        assert codes(message["payload"]) == {"GRAPHQL_VALIDATION_FAILED"}
    assert f.upstream.calls == []


async def test_entities_without_a_token_are_401(facades: dict[str, Served]) -> None:
    f = facades["development"]
    reps = await _reps(f)
    f.upstream.reset()
    r = await f.post({"query": ENTITIES, "variables": {"r": reps}}, token=None, **{HEADER: SECRET})
    assert r.status_code == 401 and codes(r.json()["errors"]) == {"UNAUTHENTICATED"}
    g = await f.get({"query": ENTITIES, "variables": json.dumps({"r": reps})}, token=None)
    assert g.status_code == 401
    assert f.upstream.calls == []
