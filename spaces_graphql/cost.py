"""Cost before execution: an upper bound of the upstream requests an operation can make.

Every field's price is declared beside the graph (``graph/cost_spec.py``, whose
lookup and listing prices are the resource declarations' in
``resolvers/resources.py``); this module only adds them up. A selection is priced on one concrete object
type at a time: a field costs its price per parent object plus what is
selected under it, and a connection multiplies what is selected under it by
its page size. On an interface or a union the price is the maximum, over its
possible concrete types, of everything that applies to that type (fields,
inline fragments and named fragments whose condition the type satisfies,
however deeply abstract fragments nest).

Linear in the document: the price of a selection set on a concrete type is
independent of how many parents it has (the total is that price times the
parents), so it is computed once per (selection set, type) and reused at every
spread of a fragment. ``visited`` counts the selections looked at, so tests
can assert the work done rather than the time taken.

Relations the upstream embeds (an invoice's customer, a customer's Space) are
free on the objects it returns from lists, lookups and writes, and a lookup on
an event's snapshot, which may lack them: each selection is priced knowing
whether its object is a snapshot.

Directives (``@skip``/``@include``) are ignored: counting a skipped field is
still an upper bound. Not counted: upstream retries after failures, and the
one-time ``?ids=`` capability probe under ``batch_ids=auto`` (an upstream that
lacks the capability costs its first batch one extra request, once per process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast,
)

from graph.cost_spec import DEFAULT_PAGE, LOOKUP_BY_TYPE, MAX_PAGE, PRICES, Price, PriceKind
from graph.cost_spec import node_type as default_node_type
from graph.federation import entity_node, representations_problem

FREE = Price(PriceKind.FREE)
_ABSTRACT = (GraphQLInterfaceType, GraphQLUnionType)


class CostCalculator:
    """Computes an operation's upper bound of upstream requests (see the module docstring)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        prices: Mapping[tuple[str, str], Price] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = dict(variables)
        # A federation subgraph declares its own (renamed types, ``_entities``).
        served = schema.extensions.get("strawberry-definition")
        self.prices = prices if prices is not None else getattr(served, "prices", PRICES)
        #: A resource node's GraphQL type name (the subgraph renames ``Subscription``).
        self.graphql_name: Callable[[str], str] = getattr(served, "graphql_name", str)
        #: Selections looked at so far (each once per concrete type it is priced on).
        self.visited = 0
        self._memo: dict[tuple[int, str, bool], int] = {}
        self._active: set[tuple[int, str, bool]] = set()

    def operation(self, op: OperationDefinitionNode) -> int:
        """The operation's cost: upstream requests it may make, at most."""
        root = self.schema.get_root_type(op.operation)
        if root is None:
            return 0
        return self._unit(op.selection_set, root, False)

    # --- selections ------------------------------------------------------------------

    def _unit(self, selection_set: SelectionSetNode, obj: GraphQLObjectType, snap: bool) -> int:
        """The cost of ``selection_set`` on one object of concrete type ``obj``.

        ``snap``: the object is an event's snapshot (its embedded objects may be missing).
        """
        key = (id(selection_set), obj.name, snap)
        known = self._memo.get(key)
        if known is not None:
            return known
        if key in self._active:  # a fragment cycle: validation refuses those anyway
            return 0
        self._active.add(key)
        total = 0
        for sel in selection_set.selections:
            self.visited += 1
            if isinstance(sel, FieldNode):
                total += self._field(obj, sel, snap)
            elif isinstance(sel, InlineFragmentNode):
                condition = sel.type_condition.name.value if sel.type_condition else None
                if self._applies(condition, obj):
                    total += self._unit(sel.selection_set, obj, snap)
            elif isinstance(sel, FragmentSpreadNode):
                fragment = self.fragments.get(sel.name.value)
                if fragment is not None and self._applies(fragment.type_condition.name.value, obj):
                    total += self._unit(fragment.selection_set, obj, snap)
        self._active.discard(key)
        self._memo[key] = total
        return total

    def _applies(self, condition: str | None, obj: GraphQLObjectType) -> bool:
        """Whether a fragment on ``condition`` applies to an object of type ``obj``."""
        if condition is None or condition == obj.name:
            return True
        named = self.schema.get_type(condition)
        return isinstance(named, _ABSTRACT) and self.schema.is_sub_type(named, obj)

    def _on(
        self, selection_set: SelectionSetNode | None, named: GraphQLNamedType, snap: bool = False
    ) -> int:
        """A field's sub-selection on its (named) type, per parent: the worst concrete type."""
        if selection_set is None:
            return 0
        if isinstance(named, GraphQLObjectType):
            return self._unit(selection_set, named, snap)
        if isinstance(named, _ABSTRACT):
            possible = self.schema.get_possible_types(named)
            return max((self._unit(selection_set, t, snap) for t in possible), default=0)
        return 0

    # --- fields ----------------------------------------------------------------------

    def _field(self, parent: GraphQLObjectType, node: FieldNode, snap: bool) -> int:
        field = parent.fields.get(node.name.value)
        if field is None:  # __typename and other meta fields
            return 0
        price = self.prices.get((parent.name, node.name.value), FREE)
        named = get_named_type(field.type)
        kind = price.kind
        if kind is PriceKind.CONNECTION:
            page = self._page_size(field, node)
            return price.requests + page * self._on(node.selection_set, named)
        if kind is PriceKind.NODE:
            return self._by_ids([self._arg(field, node, "id")], node.selection_set)
        if kind is PriceKind.NODES:
            ids = self._arg(field, node, "ids")
            return self._by_ids(ids if isinstance(ids, list) else [ids], node.selection_set)
        if kind is PriceKind.ENTITIES:
            # What nodes(ids:) of the same objects costs (a wrong one: null, no request).
            given = self._arg(field, node, "representations")
            if representations_problem(given) is not None:
                return 0  # refused as BAD_USER_INPUT (``spaces_graphql/subgraph.py``)
            return self._by_types([entity_node(r) for r in given], node.selection_set)
        own = price.requests if snap or not price.if_snapshot else 0
        # What a field answers is a whole upstream object (embedded whole, or fetched),
        # except an event's snapshot.
        return own + self._on(node.selection_set, named, price.snapshot)

    def _by_ids(self, ids: Iterable[Any], selection_set: SelectionSetNode | None) -> int:
        """``node``/``nodes``: each ID's lookup plus the selection on the type it names."""
        return self._by_types([default_node_type(value) for value in ids], selection_set)

    def _by_types(self, types: Iterable[str | None], selection_set: SelectionSetNode | None) -> int:
        """Each object's lookup (by its node type) plus the selection on that type."""
        total = 0
        for type_name in types:
            if type_name is None:  # not a global ID: refused without an upstream call
                continue
            obj = self.schema.get_type(self.graphql_name(type_name))
            if not isinstance(obj, GraphQLObjectType):
                continue
            # A decoded global ID names a declared resource: its declared lookup price.
            total += LOOKUP_BY_TYPE[type_name]
            if selection_set is not None:
                total += self._unit(selection_set, obj, False)
        return total

    def _page_size(self, field: GraphQLField, node: FieldNode) -> int:
        sizes = [self._arg(field, node, name) for name in ("first", "last")]
        given = [s for s in sizes if isinstance(s, int) and not isinstance(s, bool) and s > 0]
        # Above the upstream's limit the connection is refused before its request.
        return min(max(given), MAX_PAGE) if given else DEFAULT_PAGE

    def _arg(self, field: GraphQLField, node: FieldNode, name: str) -> Any:
        definition = field.args.get(name)
        if definition is None:
            return None
        for arg in node.arguments or ():
            if arg.name.value != name:
                continue
            if isinstance(arg.value, VariableNode):
                return self.variables.get(arg.value.name.value, definition.default_value)
            return value_from_ast(arg.value, definition.type, self.variables)
        return definition.default_value


def unpriced_fields(
    schema: GraphQLSchema, prices: Mapping[tuple[str, str], Price] = PRICES
) -> list[str]:
    """Fields with a resolver but no declared price, and prices of fields that do not exist.

    A field with a resolver may reach upstream; a plain attribute cannot (it reads
    the parent's record). Both lists must be empty: no field is silently free.
    """
    problems: list[str] = []
    for type_name, named in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        for field_name, field in named.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            if resolver is not None and (type_name, field_name) not in prices:
                problems.append(f"{type_name}.{field_name} has a resolver but no price")
    for type_name, field_name in prices:
        declared = schema.get_type(type_name)
        if not isinstance(declared, GraphQLObjectType) or field_name not in declared.fields:
            problems.append(f"{type_name}.{field_name} is priced but not in the schema")
    return problems
