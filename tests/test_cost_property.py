"""Property: the pre-flight cost is an upper bound of the upstream requests, for every document.

A seeded generator writes random operations over the real schema: nested
connections and lookups, inline and named fragments on concrete and abstract
types (``Node`` inside ``EventResource`` and the other way round), several
fragments on one type, fragments spread more than once, aliases, variables,
``node``/``nodes`` with real IDs of several types, event snapshots, webhooks'
events, ``viewer``, and mutations. Each runs in-process against the sandbox,
in both capability modes, and the upstream requests it really made (counted
by the recording transport) must not exceed the cost it was given.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
    parse,
)

from graph.cost_spec import PRICES, PriceKind
from graph.node import to_global_id
from graph.schema import schema
from sandbox.app import SandboxConfig
from spaces_graphql.cost import unpriced_fields
from spaces_graphql.preflight import Limits
from spaces_graphql.shape import measure
from tests.support import Harness, harness

SCHEMA: GraphQLSchema = schema._schema
#: Documents per capability mode (the whole test stays well under 40 s).
DOCUMENTS = 400
#: Documents expanding to more fields are generated again (the facade refuses them).
MAX_FIELDS = 1500
#: Limits raised so that no generated document is refused before it runs.
OPEN_LIMITS: dict[str, Any] = {
    "max_cost": 10**9,
    "max_aliases": 10_000,
    "max_depth": 30,
    "max_tokens": 50_000,
    "max_directives": 10_000,
}
ABSTRACT = (GraphQLInterfaceType, GraphQLUnionType)
#: Event types and the type of their snapshots.
EVENT_TYPES = {
    "CUSTOMER_CREATED": "Customer",
    "INVOICE_CREATED": "Invoice",
    "INVOICE_PAID": "Invoice",
    "SUBSCRIPTION_CREATED": "Subscription",
    "SUBSCRIPTION_CANCELLED": "Subscription",
}


def test_every_field_that_can_reach_upstream_has_a_price() -> None:
    assert unpriced_fields(SCHEMA) == []


@dataclass
class Ids:
    """Real IDs of the sandbox account, by type (global IDs) plus raw upstream IDs."""

    by_type: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, list[str]] = field(default_factory=dict)

    def all(self) -> list[str]:
        return [i for ids in self.by_type.values() for i in ids]


async def _ids(h: Harness) -> Ids:
    ids = Ids()
    lists: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "Customer": ("customers", lambda o: o["id"]),
        "Invoice": ("invoices", lambda o: o["id"]),
        "Subscription": ("subscriptions", lambda o: f"{o['customer']['id']}/{o['token']}"),
        "Space": ("spaces", lambda o: o["id"]),
        "Event": ("events", lambda o: o["id"]),
        "Webhook": ("webhooks", lambda o: o["id"]),
        "CapturedEmail": ("captured_emails", lambda o: o["id"]),
        "ResourceSubscription": ("resource_subscriptions", lambda o: o["id"]),
    }
    for type_name, (path, key) in lists.items():
        objects = (await h.rest(path, limit=4))["data"]
        keys: list[Any] = [key(o) for o in objects]
        ids.raw[type_name] = [str(k) for k in keys]
        ids.by_type[type_name] = [to_global_id(type_name, k) for k in keys]
    # An ID that names nothing: the lookup answers null (and still costs its request).
    ids.by_type["Customer"].append(to_global_id("Customer", "cus_unknown0000"))
    return ids


class Generator:
    """Random valid operations over the schema (every field aliased: no merge conflicts)."""

    def __init__(self, rng: random.Random, ids: Ids) -> None:
        self.rng = rng
        self.ids = ids
        self.aliases = 0
        self.fragments: list[tuple[str, str, str]] = []  # (name, type condition, text)
        self.variables: dict[str, Any] = {}
        self.declared: list[str] = []
        self.hint: str | None = None
        self.event_hint: str | None = None

    def document(self) -> tuple[str, dict[str, Any]]:
        if self.rng.random() < 0.12:
            mutation = SCHEMA.mutation_type
            assert mutation is not None
            body = self._mutation(mutation)
            head = "mutation"
        else:
            assert SCHEMA.query_type is not None
            width = (1, 1) if self.rng.random() < 0.5 else (1, 3)
            body = self._object(SCHEMA.query_type, budget=self.rng.randint(3, 6), width=width)
            head = "query"
        if self.declared:
            head += "(" + ", ".join(self.declared) + ")"
        text = head + " { " + body + " }\n" + "\n".join(f[2] for f in self.fragments)
        return text, self.variables

    # --- selections --------------------------------------------------------------------

    def _alias(self) -> str:
        self.aliases += 1
        return f"a{self.aliases}"

    def _selection(self, named: GraphQLNamedType, budget: int, hint: str | None = None) -> str:
        if isinstance(named, GraphQLObjectType):
            return self._object(named, budget)
        return self._abstract(named, budget, hint)

    def _object(self, obj: GraphQLObjectType, budget: int, width: tuple[int, int] = (1, 3)) -> str:
        rng = self.rng
        parts: list[str] = []
        names = list(obj.fields)
        composite = [n for n in names if not is_leaf_type(get_named_type(obj.fields[n].type))]
        leaves = [n for n in names if n not in composite]
        for _ in range(rng.randint(*width)):
            pool = composite if (budget > 0 and composite and rng.random() < 0.7) else leaves
            if not pool:
                pool = leaves or composite
            parts.append(self._field(obj, rng.choice(pool), budget))
        if leaves and rng.random() < 0.5:
            parts.append(f"{self._alias()}: {rng.choice(leaves)}")
        if budget > 0 and rng.random() < 0.35:
            parts.append(self._fragment_on(self._overlapping(obj), budget - 1))
        if rng.random() < 0.1:
            parts.append("__typename")
        return " ".join(p for p in parts if p) or "__typename"

    def _abstract(self, named: GraphQLNamedType, budget: int, hint: str | None) -> str:
        """``hint``: the concrete type the objects will have, when the arguments tell."""
        rng = self.rng
        parts = ["__typename"] if rng.random() < 0.5 else []
        if isinstance(named, GraphQLInterfaceType) and rng.random() < 0.5:
            parts.append(f"{self._alias()}: id")
        for _ in range(rng.randint(1, 3)):
            on = self._overlapping(named, hint)
            parts.append(self._fragment_on(on, max(budget - 1, 0), hint))
        return " ".join(parts)

    def _overlapping(self, named: GraphQLNamedType, hint: str | None = None) -> GraphQLNamedType:
        """A type whose fragments may be spread in a selection on ``named``.

        With a ``hint``, mostly one that applies to it: the hidden costs are there.
        """
        candidates: list[GraphQLNamedType] = []
        mine = self._possible(named)
        for other in ("Node", "EventResource", *self.ids.by_type):
            t = SCHEMA.get_type(other)
            if t is not None and self._possible(t) & mine:
                candidates.append(t)
        if hint is not None and self.rng.random() < 0.75:
            candidates = [t for t in candidates if hint in self._possible(t)] or candidates
        return self.rng.choice(candidates) if candidates else named

    @staticmethod
    def _possible(named: GraphQLNamedType) -> set[str]:
        if isinstance(named, ABSTRACT):
            return {t.name for t in SCHEMA.get_possible_types(named)}
        return {named.name}

    def _fragment_on(self, on: GraphQLNamedType, budget: int, hint: str | None = None) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return f"... on {on.name} {{ {self._selection(on, budget, hint)} }}"
        reusable = [f for f in self.fragments if f[1] == on.name]
        if reusable and rng.random() < 0.5:  # the same fragment spread again
            return "..." + rng.choice(reusable)[0]
        body = self._selection(on, budget, hint)
        name = f"F{len(self.fragments)}"
        self.fragments.append((name, on.name, f"fragment {name} on {on.name} {{ {body} }}"))
        return "..." + name

    # --- fields and arguments ----------------------------------------------------------

    def _field(self, parent: GraphQLObjectType, name: str, budget: int) -> str:
        f = parent.fields[name]
        named = get_named_type(f.type)
        self.hint = None
        args = self._arguments(parent.name, name)
        head = f"{self._alias()}: {name}{args}"
        if is_leaf_type(named):
            return head
        if (parent.name, name) == ("Event", "resource"):
            self.hint = self.event_hint
        return f"{head} {{ {self._selection(named, max(budget - 1, 0), self.hint)} }}"

    def _arguments(self, parent: str, name: str) -> str:
        rng = self.rng
        price = PRICES.get((parent, name))
        if price is not None and price.kind is PriceKind.CONNECTION:
            size = rng.randint(1, 5)
            first = self._variable("Int", size) if rng.random() < 0.2 else str(size)
            if name == "events" and rng.random() < 0.6:  # events of one kind: their snapshots
                kind = rng.choice(list(EVENT_TYPES))
                self.event_hint = EVENT_TYPES[kind]
                return f"(first: {first}, types: [{kind}])"
            return f"(first: {first})"
        if (parent, name) == ("Query", "node"):
            self.hint = rng.choice([t for t, ids in self.ids.by_type.items() if ids])
            return f"(id: {self._variable('ID!', rng.choice(self.ids.by_type[self.hint]))})"
        if (parent, name) == ("Query", "nodes"):
            chosen = rng.sample(self.ids.all(), rng.randint(1, 5))
            self.hint = rng.choice(
                [t for t, ids in self.ids.by_type.items() if set(ids) & set(chosen)]
            )
            return "(ids: [" + ", ".join(f'"{i}"' for i in chosen) + "])"
        if parent == "Query" and name in ("space", "customer", "invoice"):
            type_name = name.capitalize()
            pool = self.ids.by_type[type_name] + self.ids.raw[type_name]
            return f"(id: {self._variable('ID!', rng.choice(pool))})"
        return ""

    def _variable(self, type_: str, value: Any) -> str:
        if self.rng.random() < 0.6:
            return f'"{value}"' if isinstance(value, str) else str(value)
        name = f"v{len(self.declared)}"
        self.declared.append(f"${name}: {type_}")
        self.variables[name] = value
        return "$" + name

    def _mutation(self, mutation: GraphQLObjectType) -> str:
        rng = self.rng
        parts = []
        for _ in range(rng.randint(1, 2)):
            choice = rng.choice(["payInvoice", "cancelSubscription", "deleteResourceSubscription"])
            if choice == "payInvoice":
                target, payload = rng.choice(self.ids.by_type["Invoice"]), "invoice"
            elif choice == "cancelSubscription":
                target, payload = rng.choice(self.ids.by_type["Subscription"]), "subscription"
            else:
                target, payload = "rs_doesnotexist", "deletedId"
            payload_type = get_named_type(mutation.fields[choice].type)
            assert isinstance(payload_type, GraphQLObjectType)
            inner = get_named_type(payload_type.fields[payload].type)
            selection = (
                payload
                if is_leaf_type(inner)
                else f"{payload} {{ {self._selection(inner, rng.randint(1, 3))} }}"
            )
            parts.append(
                f'{self._alias()}: {choice}(input: {{id: "{target}"}}) '
                f"{{ {selection} userErrors {{ code }} }}"
            )
        return " ".join(parts)


@dataclass
class Tally:
    documents: int = 0
    worst_ratio: float = 0.0
    worst_document: str = ""
    requests: int = 0
    fragments: int = 0
    abstract_nested: int = 0
    exact: int = 0
    ratios: float = 0.0


def _refused_for_shape(text: str) -> bool:
    """Whether the facade would refuse the document for its size (then it is not run)."""
    shape = measure(parse(text), cap=MAX_FIELDS)
    return shape.fields >= MAX_FIELDS or shape.merged > Limits().max_merged_fields


async def _check_mode(h: Harness, seed: int, tally: Tally) -> None:
    ids = await _ids(h)
    rng = random.Random(seed)
    for _ in range(DOCUMENTS):
        text, variables = Generator(rng, ids).document()
        while _refused_for_shape(text):
            text, variables = Generator(rng, ids).document()
        h.upstream.reset()
        result = await h.query(text, variables)
        assert "errors" not in result, (text, variables, result.get("errors"))
        actual = len(h.upstream.calls)
        cost = result["extensions"]["cost"]
        assert actual <= cost["requested"], (text, variables, actual, cost, h.upstream.routes())
        tally.documents += 1
        tally.requests += actual
        tally.fragments += "fragment " in text
        tally.abstract_nested += "... on Node" in text and "... on EventResource" in text
        tally.exact += actual == cost["requested"]
        tally.ratios += actual / cost["requested"] if cost["requested"] else 1.0
        if cost["requested"] and actual / cost["requested"] > tally.worst_ratio:
            tally.worst_ratio = actual / cost["requested"]
            tally.worst_document = text


@pytest.mark.parametrize(
    ("mode", "sandbox", "settings"),
    [
        ("batch-by-ids", SandboxConfig(), {"batch_ids": "auto"}),
        ("no batch-by-ids", SandboxConfig(batch_ids=False), {"batch_ids": "off"}),
    ],
)
async def test_cost_bounds_the_upstream_requests(
    mode: str, sandbox: SandboxConfig, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    async with harness(sandbox, **settings, **OPEN_LIMITS) as h:
        await _check_mode(h, seed=20261201, tally=tally)
    assert tally.documents == DOCUMENTS
    assert tally.fragments > DOCUMENTS // 3 and tally.abstract_nested > 0
    assert tally.requests > DOCUMENTS  # the documents did reach upstream
    with capsys.disabled():
        print(
            f"\n[{mode}] {tally.documents} documents, {tally.requests} upstream requests, "
            f"largest actual/estimated {tally.worst_ratio:.2f}, mean "
            f"{tally.ratios / tally.documents:.2f}, exact for {tally.exact}"
        )
