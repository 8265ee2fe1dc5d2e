"""Every REST resource the facade reads, declared once.

A :class:`Resource` says everything the layers need to know about one kind of
upstream object: its kind (the upstream's ``object`` name, and the name a page
is parsed as), its REST collection, its identity shape, its record type and
parser, how one object is fetched by key (and whether ``?ids=`` batches it),
what it embeds (so that a page primes those too), its global ID's type name,
and its price in upstream requests. What is derived from the registry
(:data:`RESOURCES`), built once at import or construction, never per object:

* the per-operation loaders (``resolvers/loaders.py``: one loader per
  declaration, its class chosen by :class:`Lookup`, its priming by ``embeds``);
* the route template's known segments (``resolvers/upstream.py``);
* the ``Node`` type names, ``node(id:)``/``nodes(ids:)`` dispatch and the key
  shape of each global ID (``graph/node.py``, ``graph/lookup.py``, which also
  hold the typed map from kind to graph type, checked against this registry);
* the lookup and listing prices (``graph/cost_spec.py``).

``tests/test_resources.py`` checks that every declaration has a parser, a
graph type, a price and a route segment, and that the schema's ``Node`` types
are exactly the declared ones. ``docs/architecture.md`` ("Adding a resource")
walks through adding one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from resolvers import records as r

R = TypeVar("R")
K = TypeVar("K")
S = TypeVar("S")


class Identity(enum.Enum):
    """The shape of an upstream object's key (and of the key in its global ID)."""

    #: An integer (Spaces: ``42``).
    INTEGER = "integer"
    #: An opaque token unique in the account (``cus_ab12``).
    TOKEN = "token"
    #: A token unique only within its parent: the key is ``(parent key, token)``, and the
    #: global ID's key ``"<parent key>/<token>"`` (subscriptions within their customer).
    TOKEN_IN_PARENT = "token-within-parent"


class Lookup(enum.Enum):
    """How one object is fetched by its key (the loader class in ``resolvers/loaders.py``)."""

    #: ``GET <path>/<id>``; with ``Resource.batch_ids``, up to 100 in one ``?ids=`` request.
    BY_ID = "by-id"
    #: ``GET <path>/<id>``, but two or more in one tick read the list first (few exist).
    FEW = "few"
    #: ``GET <parent path>/<parent key>/<path>/<token>``, one each (no batch endpoint).
    IN_PARENT = "in-parent"
    #: The upstream only lists these: a lookup is made from two cursor requests.
    CURSORS = "cursors"


#: The most upstream requests one lookup of each kind costs, whatever the capabilities:
#: ``FEW`` costs n + 1 <= 2n for n lookups; ``BY_ID`` is one each without ``?ids=``.
WORST_CASE: Mapping[Lookup, int] = {
    Lookup.BY_ID: 1,
    Lookup.FEW: 2,
    Lookup.IN_PARENT: 1,
    Lookup.CURSORS: 2,
}


@dataclass(frozen=True, slots=True)
class Embedded(Generic[R, S]):
    """An object of another resource that records of this one carry (``get`` it, or None)."""

    resource: Resource[S, Any]
    get: Callable[[R], S | None]


@dataclass(frozen=True, slots=True)
class Resource(Generic[R, K]):
    """One REST resource, declared once (see the module docstring).

    ``R`` is its record type, ``K`` its loaders' key type.
    """

    #: The upstream's ``object`` name; also what a page of it is parsed as (``PageQuery``).
    kind: str
    #: The GraphQL type that wraps it, and the type name in its global IDs.
    node: str
    #: Its REST collection, relative to the API base (``customers``).
    path: str
    identity: Identity
    record: type[R]
    parse: Callable[[Any], R]
    #: Its loaders' key: the upstream ID, or ``(parent key, token)``.
    key: Callable[[R], K]
    #: What the upstream's ``starting_after``/``starting_before`` take (a connection's cursor).
    cursor: Callable[[R], str]
    lookup: Lookup
    #: Upstream requests per lookup by key, worst case (at least ``WORST_CASE[lookup]``).
    lookup_price: int
    #: Upstream requests per page of a listing.
    page_price: int = 1
    #: The upstream can answer ``GET <path>?ids=a,b,c`` (learned per process at run time).
    batch_ids: bool = False
    #: ``TOKEN_IN_PARENT``: the resource it lives under (listed and fetched below it).
    parent: Resource[Any, Any] | None = None
    #: ``IN_PARENT``: the parser given the parent's key (a lone object may omit its parent).
    parse_in_parent: Callable[[Any, str], R] | None = None
    #: Objects every record may carry; a page primes their loaders too.
    embeds: tuple[Embedded[R, Any], ...] = ()
    #: Whether a record is partial (a snapshot's); partial records are never primed.
    partial: Callable[[R], bool] | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.lookup_price < WORST_CASE[self.lookup]:
            problems.append(f"lookup_price below the {self.lookup.value} worst case")
        if self.page_price < 1:
            problems.append("a page costs at least one request")
        if self.batch_ids and self.lookup is not Lookup.BY_ID:
            problems.append("only a BY_ID lookup batches by ?ids=")
        nested = self.identity is Identity.TOKEN_IN_PARENT
        if nested != (self.lookup is Lookup.IN_PARENT) or nested != (self.parent is not None):
            problems.append("TOKEN_IN_PARENT, Lookup.IN_PARENT and a parent go together")
        if (self.lookup is Lookup.IN_PARENT) != (self.parse_in_parent is not None):
            problems.append("an IN_PARENT lookup needs parse_in_parent (and only it)")
        if self.lookup is Lookup.FEW and self.identity is not Identity.INTEGER:
            problems.append("a FEW lookup keys by integer IDs")
        if problems:
            raise ValueError(f"resource {self.kind!r}: " + "; ".join(problems))

    def global_key(self, record: R) -> str:
        """The key part of ``record``'s global ID (the inverse is ``graph/lookup.py``'s)."""
        key: Any = self.key(record)
        if self.identity is Identity.TOKEN_IN_PARENT:
            parent_key, token = key
            return f"{parent_key}/{token}"
        return str(key)


# --- the declarations (in dependency order: what is embedded is declared first) -------
#
# Each declaration has its own key and getter functions, never one shared by two record
# types: priming calls them for every object, and an attribute read that sees one type
# stays specialised by the interpreter (a shared one alternates types and does not).


def _space_of_customer(c: r.CustomerRecord) -> r.SpaceRecord | None:
    return c.space


def _space_of_email(e: r.CapturedEmailRecord) -> r.SpaceRecord | None:
    return e.space


def _customer_of_subscription(s: r.SubscriptionRecord) -> r.CustomerRecord | None:
    return s.customer


def _customer_of_invoice(i: r.InvoiceRecord) -> r.CustomerRecord | None:
    return i.customer


def _event_of_webhook(w: r.WebhookRecord) -> r.EventRecord | None:
    return w.event


def _partial(c: r.CustomerRecord) -> bool:
    return c.partial


SPACE: Resource[r.SpaceRecord, int] = Resource(
    kind="space",
    node="Space",
    path="spaces",
    identity=Identity.INTEGER,
    record=r.SpaceRecord,
    parse=r.parse_space,
    key=lambda s: s.id,
    cursor=lambda s: str(s.id),
    lookup=Lookup.FEW,
    lookup_price=2,
)

CUSTOMER: Resource[r.CustomerRecord, str] = Resource(
    kind="customer",
    node="Customer",
    path="customers",
    identity=Identity.TOKEN,
    record=r.CustomerRecord,
    parse=r.parse_customer,
    key=lambda c: c.id,
    cursor=lambda c: c.id,
    lookup=Lookup.BY_ID,
    lookup_price=1,
    batch_ids=True,
    embeds=(Embedded(SPACE, _space_of_customer),),
    partial=_partial,
)

SUBSCRIPTION: Resource[r.SubscriptionRecord, tuple[str, str]] = Resource(
    kind="subscription",
    node="Subscription",
    path="subscriptions",
    identity=Identity.TOKEN_IN_PARENT,
    record=r.SubscriptionRecord,
    parse=r.parse_subscription,
    key=lambda s: (s.customer_id, s.token),
    cursor=lambda s: s.token,
    lookup=Lookup.IN_PARENT,
    lookup_price=1,
    parent=CUSTOMER,
    parse_in_parent=lambda obj, customer_id: r.parse_subscription(obj, customer_id=customer_id),
    embeds=(Embedded(CUSTOMER, _customer_of_subscription),),
)

INVOICE: Resource[r.InvoiceRecord, str] = Resource(
    kind="invoice",
    node="Invoice",
    path="invoices",
    identity=Identity.TOKEN,
    record=r.InvoiceRecord,
    parse=r.parse_invoice,
    key=lambda i: i.id,
    cursor=lambda i: i.id,
    lookup=Lookup.BY_ID,
    lookup_price=1,
    batch_ids=True,
    embeds=(Embedded(CUSTOMER, _customer_of_invoice),),
)

CAPTURED_EMAIL: Resource[r.CapturedEmailRecord, str] = Resource(
    kind="captured_email",
    node="CapturedEmail",
    path="captured_emails",
    identity=Identity.TOKEN,
    record=r.CapturedEmailRecord,
    parse=r.parse_captured_email,
    key=lambda e: e.id,
    cursor=lambda e: e.id,
    lookup=Lookup.CURSORS,
    lookup_price=2,
    embeds=(Embedded(SPACE, _space_of_email),),
)

EVENT: Resource[r.EventRecord, str] = Resource(
    kind="event",
    node="Event",
    path="events",
    identity=Identity.TOKEN,
    record=r.EventRecord,
    parse=r.parse_event,
    key=lambda e: e.id,
    cursor=lambda e: e.id,
    lookup=Lookup.CURSORS,
    lookup_price=2,
    # No embeds: a snapshot is the past, it must not stand in for the current object.
)

WEBHOOK: Resource[r.WebhookRecord, str] = Resource(
    kind="webhook",
    node="Webhook",
    path="webhooks",
    identity=Identity.TOKEN,
    record=r.WebhookRecord,
    parse=r.parse_webhook,
    key=lambda w: w.id,
    cursor=lambda w: w.id,
    lookup=Lookup.CURSORS,
    lookup_price=2,
    embeds=(Embedded(EVENT, _event_of_webhook),),
)

RESOURCE_SUBSCRIPTION: Resource[r.ResourceSubscriptionRecord, str] = Resource(
    kind="resource_subscription",
    node="ResourceSubscription",
    path="resource_subscriptions",
    identity=Identity.TOKEN,
    record=r.ResourceSubscriptionRecord,
    parse=r.parse_resource_subscription,
    key=lambda h: h.id,
    cursor=lambda h: h.id,
    lookup=Lookup.CURSORS,
    lookup_price=2,
)

#: The registry: every declared resource (each has a loader, a graph type and prices),
#: in dependency order (a resource after those it embeds).
RESOURCES: tuple[Resource[Any, Any], ...] = (
    SPACE,
    CUSTOMER,
    SUBSCRIPTION,
    INVOICE,
    CAPTURED_EMAIL,
    EVENT,
    WEBHOOK,
    RESOURCE_SUBSCRIPTION,
)


def _index(name: str, of: Callable[[Resource[Any, Any]], str]) -> dict[str, Resource[Any, Any]]:
    found: dict[str, Resource[Any, Any]] = {}
    for resource in RESOURCES:
        if of(resource) in found:
            raise ValueError(f"two resources share the {name} {of(resource)!r}")
        found[of(resource)] = resource
    return found


#: Declarations by ``kind`` (pages, loaders) and by ``node`` (global IDs).
BY_KIND: Mapping[str, Resource[Any, Any]] = _index("kind", lambda res: res.kind)
BY_NODE: Mapping[str, Resource[Any, Any]] = _index("node", lambda res: res.node)
_index("path", lambda res: res.path)

# Loaders wire priming in this order (``resolvers/loaders.py``): what is embedded comes first.
for _i, _resource in enumerate(RESOURCES):
    for _embedded in _resource.embeds:
        if _embedded.resource not in RESOURCES[:_i]:
            raise ValueError(f"{_resource.kind!r} embeds a resource not declared before it")


def path_segments() -> frozenset[str]:
    """Every REST path segment that names a collection (the rest of a path are IDs)."""
    return frozenset(res.path for res in RESOURCES)
