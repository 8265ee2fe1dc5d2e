"""Connection fields declared once (``graph/connection.py``'s :func:`connection`).

Each connection states what it lists; the helper adds the Relay arguments, their
checks and the upstream page. These tests hold the helper to its promises: every
field with Relay arguments is declared with it, its arguments print in one order,
its resolver adds no coroutine of its own, its lazy node type binds, and the
scopes pre-flight derives from the declarations are the ones execution encodes.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLObjectType

from graph.connection import (
    RELAY_ARGUMENTS,
    ConnectionField,
    Listing,
    argument,
    connection,
    declared_connections,
    listing_of,
    parent,
)
from graph.event_type import EventType
from graph.schema import schema_for
from resolvers.pagination import encode_cursor
from resolvers.resources import BY_KIND, CUSTOMER
from spaces_graphql.arguments import connection_scopes
from tests.support import Harness

#: The tables spaces_graphql/arguments.py kept by hand before the declarations.
ROOT_SCOPES = {
    "spaces": "spaces",
    "customers": "customers",
    "subscriptions": "subscriptions",
    "invoices": "invoices",
    "events": "events",
    "webhooks": "webhooks",
    "capturedEmails": "captured_emails",
    "resourceSubscriptions": "resource_subscriptions",
}
NESTED_SHAPES = {
    ("Space", "customers"): "customers?space=*",
    ("Space", "capturedEmails"): "captured_emails?space=*",
    ("Customer", "subscriptions"): "customers/*/subscriptions",
    ("Customer", "invoices"): "invoices?customer=*",
    ("Subscription", "invoices"): "invoices?customer=*&subscription=*",
}


@pytest.fixture(params=[True, False], ids=["short-paths", "plain"])
def graphql_schema(request: pytest.FixtureRequest) -> Any:
    return schema_for(request.param)._schema


def _fields(graphql_schema: Any) -> list[tuple[str, str, Any]]:
    return [
        (type_.name, name, field)
        for type_ in graphql_schema.type_map.values()
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
    ]


def test_every_relay_field_is_declared_with_the_helper(graphql_schema: Any) -> None:
    relay = set(RELAY_ARGUMENTS)
    declared = declared_connections(graphql_schema)
    for type_name, name, field in _fields(graphql_schema):
        args = list(field.args)
        if relay & set(args):
            assert (type_name, name) in declared, (type_name, name)
            # The Relay four first, in order, each an optional with a null default.
            assert args[:4] == list(RELAY_ARGUMENTS), (type_name, name)
            for arg in RELAY_ARGUMENTS:
                assert field.args[arg].default_value is None
                assert field.args[arg].description is None
        else:
            assert listing_of(field) is None, (type_name, name)
    assert len(declared) == 13


def test_scopes_derived_from_the_declarations_are_the_hand_kept_ones(
    graphql_schema: Any,
) -> None:
    assert connection_scopes(graphql_schema) == (ROOT_SCOPES, NESTED_SHAPES)


def test_each_declaration_lists_its_node_types_resource(graphql_schema: Any) -> None:
    for (type_name, name), listing in declared_connections(graphql_schema).items():
        field = graphql_schema.type_map[type_name].fields[name]
        declared = field.extensions["strawberry-definition"]
        assert isinstance(declared, ConnectionField)
        node = declared.node_type()
        assert BY_KIND[listing.kind].node == node.__name__, (type_name, name)
        assert listing.key is BY_KIND[listing.kind].cursor
        assert f"{node.__name__}Connection" == field.type.name


def test_the_resolver_is_synchronous_and_returns_the_page_coroutine() -> None:
    """No coroutine of its own: Strawberry calls it without its async wrapper."""
    for listing_field in _declared_fields():
        resolver = listing_field.base_resolver
        assert resolver is not None
        assert not resolver.is_async
        assert not inspect.iscoroutinefunction(resolver.wrapped_func)
        assert resolver.wrapped_func.__qualname__.startswith("connection(")


def _declared_fields() -> list[ConnectionField]:
    graphql_schema = schema_for(True)._schema
    return [
        graphql_schema.type_map[t].fields[n].extensions["strawberry-definition"]
        for t, n in declared_connections(graphql_schema)
    ]


def _events_kinds(types: list[EventType] | None) -> str | None:
    return ",".join(sorted({t.value for t in types})) if types else None


def test_listing_paths_filters_and_scopes() -> None:
    listing = Listing(
        "subscription",
        "customers/{customer_id}/subscriptions",
        {"space": parent("_record.space"), "type": argument("types", object, _events_kinds)},
        str,
    )
    obj = SimpleNamespace(customer_id="cus/1", _record=SimpleNamespace(space=7))
    assert listing.nested
    assert listing.path_of(obj) == "customers/cus%2F1/subscriptions"  # one quoted segment
    assert listing.filters_of(obj, {}) == {"space": 7}
    types = [EventType.INVOICE_PAID, EventType.CUSTOMER_CREATED, EventType.INVOICE_PAID]
    assert listing.filters_of(obj, {"types": types}) == {
        "space": 7,
        "type": "customer.created,invoice.paid",
    }
    assert listing.scope_for({"types": types}) == (
        "customers/*/subscriptions?space=*&type=customer.created,invoice.paid"
    )
    root = Listing("event", "events", {}, str)
    assert not root.nested and root.path_of(None) == "events"
    assert root.filters_of(None, {}) is None


def test_declarations_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Listing("customer", "customers/{}/x", {}, str)
    with pytest.raises(ValueError, match="shadow"):
        connection("x", object, CUSTOMER, filters={"f": argument("first", int, str)})


async def test_a_lazy_node_type_binds_on_first_use(h: Harness) -> None:
    space_customers = next(
        f for f in _declared_fields() if f.origin.__name__ == "Space" and f.name == "customers"
    )
    await h.data("{ spaces(first: 2) { nodes { customers(first: 2) { nodes { id } } } } }")
    # ``wrap`` stays the binder (pages key the objects built for them by it); it found
    # the node type's ``from_record`` on first use.
    assert space_customers.wrap == space_customers._bind
    assert space_customers._bound == space_customers.node_type().from_record


async def test_events_cursors_carry_their_types_filter(h: Harness) -> None:
    query = (
        "query($a: String) { events(first: 1, after: $a, types: [INVOICE_PAID]) { nodes { id } } }"
    )
    other = encode_cursor("events", "evt_1")  # a cursor of the unfiltered list
    result = await h.query(query, {"a": other})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    assert result["errors"][0]["message"] == "`after` is a cursor from another connection"
    assert h.upstream.calls == []
    matching = encode_cursor("events?type=invoice.paid", "evt_1")
    result = await h.query(query, {"a": matching})
    assert "is a cursor from another connection" not in str(result.get("errors"))
