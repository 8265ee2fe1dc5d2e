"""What every field of the schema may cost upstream, declared beside the graph it prices.

Pre-flight (``spaces_graphql/cost.py``) adds these prices up into an upper
bound of the upstream requests an operation can make, before it runs. Each
price is the worst case of the field's resolver in this package, in every
capability mode of the upstream (with and without ``?ids=`` batching):

- ``listing(resource)`` (``CONNECTION``): the listed resource's ``page_price``
  (one page request) per parent object; what is selected under it is
  multiplied by the page size (``first``/``last``, else 20).
- ``lookup(n)``: at most ``n`` requests per parent object (a loader may batch
  them into fewer, never more); ``lookup_of(resource)`` is the resource's
  declared ``lookup_price`` (``resolvers/resources.py``).
- ``embedded(n)``: a relation the upstream embeds in every object it returns
  from a list, a lookup or a write (the contract: a subscription and an
  invoice carry their whole customer, a customer its Space): free there, and
  ``n`` requests per parent on an event's snapshot, which may lack it
  (``embedded_of(resource)``: that resource's lookup price).
- ``NODE``/``NODES``: fetch by global ID(s): the lookup price of the type each
  ID names (``LOOKUP_BY_TYPE``), and the selection priced on that type.
- ``WRITE``: one upstream write (never retried).
- ``FREE``: answered from the parent's record; costs nothing itself.
  ``SNAPSHOT`` likewise, and what it answers is an event's snapshot.

Plain attributes (no resolver) are free and need no entry;
``tests/test_cost_property.py`` asserts that every field with a resolver has one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph.node import NODE_TYPES, from_global_id
from resolvers.pagination import DEFAULT_PAGE, MAX_PAGE
from resolvers.resources import (
    CAPTURED_EMAIL,
    CUSTOMER,
    EVENT,
    INVOICE,
    RESOURCE_SUBSCRIPTION,
    RESOURCES,
    SPACE,
    SUBSCRIPTION,
    WEBHOOK,
    Resource,
)

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "PRICES", "Price", "PriceKind", "node_type"]


class PriceKind(enum.Enum):
    """How a field's price is computed (see the module docstring)."""

    FREE = "free"
    LOOKUP = "lookup"
    CONNECTION = "connection"
    NODE = "node"
    NODES = "nodes"
    #: Federation's ``_entities(representations:)``: priced as ``nodes`` of those objects.
    ENTITIES = "entities"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Price:
    """One field's price: its kind and, for lookups and writes, requests per parent."""

    kind: PriceKind
    requests: int = 0
    #: The requests happen only when the parent record is an event's snapshot.
    if_snapshot: bool = False
    #: What the field answers is an event's snapshot (objects may be partial).
    snapshot: bool = False


FREE = Price(PriceKind.FREE)
SNAPSHOT = Price(PriceKind.FREE, snapshot=True)
CONNECTION = Price(PriceKind.CONNECTION, 1)
NODE = Price(PriceKind.NODE)
NODES = Price(PriceKind.NODES)
WRITE = Price(PriceKind.WRITE, 1)


def lookup(requests: int) -> Price:
    """A relation or root lookup of at most ``requests`` upstream requests per parent."""
    return Price(PriceKind.LOOKUP, requests)


def embedded(requests: int) -> Price:
    """An embedded relation: free on upstream objects, a lookup on event snapshots."""
    return Price(PriceKind.LOOKUP, requests, if_snapshot=True)


#: Fetching one object of a type by ID (``graph/lookup.py``'s loaders), worst case: each
#: resource's declared ``lookup_price`` (``resolvers/resources.py``, which checks it
#: against its lookup's worst case): customers and invoices one request each without
#: ``?ids=`` (one per 100 with it); subscriptions one each; Spaces one alone, but two or
#: more in one tick read the list first and then each missing one (n + 1 <= 2n); objects
#: the upstream only lists (events, webhooks, captured emails, REST Hooks) two cursor
#: requests each.
LOOKUP_BY_TYPE: Mapping[str, int] = {res.node: res.lookup_price for res in RESOURCES}
assert set(LOOKUP_BY_TYPE) == NODE_TYPES


def lookup_of(resource: Resource[Any, Any]) -> Price:
    """A lookup of one object of ``resource`` by key, per parent."""
    return lookup(resource.lookup_price)


def embedded_of(resource: Resource[Any, Any]) -> Price:
    """An embedded object of ``resource``: free on upstream objects, a lookup on snapshots."""
    return embedded(resource.lookup_price)


def listing(resource: Resource[Any, Any]) -> Price:
    """A connection over ``resource``: its page price per parent, times the page below it."""
    return Price(PriceKind.CONNECTION, resource.page_price)


def connection_type(resource: Resource[Any, Any]) -> str:
    """The GraphQL name of ``resource``'s connection type (``Connection[Customer]``)."""
    return f"{resource.node}Connection"


#: (GraphQL type, GraphQL field) -> price, for every field with a resolver.
PRICES: Mapping[tuple[str, str], Price] = {
    # graph/query.py
    ("Query", "node"): NODE,
    ("Query", "nodes"): NODES,
    ("Query", "viewer"): lookup(1),  # GET /account
    ("Query", "space"): lookup_of(SPACE),
    ("Query", "customer"): lookup_of(CUSTOMER),
    ("Query", "invoice"): lookup_of(INVOICE),
    ("Query", "spaces"): listing(SPACE),
    ("Query", "customers"): listing(CUSTOMER),
    ("Query", "subscriptions"): listing(SUBSCRIPTION),
    ("Query", "invoices"): listing(INVOICE),
    ("Query", "events"): listing(EVENT),
    ("Query", "webhooks"): listing(WEBHOOK),
    ("Query", "capturedEmails"): listing(CAPTURED_EMAIL),
    ("Query", "resourceSubscriptions"): listing(RESOURCE_SUBSCRIPTION),
    # graph/space.py
    ("Space", "customers"): listing(CUSTOMER),
    ("Space", "capturedEmails"): listing(CAPTURED_EMAIL),
    # graph/customer.py: a partial customer (a snapshot's) is fetched whole for its Space.
    ("Customer", "space"): embedded_of(CUSTOMER),
    ("Customer", "subscriptions"): listing(SUBSCRIPTION),
    ("Customer", "invoices"): listing(INVOICE),
    # graph/subscription.py
    ("Subscription", "items"): FREE,
    ("Subscription", "customer"): embedded_of(CUSTOMER),
    ("Subscription", "invoices"): listing(INVOICE),
    # graph/invoice.py
    ("Invoice", "items"): FREE,
    ("Invoice", "customer"): embedded_of(CUSTOMER),
    ("Invoice", "subscription"): lookup_of(SUBSCRIPTION),
    # graph/captured_email.py: always embedded (a payload without one is an error).
    ("CapturedEmail", "space"): FREE,
    # graph/event.py, graph/webhook.py: carried by the record itself.
    ("Event", "resource"): SNAPSHOT,
    ("Webhook", "event"): FREE,
    # graph/mutation.py: one write each; the payload's selection is priced on its own.
    ("Mutation", "login"): WRITE,
    ("Mutation", "createResourceSubscription"): WRITE,
    ("Mutation", "deleteResourceSubscription"): WRITE,
    ("Mutation", "cancelSubscription"): WRITE,
    ("Mutation", "payInvoice"): WRITE,
    # graph/subscription_root.py: events arrive by REST Hook; each is priced as an Event.
    ("SubscriptionRoot", "eventCreated"): FREE,
    # graph/connection.py: edges pair the page's nodes with cursors.
    **{(connection_type(res), "edges"): FREE for res in RESOURCES},
}


def node_type(global_id: object) -> str | None:
    """The type a global ID names, or ``None`` when it is not one (refused, no request)."""
    if not isinstance(global_id, str):
        return None
    decoded = from_global_id(global_id)
    return None if decoded is None else decoded[0]
