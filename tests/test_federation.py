"""The Apollo Federation v2 subgraph (issue 16, docs/federation.md): SDL, names, keys,
``_entities`` through the ``nodes(ids:)`` loaders, ``_service``'s secret, credentials
and limits. Transports: tests/test_federation_transports.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from graphql import ObjectTypeDefinitionNode, StringValueNode, parse
from strawberry.printer import print_schema

from graph.federation import (
    DEFAULT_VERSION,
    KEYS,
    SUBGRAPH_PRICES,
    SubgraphQuery,
    subgraph_name,
    subgraph_sdl,
)
from graph.node import NODE_TYPES, from_global_id
from graph.query import Query
from graph.schema import schema_for
from spaces_graphql.cli import build_parser, main, settings_from_args
from spaces_graphql.cost import unpriced_fields
from spaces_graphql.preflight import Limits, Preflight
from spaces_graphql.printschema import printed
from spaces_graphql.settings import DEFAULT_FEDERATION_VERSION, Settings, SettingsError
from tests.conftest import SHORT_PATHS
from tests.support import ALICE, BOB, Harness, harness

ROOT = Path(__file__).resolve().parents[1]
SECRET = "a-federation-secret-0123456789"
SERVICE = "{ _service { sdl } }"
ENTITIES = (
    "query($r: [_Any!]!) { _entities(representations: $r) { __typename "
    "... on Node { id } ... on Customer { name } ... on Invoice { paid } "
    "... on BillingSubscription { status } } }"
)
NODES = (
    "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id "
    "... on Customer { name } ... on Invoice { paid } ... on BillingSubscription { status } } }"
)


def _subgraph() -> str:
    return subgraph_sdl(schema_for(SHORT_PATHS, DEFAULT_VERSION))


def _keys(sdl: str) -> dict[str, list[str]]:
    """GraphQL type name -> the ``fields`` of its ``@key`` directives, from the SDL."""
    found: dict[str, list[str]] = {}
    for definition in parse(sdl).definitions:
        if isinstance(definition, ObjectTypeDefinitionNode):
            for directive in definition.directives or ():
                if directive.name.value == "key":
                    arg = (directive.arguments or ())[0]
                    assert isinstance(arg.value, StringValueNode)
                    found.setdefault(definition.name.value, []).append(arg.value.value)
    return found


def _typename(node: str) -> str:
    return subgraph_name(node)


# --- the SDL -------------------------------------------------------------------------


def test_subgraph_sdl_links_federation_and_keys_every_node_type() -> None:
    sdl = _subgraph()
    assert sdl.startswith(
        'schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"]) {\n'
        "  query: Query\n  mutation: Mutation\n  subscription: Subscription\n}"
    )
    keys = _keys(sdl)
    assert set(keys) == {_typename(n) for n in NODE_TYPES}
    assert keys["Customer"] == ["id", "customerId"]
    assert keys["Invoice"] == ["id", "invoiceId"]
    assert keys["Space"] == ["id", "spaceId"]
    assert keys["BillingSubscription"] == ["id"]
    assert all(v == [*KEYS[n]] for n in NODE_TYPES for k, v in keys.items() if k == _typename(n))
    # The naming decision: the billing type and the root (composition's ``Subscription``).
    assert "type BillingSubscription implements Node @key" in sdl
    assert "type Subscription {\n" in sdl and "eventCreated(" in sdl
    assert "SubscriptionRoot" not in sdl
    assert "union EventResource = Customer | Invoice | BillingSubscription | CapturedEmail" in sdl
    assert "_entities(representations: [_Any!]!): [_Entity]!" in sdl
    assert "_service: _Service!" in sdl


def test_the_version_is_the_one_asked_for() -> None:
    sdl = subgraph_sdl(schema_for(SHORT_PATHS, "2.5"))
    assert '@link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])' in sdl
    assert DEFAULT_VERSION == DEFAULT_FEDERATION_VERSION == Settings().federation_version == "2.9"


def test_the_plain_schema_is_unchanged_by_the_subgraph() -> None:
    """Both schemas in one process: the plain one prints schema.graphql byte for byte."""
    for short_paths in (True, False):
        _ = subgraph_sdl(schema_for(short_paths, DEFAULT_VERSION))
    assert printed() == (ROOT / "schema.graphql").read_text()
    plain = print_schema(schema_for())
    assert "@key" not in plain and "BillingSubscription" not in plain and "_entities" not in plain
    assert "subscription: SubscriptionRoot" in plain
    # The shared Strawberry definitions carry no federation directive.
    assert not Query.__strawberry_definition__.directives  # type: ignore[attr-defined]
    assert SubgraphQuery is not Query


def test_every_subgraph_field_with_a_resolver_is_priced() -> None:
    assert unpriced_fields(schema_for(SHORT_PATHS, DEFAULT_VERSION)._schema, SUBGRAPH_PRICES) == []


# --- settings and the command line ------------------------------------------------


def test_settings_and_flags() -> None:
    parser = build_parser()
    assert settings_from_args(parser.parse_args(["serve"])).federation is False
    on = settings_from_args(parser.parse_args(["serve", "--federation"]))
    assert on.federation and on.federation_version == "2.9"
    env = Settings.load(
        environ={
            "SPACES_GRAPHQL_FEDERATION": "true",
            "SPACES_GRAPHQL_FEDERATION_VERSION": "2.7",
            "SPACES_GRAPHQL_FEDERATION_SECRET": SECRET,
        }
    )
    assert env.federation and env.federation_version == "2.7" and env.federation_secret == SECRET
    assert SECRET not in repr(env)
    with pytest.raises(SettingsError, match=r"federation_version must be one of 2\.0, 2\.1"):
        Settings(federation_version="2.12")
    with pytest.raises(SettingsError, match="federation_secret must be at least 16"):
        Settings(federation_secret="short")


def test_schema_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FEDERATION", "FEDERATION_VERSION"):
        monkeypatch.delenv(f"SPACES_GRAPHQL_{name}", raising=False)
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "schema.graphql").read_text()
    assert main(["schema", "--federation"]) == 0
    assert capsys.readouterr().out == _subgraph() + "\n"
    monkeypatch.setenv("SPACES_GRAPHQL_FEDERATION", "true")
    assert main(["schema", "--federation-version", "2.3"]) == 0
    assert "federation/v2.3" in capsys.readouterr().out.partition("\n")[0]


async def test_schema_command_prints_what_service_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPACES_GRAPHQL_FEDERATION_VERSION", raising=False)
    assert main(["schema", "--federation"]) == 0
    out = capsys.readouterr().out
    async with harness(federation=True) as fed:
        result = await fed.query(SERVICE, token=None)
        assert result["_status"] == 200, result
        assert out == result["data"]["_service"]["sdl"] + "\n"
        assert fed.upstream.calls == []


# --- _entities ----------------------------------------------------------------------


async def _ids(h: Harness, token: str = ALICE) -> dict[str, list[str]]:
    data = await h.data(
        "{ customers(first: 4) { nodes { id customerId } } "
        "invoices(first: 3) { nodes { id invoiceId } } subscriptions(first: 3) { nodes { id } } "
        "spaces(first: 1) { nodes { id spaceId } } }",
        token=token,
    )
    return {
        "Customer": [n["id"] for n in data["customers"]["nodes"]],
        "customerId": [n["customerId"] for n in data["customers"]["nodes"]],
        "Invoice": [n["id"] for n in data["invoices"]["nodes"]],
        "invoiceId": [n["invoiceId"] for n in data["invoices"]["nodes"]],
        "Subscription": [n["id"] for n in data["subscriptions"]["nodes"]],
        "Space": [n["id"] for n in data["spaces"]["nodes"]],
        "spaceId": [n["spaceId"] for n in data["spaces"]["nodes"]],
    }


def _reps(ids: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [
        {"__typename": _typename(node), "id": value}
        for node in ("Customer", "Invoice", "Subscription")
        for value in ids[node]
    ]


@pytest.mark.parametrize("batch", [True, False], ids=["batch-ids", "no-batch-ids"])
async def test_entities_cost_the_upstream_requests_nodes_cost(batch: bool) -> None:
    from sandbox.app import SandboxConfig

    config = SandboxConfig(batch_ids=batch)
    async with harness(config, batch_ids="on" if batch else "off", federation=True) as fed:
        ids = await _ids(fed)
        reps = _reps(ids)
        flat = [r["id"] for r in reps]
        fed.upstream.reset()
        by_nodes = await fed.data(NODES, {"ids": flat})
        nodes_routes = Counter(fed.upstream.routes())
        fed.upstream.reset()
        by_entities = await fed.data(ENTITIES, {"r": reps})
        assert Counter(fed.upstream.routes()) == nodes_routes
        assert by_entities["_entities"] == by_nodes["nodes"]
        # customers and invoices in one batch each (or one request each); subscriptions one each.
        assert sum(nodes_routes.values()) == (1 + 1 + 3 if batch else 4 + 3 + 3)
    # And the plain schema's nodes(ids:) costs the same.
    async with harness(config, batch_ids="on" if batch else "off") as plain:
        plain.upstream.reset()
        await plain.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": flat})
        assert Counter(plain.upstream.routes()) == nodes_routes


async def test_entities_by_upstream_ids_share_the_loaders() -> None:
    async with harness(federation=True) as fed:
        ids = await _ids(fed)
        reps = [{"__typename": "Customer", "customerId": c} for c in ids["customerId"]]
        reps += [{"__typename": "Customer", "id": c} for c in ids["Customer"]]  # the same ones
        reps += [{"__typename": "Invoice", "invoiceId": i} for i in ids["invoiceId"]]
        reps += [{"__typename": "Space", "spaceId": s} for s in ids["spaceId"]]
        fed.upstream.reset()
        got = (await fed.data(ENTITIES, {"r": reps}))["_entities"]
        assert [e["id"] for e in got] == [
            *ids["Customer"], *ids["Customer"], *ids["Invoice"], *ids["Space"]
        ]  # fmt: skip
        # One batch of customers (both keys), one of invoices, one Space.
        assert sorted(fed.upstream.routes()) == [
            "GET customers", "GET invoices", f"GET spaces/{ids['spaceId'][0]}"
        ]  # fmt: skip


async def test_what_cannot_be_an_entity_is_null_without_a_request() -> None:
    async with harness(federation=True) as fed:
        ids = await _ids(fed)
        invoice, customer = ids["Invoice"][0], ids["Customer"][0]
        reps = [
            {"__typename": "Customer", "id": invoice},  # an Invoice's global ID
            {"__typename": "BillingSubscription", "id": customer},
            {"__typename": "Customer", "id": "not-a-global-id"},
            {"__typename": "Customer", "id": 42},
            {"__typename": "Customer"},  # no key
            {"__typename": "Customer", "email": "a@example.com"},  # not a key
            {"__typename": "Subscription", "id": ids["Subscription"][0]},  # the root type
            {"__typename": "Account", "id": customer},  # not an entity
            {"__typename": "Space", "spaceId": "3"},  # spaceId is an Int
            {"__typename": "Space", "spaceId": True},
        ]
        fed.upstream.reset()
        result = await fed.query(ENTITIES, {"r": reps})
        assert result["data"] == {"_entities": [None] * len(reps)}, result
        assert "errors" not in result
        assert fed.upstream.calls == []


async def test_unknown_and_foreign_ids_are_null_and_nothing_of_bob_reaches_alice() -> None:
    async with harness(federation=True) as fed:
        bob = await _ids(fed, BOB)
        mine = await _ids(fed)
        unknown = "Q3VzdG9tZXI6Y3VzX25vbmU"  # Customer:cus_none
        assert from_global_id(unknown) == ("Customer", "cus_none")
        reps = [
            *_reps(bob),
            {"__typename": "Customer", "id": unknown},
            {"__typename": "Customer", "customerId": bob["customerId"][0]},
            {"__typename": "Customer", "id": mine["Customer"][0]},
        ]
        result = await fed.query(ENTITIES, {"r": reps})
        assert "errors" not in result, result
        got = result["data"]["_entities"]
        assert got[:-1] == [None] * (len(reps) - 1)
        assert got[-1]["id"] == mine["Customer"][0]
        # Bob himself sees his own.
        own = await fed.data(ENTITIES, {"r": _reps(bob)}, token=BOB)
        assert [e["id"] for e in own["_entities"]] == [r["id"] for r in _reps(bob)]


async def test_a_malformed_list_is_refused_before_any_request() -> None:
    async with harness(federation=True) as fed:
        ids = await _ids(fed)
        good = {"__typename": "Customer", "id": ids["Customer"][0]}
        for bad in ([good, "Customer"], [good, {"id": ids["Customer"][0]}], [good] * 101):
            fed.upstream.reset()
            result = await fed.query(ENTITIES, {"r": bad})
            assert "data" not in result, result
            (error,) = result["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT", error
            assert "representations" in error["message"]
            assert fed.upstream.calls == []
        literal = '{ _entities(representations: [{__typename: "Customer"}, 3]) { __typename } }'
        result = await fed.query(literal)
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert fed.upstream.calls == []


async def test_entities_need_the_callers_token() -> None:
    async with harness(federation=True) as fed:
        ids = await _ids(fed)
        fed.upstream.reset()
        result = await fed.query(ENTITIES, {"r": _reps(ids)}, token=None)
        assert result["_status"] == 401
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert fed.upstream.calls == []


# --- _service and its secret -----------------------------------------------------------


def _code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


@pytest.mark.parametrize("profile", ["development", "production"])
async def test_with_a_secret_service_needs_the_header(profile: str) -> None:
    async with harness(profile=profile, federation=True, federation_secret=SECRET) as fed:
        for headers in ({}, {"X-Federation-Secret": "wrong"}, {"X-Federation-Secret": SECRET[:-1]}):
            for token in (None, ALICE):
                auth = {"Authorization": f"Bearer {token}"} if token else {}
                r = await fed.facade.post(
                    "/graphql", json={"query": SERVICE}, headers={**headers, **auth}
                )
                assert "data" not in r.json(), r.text
                assert _code(r.json()) == "GRAPHQL_VALIDATION_FAILED"
                assert "X-Federation-Secret" in r.json()["errors"][0]["message"]
        sneaky = "{ ...F } fragment F on Query { _service { sdl } }"
        r = await fed.facade.post("/graphql", json={"query": sneaky}, headers={})
        assert _code(r.json()) == "GRAPHQL_VALIDATION_FAILED"
        # The right secret, no token: the SDL, and no upstream call.
        r = await fed.facade.post(
            "/graphql", json={"query": SERVICE}, headers={"X-Federation-Secret": SECRET}
        )
        assert r.status_code == 200 and r.json()["data"]["_service"]["sdl"] == _subgraph()
        # The secret is no token: anything else in the operation still needs one.
        r = await fed.facade.post(
            "/graphql",
            json={"query": "{ _service { sdl } viewer { name } }"},
            headers={"X-Federation-Secret": SECRET},
        )
        assert r.status_code == 401, r.text
        assert fed.upstream.calls == []


async def test_without_a_secret_service_is_open_in_development_only() -> None:
    async with harness(profile="development", federation=True) as dev:
        result = await dev.query("{ __typename _service { sdl } }", token=None)
        assert result["data"]["_service"]["sdl"] == _subgraph()
    async with harness(profile="production", federation=True) as prod:
        for token in (None, ALICE):
            result = await prod.query(SERVICE, token=token)
            assert "data" not in result and _code(result) == "GRAPHQL_VALIDATION_FAILED"
            assert "schema --federation" in result["errors"][0]["message"]
        # Introspection stays closed in production; _service is the federation way.
        result = await prod.query("{ __schema { queryType { name } } }")
        assert _code(result) == "GRAPHQL_VALIDATION_FAILED"
        assert prod.upstream.calls == []


async def test_the_plain_schema_has_no_federation_fields() -> None:
    async with harness() as plain:
        for query in (SERVICE, "{ _entities(representations: []) { __typename } }"):
            result = await plain.query(query)
            assert _code(result) == "GRAPHQL_VALIDATION_FAILED"
        assert plain.upstream.calls == []


# --- names, IDs and both execution paths ------------------------------------------------


LIVE = (
    "{ subscriptions(first: 2) { nodes { id __typename customer { __typename } } } "
    "events(first: 10) { nodes { resource { __typename ... on Node { id } } } } }"
)


@pytest.mark.parametrize("short_paths", [True, False], ids=["short-paths", "plain-paths"])
async def test_renamed_types_resolve_and_ids_are_the_same(short_paths: bool) -> None:
    async with harness(short_paths=short_paths) as plain:
        before = await plain.data(LIVE)
    async with harness(short_paths=short_paths, federation=True) as fed:
        after = await fed.data(LIVE)
        sub = after["subscriptions"]["nodes"][0]
        assert sub["__typename"] == "BillingSubscription"
        assert [n["id"] for n in after["subscriptions"]["nodes"]] == [
            n["id"] for n in before["subscriptions"]["nodes"]
        ]
        assert from_global_id(sub["id"])[0] == "Subscription"  # type: ignore[index]
        node = await fed.data(f'{{ node(id: "{sub["id"]}") {{ __typename id }} }}')
        assert node["node"] == {"__typename": "BillingSubscription", "id": sub["id"]}
        entity = await fed.data(
            ENTITIES, {"r": [{"__typename": "BillingSubscription", **node["node"]}]}
        )
        assert entity["_entities"][0]["id"] == sub["id"]
    renamed = {"Subscription": "BillingSubscription"}
    for got, was in zip(
        after["events"]["nodes"], before["events"]["nodes"], strict=True
    ):  # the union
        old = was["resource"] and was["resource"]["__typename"]
        assert (got["resource"] and got["resource"]["__typename"]) == renamed.get(old, old)


async def test_subscription_root_runs_over_websocket_in_the_subgraph() -> None:
    # Validated as the subgraph's root, named Subscription: HTTP refuses subscriptions.
    async with harness(federation=True) as fed:
        result = await fed.query("subscription { eventCreated { id } }")
        assert _code(result) == "BAD_REQUEST" and "WebSocket" in result["errors"][0]["message"]


# --- cost and limits --------------------------------------------------------------------


def test_entities_are_priced_as_nodes() -> None:
    preflight = Preflight(schema_for(SHORT_PATHS, DEFAULT_VERSION)._schema, Limits())
    customer = "Q3VzdG9tZXI6Y3VzX25vbmU"
    subscription = "U3Vic2NyaXB0aW9uOmN1c18xL3N1Yl8x"  # Subscription:cus_1/sub_1
    reps = [
        {"__typename": "Customer", "id": customer},
        {"__typename": "Customer", "customerId": "cus_2"},
        {"__typename": "BillingSubscription", "id": subscription},
        {"__typename": "Customer", "id": "junk"},  # null, free
    ]
    select = (
        "__typename ... on Customer { invoices(first: 5) { nodes { paid } } } "
        "... on BillingSubscription { invoices(first: 2) { nodes { paid } } }"
    )
    entities = preflight.prepare(
        f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ {select} }} }}",
        {"r": reps},
        None,
    )
    nodes = preflight.prepare(
        f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {select} }} }}",
        {"ids": [customer, customer, subscription]},
        None,
    )
    # 2 customers: 1 lookup + 1 page each; a subscription: 1 lookup + 1 page.
    assert entities.cost == nodes.cost == 6


async def test_limits_apply_to_entities() -> None:
    async with harness(federation=True, max_cost=4, max_depth=4, max_aliases=2) as fed:
        ids = await _ids(fed)
        reps = _reps(ids)
        fed.upstream.reset()
        costly = await fed.query(ENTITIES, {"r": reps})  # 10 lookups
        assert (
            _code(costly) == "QUERY_TOO_COMPLEX" and costly["errors"][0]["extensions"]["cost"] == 10
        )
        deep = (
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { "
            "invoices { nodes { customer { name } } } } } }"
        )
        assert _code(await fed.query(deep, {"r": reps[:1]})) == "QUERY_TOO_COMPLEX"
        aliases = (
            "query($r: [_Any!]!) { "
            + " ".join(f"a{i}: _entities(representations: $r) {{ __typename }}" for i in range(3))
            + " }"
        )
        assert _code(await fed.query(aliases, {"r": reps[:1]})) == "QUERY_TOO_COMPLEX"
        assert fed.upstream.calls == []


async def test_rate_limit_charges_entities_their_cost() -> None:
    async with harness(federation=True, profile="production", rate_limit_points=12) as fed:
        ids = await _ids(fed)  # 4 points (four connections)
        reps = _reps(ids)  # 10 points
        fed.upstream.reset()
        result = await fed.query(ENTITIES, {"r": reps})
        assert _code(result) == "RATE_LIMITED" and result["_status"] == 429
        assert fed.upstream.calls == []
        assert "errors" not in await fed.query(ENTITIES, {"r": reps[:2]})
