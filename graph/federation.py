"""The schema as an Apollo Federation v2 subgraph (``serve --federation``, docs/federation.md).

Only the subgraph build differs from the plain schema; the plain schema (and
``schema.graphql``) is untouched by anything here, in the same process:

- **Names.** Composition names the subgraph's subscription root ``Subscription``,
  which is the billing type's name. In the subgraph only, :class:`SubgraphNames`
  names the billing type ``BillingSubscription`` and the root ``Subscription``
  (:data:`SUBGRAPH_NAMES`). Global IDs are built from the declared resources, not
  from GraphQL names: an ID is the same in both schemas.
- **Entities.** Every ``Node`` type is an entity ``@key(fields: "id")`` (the
  global ID); types whose lookups take the upstream's own ID have that key too
  (:data:`KEYS`). The keys are attached to the subgraph's own GraphQL types
  (:meth:`Subgraph._collect_schema_directives`), never to the shared Strawberry
  definitions, so the plain schema prints no ``@key``.
- **``_entities``** resolves each representation through the loaders
  ``nodes(ids:)`` uses (``graph/lookup.py``), batched the same way; what cannot be
  an object of the named type (unknown type or key, a malformed ID, an ID of
  another type) is ``null`` without a request, and so is what the caller's
  account does not hold (the upstream answers 404).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union

import strawberry
from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLResolveInfo
from strawberry.federation import Schema as FederationSchema
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.federation.versions import FEDERATION_VERSIONS
from strawberry.printer import print_schema
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.unset import UNSET

from graph.context import Info
from graph.cost_spec import FREE, PRICES, Price, PriceKind
from graph.lazy import later
from graph.lookup import MAX_NODES, NODE_BINDINGS, NodeBinding, customer_key, invoice_key, node_key
from graph.node import Node
from graph.query import Query
from resolvers.errors import BadUserInput, SpacesGraphQLError

if TYPE_CHECKING:
    from graphql import GraphQLAbstractType

#: What ``Settings.federation_version`` defaults to: Hive Gateway's bundled composition
#: knows federation v2.0 to v2.9 (Strawberry's own default is newer).
DEFAULT_VERSION = "2.9"
#: The versions Strawberry can declare in ``@link`` (``"2.0"`` … ``"2.11"``).
VERSIONS: tuple[str, ...] = tuple(FEDERATION_VERSIONS)

#: Definition name -> GraphQL name, in the subgraph only (see the module docstring).
SUBGRAPH_NAMES: Mapping[str, str] = {
    "Subscription": "BillingSubscription",
    "SubscriptionRoot": "Subscription",
}
#: ... and back, for names the gateway sends (``__typename`` in representations).
_DEFINITION_NAMES: Mapping[str, str] = {v: k for k, v in SUBGRAPH_NAMES.items()}


def subgraph_name(name: str) -> str:
    """The subgraph's GraphQL name of the type whose plain schema name is ``name``."""
    return SUBGRAPH_NAMES.get(name, name)


class SubgraphNames(NameConverter):
    """Strawberry's names, but for :data:`SUBGRAPH_NAMES` (only the subgraph uses it)."""

    def from_object(self, object_type: StrawberryObjectDefinition) -> str:
        """The object type's name; a renamed one's subgraph name."""
        return subgraph_name(super().from_object(object_type))


_BY_NODE: Mapping[str, NodeBinding[Any, Any]] = {b.resource.node: b for b in NODE_BINDINGS.values()}
#: The largest upstream integer ID (``graph/lookup.py`` takes at most 18 digits).
_MAX_INTEGER_ID = 10**18 - 1


def _space_id(value: object) -> int:
    if type(value) is not int or not 0 < value <= _MAX_INTEGER_ID:
        raise BadUserInput("`spaceId` is not a Space ID", argument="representations")
    return value


#: Upstream-ID keys: (node, field) -> the loader key behind the field's value.
_UPSTREAM_KEYS: Mapping[tuple[str, str], Callable[[Any], object]] = {
    ("Space", "spaceId"): _space_id,
    ("Customer", "customerId"): lambda v: customer_key(_text(v), "representations"),
    ("Invoice", "invoiceId"): lambda v: invoice_key(_text(v), "representations"),
}
#: Entity keys of each ``Node`` type (by its resource's node name): the global ID, and
#: the upstream's ID where ``customer(id:)``/``invoice(id:)``/``space(id:)`` take it.
KEYS: Mapping[str, tuple[str, ...]] = {
    node: ("id", *(field for (owner, field) in _UPSTREAM_KEYS if owner == node))
    for node in (binding.resource.node for binding in NODE_BINDINGS.values())
}


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise BadUserInput("a key of `representations` is not a string", argument="representations")
    return value


def entity_key(representation: object) -> tuple[NodeBinding[Any, Any], object] | None:
    """The binding and loader key a representation names; ``None``: it is answered null.

    ``None`` for a type that is not an entity here, a representation without one of its
    keys, and a key that cannot be one of that type's (a malformed ID, an ID of
    another type). Pure: cost (pre-flight) and ``_entities`` judge it alike.
    """
    if not isinstance(representation, dict):
        return None
    typename = representation.get("__typename")
    if not isinstance(typename, str):
        return None
    node = _DEFINITION_NAMES.get(typename, typename)
    if node not in KEYS or subgraph_name(node) != typename:
        return None
    binding = _BY_NODE[node]
    try:
        for field in KEYS[node]:
            if field not in representation:
                continue
            value = representation[field]
            if field == "id":
                type_name, key = node_key(_text(value), "representations")
                return (binding, key) if type_name == node else None
            return binding, _UPSTREAM_KEYS[(node, field)](value)
    except SpacesGraphQLError:
        return None
    return None


def entity_node(representation: object) -> str | None:
    """The node type a representation is fetched as (its price), or ``None`` (free: null)."""
    found = entity_key(representation)
    return None if found is None else found[0].resource.node


def representations_problem(representations: object) -> str | None:
    """Why ``representations`` as a whole is refused (``BAD_USER_INPUT``), or ``None``.

    A list of at most ``MAX_NODES`` objects, each with a ``__typename`` string (the
    federation spec's shape); what each one names is judged per item (null if wrong).
    """
    if not isinstance(representations, list):
        return "`representations` must be a list of objects"
    if len(representations) > MAX_NODES:
        return f"`representations` takes at most {MAX_NODES} objects"
    for item in representations:
        if not isinstance(item, dict) or not isinstance(item.get("__typename"), str):
            return "every item of `representations` must be an object with a `__typename` string"
    return None


async def _load(info: Info, binding: NodeBinding[Any, Any], key: object) -> Node | None:
    # The loader nodes(ids:) uses (graph/lookup.py resolve_node): batched and shared.
    record = await info.context.loaders.of(binding.resource).get(key)
    return None if record is None else binding.wrap(record)


#: Every bound ``Node`` type, derived from ``NODE_BINDINGS``: a new resource is an entity
#: of the subgraph with no edit here (its keys: :data:`KEYS`).
_ENTITY_TYPES: tuple[type[Node], ...] = tuple(b.wrapper for b in NODE_BINDINGS.values())
Entity: Any = Annotated[
    Union[_ENTITY_TYPES],  # noqa: UP007  # a Union of a runtime tuple has no | spelling
    strawberry.union("_Entity", description="Every entity of this subgraph."),
]


@strawberry.type(name="_Service", description="Federation: what this subgraph serves.")
class Service:
    sdl: str = strawberry.field(description="The subgraph's schema (`@link`, `@key`).")


@strawberry.type(name="Query", description=Query.__strawberry_definition__.description)  # type: ignore[attr-defined]
class SubgraphQuery(Query):
    """``Query`` with federation's ``_service`` and ``_entities``."""

    @strawberry.field(
        name="_service",
        description="Federation: this subgraph's SDL, for a gateway's composition "
        "(guarded by `X-Federation-Secret`, docs/federation.md).",
    )
    def service(self, info: Info) -> Service:
        return Service(sdl=subgraph_sdl(info.schema))

    @strawberry.field(
        name="_entities",
        description=f"Federation: up to {MAX_NODES} entities by their keys, in order; "
        "null where unknown.",
    )
    def entities(self, info: Info, representations: list[FederationAny]) -> list[Entity | None]:
        problem = representations_problem(representations)
        if problem is not None:
            raise BadUserInput(problem, argument="representations")
        answers: list[Any] = []
        for representation in representations:
            found = entity_key(representation)
            answers.append(None if found is None else later(_load(info, *found)))
        return answers


#: Pre-flight prices of the subgraph's fields (``graph/cost_spec.py``'s, renamed):
#: ``_entities`` costs what ``nodes(ids:)`` of the same objects costs.
SUBGRAPH_PRICES: Mapping[tuple[str, str], Price] = {
    (subgraph_name(type_name), field): price for (type_name, field), price in PRICES.items()
} | {
    ("Query", "_entities"): Price(PriceKind.ENTITIES),
    ("Query", "_service"): FREE,
}


class Subgraph(FederationSchema):
    """Strawberry's federation schema, with the facade's names, keys and ``_entities``.

    ``graph/schema.py`` combines it with the facade's ``Schema``; build it there
    (``schema_for(federation=…)``).
    """

    #: What pre-flight prices the subgraph's fields with (``spaces_graphql/cost.py``).
    prices: Mapping[tuple[str, str], Price] = SUBGRAPH_PRICES

    def __init__(
        self,
        *,
        query: type,
        config: StrawberryConfig | None = None,
        entities: Iterable[type[Node]] = (),
        **kwargs: Any,
    ) -> None:
        base = config or StrawberryConfig()
        names = SubgraphNames(base.name_converter.auto_camel_case)
        self._entity_types = tuple(entities)
        # The query type with ``_entities``: a subclass, so the shared Query is unchanged.
        subgraph_query = SubgraphQuery if query is Query else query
        super().__init__(
            query=subgraph_query, config=dataclasses.replace(base, name_converter=names), **kwargs
        )
        self._resolve_renamed_types()

    @staticmethod
    def graphql_name(node: str) -> str:
        """The subgraph's GraphQL name of the resource node type ``node``."""
        return subgraph_name(node)

    def _collect_schema_directives(self, explicit: Iterable[type], graphql_types: Any) -> Any:
        # Before Strawberry collects directives (and derives @link from them): give each
        # entity's GraphQL type of this schema a definition copy with its @key
        # directives. The shared definition, and so the plain schema, keeps none.
        for entity in self._entity_types:
            definition: StrawberryObjectDefinition = entity.__strawberry_definition__  # type: ignore[attr-defined]
            graphql_type = self.schema_converter.from_object(definition)
            keyed = copy.copy(definition)
            keyed.directives = [
                *(definition.directives or ()),
                *(Key(fields=f, resolvable=UNSET) for f in KEYS[definition.name]),  # type: ignore[arg-type]
            ]
            graphql_type.extensions = {
                **graphql_type.extensions,
                GraphQLCoreConverter.DEFINITION_BACKREF: keyed,
            }
        return super()._collect_schema_directives(explicit, graphql_types)

    def _resolve_renamed_types(self) -> None:
        # Strawberry's interface resolver answers an object's *definition* name
        # ("Subscription"): here that is the root's GraphQL name, so a renamed type is
        # answered by its subgraph name first.
        renamed: dict[type, str] = {}
        for name, concrete in self.schema_converter.type_map.items():
            definition = concrete.definition
            if isinstance(definition, StrawberryObjectDefinition) and definition.name != name:
                renamed[definition.origin] = name
        for graphql_type in self._schema.type_map.values():
            if isinstance(graphql_type, GraphQLInterfaceType) and graphql_type.resolve_type:
                graphql_type.resolve_type = _renaming(graphql_type.resolve_type, renamed)


def _renaming(
    resolve_type: Callable[[Any, GraphQLResolveInfo[Any], GraphQLAbstractType], Any],
    renamed: Mapping[type, str],
) -> Callable[
    [Any, GraphQLResolveInfo[Any], GraphQLAbstractType], Awaitable[str | None] | str | None
]:
    def resolve(
        obj: Any, info: GraphQLResolveInfo[Any], abstract: GraphQLAbstractType
    ) -> Awaitable[str | None] | str | None:
        name = renamed.get(type(obj))
        return name if name is not None else resolve_type(obj, info, abstract)

    return resolve


def subgraph_sdl(schema: Any) -> str:
    """The subgraph's SDL (what ``_service { sdl }`` answers), printed once per schema."""
    cached: str | None = getattr(schema, "_subgraph_sdl", None)
    if cached is None:
        cached = _with_roots(print_schema(schema), schema)
        schema._subgraph_sdl = cached
    return cached


def _with_roots(sdl: str, schema: Any) -> str:
    # Strawberry's printer names the roots in ``schema { … }`` by their definitions'
    # names (``SubscriptionRoot``), not by their GraphQL names: print those instead.
    core = schema._schema
    roots = (
        ("query", core.query_type),
        ("mutation", core.mutation_type),
        ("subscription", core.subscription_type),
    )
    chunks = sdl.split("\n\n")
    for index, chunk in enumerate(chunks):
        if chunk.startswith("schema ") and chunk.endswith("}"):
            head = chunk.partition("{")[0]
            lines = [f"  {operation}: {root.name}" for operation, root in roots if root]
            chunks[index] = head + "{\n" + "\n".join(lines) + "\n}"
            break
    return "\n\n".join(chunks)


def entity_types(schema: Any) -> list[GraphQLObjectType]:
    """The subgraph's entity types (members of ``_Entity``), for tests and docs."""
    union = schema._schema.get_type("_Entity")
    return list(getattr(union, "types", ()))
