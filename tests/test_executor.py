"""The short paths (graph/fast_paths.py, graph/executor.py) answer exactly as Strawberry does.

Every query runs against two schemas built from the same types: Strawberry's
own (its resolver chain, its execution context) and the facade's streamlined
one. Results, errors, paths and locations must be identical, including every
case the short path hands back to graphql-core.
"""

from __future__ import annotations

import enum
import os
from typing import Any

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from graph.executor import LeanExecutionContext
from graph.fast_paths import LeafPlan, streamline
from graph.schema import schema as facade_schema
from tests.support import BOB, Harness


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    nickname: str | None
    count: int  # 2**40 for one item: Int refuses it
    ratio: float
    flag: bool
    colour: Colour
    broken_name: str  # set to None: a null in a non-null field
    odd: str | None  # set to a dict, which String refuses
    tags: list[str]
    _secret: strawberry.Private[str]

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def with_info(self, info: strawberry.Info) -> str:
        return f"{info.field_name}:{self.name}"

    @strawberry.field
    def greet(self, who: str = "you") -> str:
        return f"{self.name} greets {who}"

    @strawberry.field
    def fails(self) -> str | None:
        raise ValueError("this field always fails")


def _items() -> list[Item]:
    return [
        Item(
            name=f"n{i}", nickname=None if i % 2 else f"nick{i}", count=2**40 if i == 3 else i, ratio=i / 2,
            flag=bool(i % 2), colour=Colour.RED if i % 2 else Colour.BLUE,
            broken_name=None if i == 1 else "ok",  # type: ignore[arg-type]
            odd={"not": "a string"} if i == 2 else "fine",  # type: ignore[arg-type]
            tags=["a", "b"], _secret="s",
        )
        for i in range(4)
    ]  # fmt: skip


@strawberry.interface
class Named:
    label: str


@strawberry.type
class Tag(Named):
    weight: int


@strawberry.type
class Plain:
    """Only attributes: completed by the plain-object short path when it can be."""

    name: str
    tags: list[Tag]


@strawberry.type
class Box:
    """Attribute-held objects: the plain-object short path, and each case it hands back."""

    plain: Plain
    maybe: Plain | None
    items: list[Item]
    holes: list[Item | None]
    strict: list[Item]  # one entry is not an Item: graphql-core reports it
    tag: Tag
    named: Named  # abstract: never a plain object
    measure: float  # infinite: Float refuses it
    truth_count: int  # True: Int serialises a bool as 1
    label: str  # "0": the built-in scalars pass a str through


def _box() -> Box:
    tags = [Tag(label="x", weight=1), Tag(label="y", weight=2)]
    return Box(
        plain=Plain(name="p", tags=tags), maybe=None, items=_items(),
        holes=[_items()[0], None, _items()[2]],
        strict=[_items()[0], Plain(name="impostor", tags=[])],  # type: ignore[list-item]
        tag=tags[0], named=tags[1], measure=float("inf"), truth_count=True, label="0",
    )  # fmt: skip


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def box(self) -> Box:
        return _box()

    @strawberry.field
    def item(self) -> Item:
        return _items()[0]

    @strawberry.field
    def shared(self) -> Box:
        """The same objects in every operation, as a revalidated page's are."""
        return _SHARED


_SHARED = _box()


def _schemas(**kwargs: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query, **kwargs)
    fast = strawberry.Schema(query=Query, execution_context_class=LeanExecutionContext, **kwargs)
    assert streamline(fast) > 0
    return plain, fast


QUERIES = [
    "{ items { name nickname count ratio flag colour tags shout withInfo } }",
    "{ items { a: name b: name count __typename } }",
    '{ items { greet(who: "me") g2: greet } }',
    "{ items { name brokenName } }",  # a null in a non-null field: the item is nulled
    "{ items { name odd } }",  # String refuses an object: an error at that path
    "{ items { name fails } }",
    "{ item { name brokenName } }",
    "query($skip: Boolean!) { items { name @skip(if: $skip) count @include(if: $skip) } }",
    "{ items { ... on Item { name } ...F } } fragment F on Item { count }",
    "{ box { plain { name __typename tags { label weight __typename } } maybe { name } } }",
    "{ box { items { name count ratio flag colour tags } } }",
    "{ box { items { name brokenName } } }",  # a non-null null deep in a plain list
    "{ box { items { name odd } plain { name } } }",
    "{ box { items { count } } }",  # Int refuses 2**40: the whole box is nulled
    "{ box { holes { name } } }",
    "{ box { strict { name } } }",
    "{ box { tag { label weight } named { label ... on Tag { weight } } } }",
    "{ box { items { name shout greet } } }",  # not plain: resolvers with arguments
    "query($skip: Boolean!) { box { plain { name @skip(if: $skip) tags @include(if: $skip)"
    " { label } } } }",
    "{ box { plain { ...P } } } fragment P on Plain { name tags { ... on Named { label } } }",
    "{ box { measure } }",
    "{ box { truthCount label } }",
]


def _answer(schema: strawberry.Schema, query: str) -> dict[str, Any]:
    result = schema.execute_sync(query, variable_values={"skip": True})
    return {
        "data": result.data,
        "errors": [
            {"message": e.message, "path": e.path, "locations": e.locations}
            for e in result.errors or []
        ],
    }


@pytest.mark.parametrize("query", QUERIES)
def test_same_answers_as_strawberry(query: str) -> None:
    plain, fast = _schemas()
    assert _answer(fast, query) == _answer(plain, query)


@pytest.mark.parametrize("query", [q for q in QUERIES if "{ box {" in q])
def test_objects_shared_by_operations_answer_the_same(query: str) -> None:
    """Objects that serve operation after operation keep their completed results
    (``graph.executor._remembered``): every later operation, whatever it selects, still
    answers exactly as Strawberry does, errors and fallbacks included."""
    plain, fast = _schemas()
    shared = query.replace("{ box {", "{ shared {")
    expected = _answer(plain, shared)
    for q in (shared, QUERIES[9].replace("{ box {", "{ shared {"), shared):
        assert _answer(fast, q) == _answer(plain, q)
    assert _answer(fast, shared) == expected


def test_a_shared_object_keeps_one_result_per_selection() -> None:
    _, fast = _schemas()
    a = fast.execute_sync("{ shared { plain { name } tag { label } } }").data
    b = fast.execute_sync("{ shared { plain { name } tag { label } } }").data
    renamed = fast.execute_sync("{ shared { plain { n: name } tag { label } } }").data
    assert a is not None and b is not None and renamed is not None
    assert b["shared"] is a["shared"]  # the second operation read the first's result
    assert renamed["shared"] == {"plain": {"n": "p"}, "tag": {"label": "x"}}
    assert renamed["shared"] is not a["shared"]
    # A few selections are kept per object; a new one replaces the one kept longest.
    for i in range(6):
        data = fast.execute_sync(f"{{ shared {{ plain {{ n{i}: name }} }} }}").data
        assert data == {"shared": {"plain": {f"n{i}": "p"}}}
    again = fast.execute_sync("{ shared { plain { n5: name } } }").data
    assert again is not None and again["shared"] is data["shared"]
    assert len(vars(_SHARED)["_lean_completed"]) == 4


def test_error_cases_do_produce_errors() -> None:
    """The comparison above is not vacuous: these queries do fail, field by field."""
    _, fast = _schemas()
    broken = _answer(fast, "{ items { name brokenName } }")
    assert broken["errors"][0]["path"] == ["items", 1, "brokenName"]
    assert "non-nullable" in broken["errors"][0]["message"]
    odd = _answer(fast, "{ items { name odd } }")
    assert odd["errors"][0]["path"] == ["items", 2, "odd"]
    assert odd["data"]["items"][2] == {"name": "n2", "odd": None}
    big = _answer(fast, "{ items { count } }")
    assert big["errors"][0]["path"] == ["items", 3, "count"] and big["data"] is None


def test_plain_objects_skip_graphql_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """A selection of plain objects is built without one graphql-core field execution."""
    base: Any = LeanExecutionContext.__mro__[1]  # what the short paths hand fields to
    calls: list[str] = []
    original = base.execute_field

    def counting(self: Any, parent_type: Any, *args: Any) -> Any:
        calls.append(parent_type.name)
        return original(self, parent_type, *args)

    monkeypatch.setattr(base, "execute_field", counting)
    _, fast = _schemas()
    result = fast.execute_sync(
        "{ box { plain { name tags { label } } items { name ratio flag colour } } }"
    )
    assert result.errors is None and result.data is not None
    assert calls == []  # ``box`` is a method taking only ``self``: plain from the root down


def test_which_fields_are_marked() -> None:
    _, fast = _schemas()
    fields = fast._schema.type_map["Item"].fields  # type: ignore[attr-defined]
    assert isinstance(fields["name"].resolve.leaf, LeafPlan)
    assert fields["name"].resolve.leaf.nullable is False
    assert fields["nickname"].resolve.leaf.nullable is True
    assert isinstance(fields["colour"].resolve.leaf, LeafPlan)
    # A method taking only ``self`` is a plain read too.
    assert isinstance(fields["shout"].resolve.leaf, LeafPlan)
    # A list of scalars and a method taking ``info`` are resolved directly but
    # completed by graphql-core.
    for name in ("tags", "withInfo"):
        assert not hasattr(fields[name].resolve, "leaf")
    # Arguments and async resolvers keep Strawberry's chain.
    assert "_get_result" not in repr(fields["name"].resolve)
    plain, _ = _schemas()
    greet = fields["greet"].resolve
    assert greet.__qualname__ == plain._schema.type_map["Item"].fields["greet"].resolve.__qualname__  # type: ignore[attr-defined]


class Upper(SchemaExtension):
    """A schema extension with a resolve hook: it must see every field."""

    def resolve(
        self, _next: Any, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:  # type: ignore[override]
        value = _next(root, info, *args, **kwargs)
        return value.upper() if isinstance(value, str) else value


def test_resolve_hooks_still_see_every_field() -> None:
    plain, fast = _schemas(extensions=[Upper])
    query = "{ items { name nickname } }"
    assert _answer(fast, query) == _answer(plain, query)
    assert _answer(fast, query)["data"]["items"][0]["name"] == "N0"


_OFF = pytest.mark.skipif(
    os.environ.get("SPACES_GRAPHQL_SHORT_PATHS", "true").lower() in {"false", "0", "off", "no"},
    reason="this run has the short paths off (SPACES_GRAPHQL_SHORT_PATHS=false)",
)


def test_the_plain_schema_has_no_short_path() -> None:
    from graph.schema import PlainEventExecution, build_schema

    plain = build_schema(short_paths=False)
    assert not issubclass(plain.execution_context_class, LeanExecutionContext)
    assert issubclass(plain.execution_context_class, PlainEventExecution)
    customer = plain._schema.type_map["Customer"].fields  # type: ignore[attr-defined]
    assert getattr(customer["name"].resolve, "leaf", None) is None


@_OFF
def test_the_facade_schema_is_streamlined() -> None:
    # A subclass: graph/schema.py's EventExecution adds per-event contexts for subscriptions.
    assert issubclass(facade_schema.execution_context_class, LeanExecutionContext)
    customer = facade_schema._schema.type_map["Customer"].fields  # type: ignore[attr-defined]
    assert isinstance(customer["name"].resolve.leaf, LeafPlan)
    assert isinstance(customer["createdAt"].resolve.leaf, LeafPlan)
    # Connections with only the Relay arguments load their page directly; one with
    # filters of its own (events' `types`, an enum list) keeps Strawberry's conversion.
    query = facade_schema._schema.type_map["Query"].fields  # type: ignore[attr-defined]
    assert query["customers"].resolve.__module__ == "graph.fast_paths"
    assert customer["subscriptions"].resolve.__module__ == "graph.fast_paths"
    assert query["events"].resolve.__module__ != "graph.fast_paths"


@_OFF
async def test_the_facade_takes_the_short_path(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the real app: plain leaves are answered by the short path (it silently
    stopped being taken once, when a resolver middleware check misfired)."""
    import graph.executor

    taken: list[object] = []
    real = graph.executor._leaf

    def counting(plan: LeafPlan, source: Any) -> Any:
        value = real(plan, source)
        taken.append(value)
        return value

    monkeypatch.setattr(graph.executor, "_leaf", counting)
    data = await h.data("{ customers(first: 5) { nodes { id name email createdAt } } }")
    assert len(data["customers"]["nodes"]) == 5
    assert len(taken) == 20 and all(isinstance(v, str) for v in taken)


@_OFF
async def test_a_revalidated_page_is_completed_once(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the real app: the second operation over pages the upstream revalidates
    (304) reuses the graph's objects for them and their completed results, answers
    the same, and another token's operation builds its own."""
    import graph.executor

    built: list[object] = []
    real = graph.executor._fields

    def counting(plan: Any, source: Any) -> Any:
        built.append((type(source).__name__, id(source)))
        return real(plan, source)

    monkeypatch.setattr(graph.executor, "_fields", counting)
    query = """{ customers(first: 3) { nodes { name subscriptions(first: 2) { nodes {
      status createdAt total { amount } items { itemId } invoices(first: 2) { nodes {
        orderNumber createdAt total { amount currency } items { itemId quantity } } } } } } } }"""
    first = await h.data(query)
    first_built, before = len(built), len(h.upstream.calls)
    assert first_built > 0
    second = await h.data(query)
    assert second == first
    revalidated = h.upstream.calls[before:]
    assert revalidated and all(c.status == 304 for c in revalidated)
    assert built[first_built:] == []  # nothing completed again
    other = await h.data(query, token=BOB)
    assert other["customers"]["nodes"] and len(built) > first_built
