"""The resource declarations (``resolvers/resources.py``) and everything derived from them.

This is the "Adding a resource" walkthrough of ``docs/architecture.md`` as a test:
every declared resource has a parser that makes its record type from a real
upstream payload, a graph type that wraps that record (named as its global IDs
say), a lookup price and a listing price, a loader of its lookup's class and a
route segment; and the schema's ``Node`` types are exactly the declared ones.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLInterfaceType

import resolvers.resources as res
from graph.cost_spec import LOOKUP_BY_TYPE, PRICES, PriceKind, connection_type
from graph.lookup import NODE_BINDINGS, NodeBinding, binding_problems, node_key
from graph.node import NODE_TYPES, global_id
from graph.schema import schema
from resolvers import records as r
from resolvers.capabilities import BatchCapability, BatchState
from resolvers.client import SpacesClient
from resolvers.loaders import LOADER_CLASSES, Loaders
from resolvers.upstream import route_template
from tests.support import Harness

SCHEMA = schema._schema


def test_the_registry_is_indexed_by_kind_and_by_node() -> None:
    assert len(res.RESOURCES) == len(res.BY_KIND) == len(res.BY_NODE) == len(NODE_TYPES)
    for resource in res.RESOURCES:
        assert res.BY_KIND[resource.kind] is resource
        assert res.BY_NODE[resource.node] is resource


def test_every_resource_has_a_graph_type_and_nothing_else_has_one() -> None:
    assert set(NODE_BINDINGS) == set(res.BY_KIND)
    assert binding_problems() == []


def test_a_resource_without_a_graph_type_or_a_graph_type_without_a_resource_is_caught() -> None:
    without = {k: b for k, b in NODE_BINDINGS.items() if k != "webhook"}
    assert binding_problems(without) == ["resource 'webhook' has no graph type"]
    stray: dict[str, NodeBinding[Any, Any]] = {**NODE_BINDINGS, "refund": NODE_BINDINGS["event"]}
    assert "graph type for undeclared kind 'refund'" in binding_problems(stray)
    swapped = {**NODE_BINDINGS, "event": NODE_BINDINGS["webhook"]}
    assert "'event' is bound to GraphQL type 'Webhook'" in binding_problems(swapped)


def test_the_schemas_node_types_are_the_declared_resources() -> None:
    node = SCHEMA.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    implementations = {t.name for t in SCHEMA.get_possible_types(node)}
    assert implementations == set(res.BY_NODE) == NODE_TYPES


def test_every_resource_has_prices() -> None:
    for resource in res.RESOURCES:
        assert LOOKUP_BY_TYPE[resource.node] == resource.lookup_price
        assert resource.lookup_price >= res.WORST_CASE[resource.lookup]
        assert (connection_type(resource), "edges") in PRICES
        assert SCHEMA.get_type(connection_type(resource)) is not None
    # Every connection field is priced with its listed resource's page price.
    for (type_name, field_name), price in PRICES.items():
        if price.kind is PriceKind.CONNECTION:
            field = SCHEMA.get_type(type_name).fields[field_name]  # type: ignore[union-attr]
            listed = str(field.type).removesuffix("!").removesuffix("Connection")
            assert price.requests == res.BY_NODE[listed].page_price, (type_name, field_name)


def test_every_resource_has_a_route_segment() -> None:
    for resource in res.RESOURCES:
        assert route_template(f"{resource.path}/x_1") == f"/{resource.path}/{{id}}"
        if resource.parent is not None:
            nested = f"{resource.parent.path}/p_1/{resource.path}/t_1"
            assert (
                route_template(nested) == f"/{resource.parent.path}/{{id}}/{resource.path}/{{id}}"
            )


def test_every_snapshot_parser_is_its_resources_parser() -> None:
    for kind, parser in r.SNAPSHOT_PARSERS.items():
        assert res.BY_KIND[kind].parse is parser


async def test_every_resource_has_a_loader_of_its_lookups_class() -> None:
    client = SpacesClient(_upstream_config())
    loaders = Loaders(client.session("t"))
    for resource in res.RESOURCES:
        loader = loaders.of(resource)
        assert type(loader) is LOADER_CLASSES[resource.lookup]
        assert loader.resource is resource and loaders.of_kind(resource.kind) is loader
    assert loaders.customer is loaders.of(res.CUSTOMER)


@pytest.mark.parametrize(
    "change",
    [
        {"lookup_price": 1},  # below the cursors' worst case
        {"batch_ids": True},  # only BY_ID batches
        {"identity": res.Identity.TOKEN_IN_PARENT},  # without a parent
        {"page_price": 0},
    ],
)
def test_an_inconsistent_declaration_is_refused(change: dict[str, Any]) -> None:
    fields = {
        name: getattr(res.EVENT, name)
        for name in res.Resource.__dataclass_fields__  # type: ignore[attr-defined]
    }
    with pytest.raises(ValueError, match="resource 'event'"):
        res.Resource(**{**fields, **change})


async def _payloads(h: Harness, resource: res.Resource[Any, Any]) -> list[Any]:
    listed = list((await h.rest(resource.path, limit=3))["data"])
    if resource.parent is None or not listed:
        return listed
    # Also its children's listing under one parent (what a nested connection reads).
    parent_key = resource.key(resource.parse(listed[0]))[0]
    nested = await h.rest(f"{resource.parent.path}/{parent_key}/{resource.path}", limit=3)
    return listed + list(nested["data"])


async def test_declarations_parse_wrap_and_round_trip_real_payloads(h: Harness) -> None:
    created = await h.sandbox.post(
        "/api/v1/resource_subscriptions",
        json={"event": "customer.created", "target_url": "https://hooks.example.com/r"},
        auth=("demo-alice", ""),
    )
    assert created.status_code == 200
    for resource in res.RESOURCES:
        payloads = await _payloads(h, resource)
        assert payloads, f"the sandbox has no {resource.kind}"
        binding = NODE_BINDINGS[resource.kind]
        for payload in payloads:
            record = resource.parse(payload)
            assert isinstance(record, resource.record)
            node = binding.wrap(record)
            assert isinstance(node, binding.wrapper)
            # The graph type's ID is the declaration's, and node(id:) decodes it to the key.
            assert node.id == global_id(resource, record)
            assert node_key(node.id) == (resource.node, resource.key(record))
            assert isinstance(resource.cursor(record), str)


def test_batch_capability_learns_once_and_in_one_direction() -> None:
    auto = BatchCapability("auto")
    assert auto.state is BatchState.UNKNOWN and auto.worth_trying
    auto.answered()
    assert auto.state is BatchState.ON
    assert auto.refused() is False  # known to work: a refusal is the caller's error
    auto.ignored()
    assert auto.state is BatchState.OFF and not auto.worth_trying
    auto.answered()  # a late answer does not switch it back on
    assert auto.state is BatchState.OFF

    probe = BatchCapability("auto")
    assert probe.refused() is True and probe.state is BatchState.OFF
    assert BatchCapability("on").state is BatchState.ON
    assert BatchCapability("off").state is BatchState.OFF


def _upstream_config() -> Any:
    from spaces_graphql.settings import Settings

    return Settings().upstream_config()


async def test_a_request_reports_to_the_clients_capability_and_changes_nothing_else() -> None:
    """An upstream that ignores ``ids``: the lookup falls back, the process learns "off"."""
    customers = {
        cid: {"object": "customer", "id": cid, "created": 1, "name": None, "email": None,
              "space": {"id": 1, "created": 1, "url": None}}
        for cid in ("cus_1", "cus_2", "cus_3")
    }  # fmt: skip

    def answer(request: httpx.Request) -> httpx.Response:
        last = request.url.path.rsplit("/", 1)[-1]
        if last == "customers":  # ``ids`` ignored: the newest objects
            return httpx.Response(200, json={"data": list(customers.values()), "has_more": True})
        return httpx.Response(200, json=customers[last])

    client = SpacesClient(_upstream_config(), httpx.MockTransport(answer))
    capability = client.batch_capability
    assert capability.state is BatchState.UNKNOWN
    loaders = Loaders(client.session("t"))
    found = [await loaders.customer.get("cus_1")]
    assert [c.id for c in found if c is not None] == ["cus_1"]
    assert client.batch_capability is capability and capability.state is BatchState.OFF
    # The next operation does not try ``?ids=`` again.
    before = client.requests_total
    assert await Loaders(client.session("t")).customer.get("cus_2") is not None
    assert client.requests_total == before + 1
    await client.aclose()
