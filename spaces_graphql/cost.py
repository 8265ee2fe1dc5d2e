"""Cost before execution, the GitHub way: worst-case upstream requests.

Every connection costs one upstream request per parent object and multiplies
what is nested under its nodes by its page size (``first``/``last``, else 20).
A lookup (``node``, ``customer(id:)``, ``Invoice.subscription`` …) costs one
request per parent (two for types the upstream only lists). Objects the
upstream embeds (a customer's Space, an invoice's customer) cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast,
)

from resolvers.pagination import DEFAULT_PAGE

#: Fields that fetch one object per parent: (parent type, field) -> requests.
LOOKUPS: Mapping[tuple[str, str], int] = {
    ("Query", "node"): 2,
    ("Query", "viewer"): 1,
    ("Query", "space"): 1,
    ("Query", "customer"): 1,
    ("Query", "invoice"): 1,
    ("Invoice", "subscription"): 1,
}
#: Mutations: one upstream write each (plus what their payload selects).
MUTATION_FIELD_COST = 1


def _page_size(args: Mapping[str, Any]) -> int:
    for name in ("first", "last"):
        value = args.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_PAGE


class CostCalculator:
    """Computes an operation's worst-case upstream request count."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def operation(self, op: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(op.operation)
        if root is None:
            return 0
        per_field = MUTATION_FIELD_COST if op.operation.value == "mutation" else 0
        return self._selection(root, op.selection_set, 1, per_field, frozenset())

    def _args(self, parent: GraphQLObjectType, node: FieldNode) -> dict[str, Any]:
        field = parent.fields.get(node.name.value)
        out: dict[str, Any] = {}
        if field is None:
            return out
        for arg in node.arguments or ():
            definition = field.args.get(arg.name.value)
            if definition is None:
                continue
            if isinstance(arg.value, VariableNode):
                out[arg.name.value] = self.variables.get(arg.value.name.value)
            else:
                out[arg.name.value] = value_from_ast(
                    arg.value, definition.type, dict(self.variables)
                )
        return out

    def _selection(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode | None,
        multiplier: int,
        per_field: int,
        seen: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total += self._field(parent, sel, multiplier, per_field, seen)
            elif isinstance(sel, InlineFragmentNode):
                target = self._narrow(
                    parent, sel.type_condition.name.value if sel.type_condition else None
                )
                total += self._selection(target, sel.selection_set, multiplier, per_field, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # validation rejects cycles anyway
                    continue
                target = self._narrow(parent, fragment.type_condition.name.value)
                total += self._selection(
                    target, fragment.selection_set, multiplier, per_field, seen | {name}
                )
        return total

    def _narrow(self, parent: GraphQLObjectType, type_name: str | None) -> GraphQLObjectType:
        if type_name is None:
            return parent
        named = self.schema.get_type(type_name)
        # Abstract conditions keep the parent's cost model (fields are looked up by name).
        return named if isinstance(named, GraphQLObjectType) else parent

    def _field(
        self,
        parent: GraphQLObjectType,
        node: FieldNode,
        multiplier: int,
        per_field: int,
        seen: frozenset[str],
    ) -> int:
        name = node.name.value
        field = parent.fields.get(name)
        if field is None:
            return 0
        named = get_named_type(field.type)
        args = self._args(parent, node)
        cost = multiplier * per_field
        child_multiplier = multiplier
        if named.name.endswith("Connection"):
            cost += multiplier
            child_multiplier = multiplier * _page_size(args)
        elif (parent.name, name) in LOOKUPS:
            cost += multiplier * LOOKUPS[(parent.name, name)]
        elif parent.name == "Query" and name == "nodes":
            ids = args.get("ids") or []
            cost += multiplier * 2 * (len(ids) if isinstance(ids, list) else 1)
            child_multiplier = multiplier * max(1, len(ids) if isinstance(ids, list) else 1)
        if isinstance(named, GraphQLObjectType) or node.selection_set:
            target = named if isinstance(named, GraphQLObjectType) else parent
            # Unions and interfaces: narrow per fragment; unknown fields cost nothing.
            if not isinstance(named, GraphQLObjectType):
                cost += self._abstract(node.selection_set, child_multiplier, seen)
            else:
                cost += self._selection(target, node.selection_set, child_multiplier, 0, seen)
        return cost

    def _abstract(
        self, selection_set: SelectionSetNode | None, multiplier: int, seen: frozenset[str]
    ) -> int:
        """Selections on a union/interface: the most expensive member counts."""
        if selection_set is None:
            return 0
        worst = 0
        for sel in selection_set.selections:
            if isinstance(sel, InlineFragmentNode) and sel.type_condition is not None:
                target = self.schema.get_type(sel.type_condition.name.value)
                if isinstance(target, GraphQLObjectType):
                    worst = max(
                        worst, self._selection(target, sel.selection_set, multiplier, 0, seen)
                    )
            elif isinstance(sel, FragmentSpreadNode):
                fragment = self.fragments.get(sel.name.value)
                if fragment is None or sel.name.value in seen:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                if isinstance(target, GraphQLObjectType):
                    worst = max(
                        worst,
                        self._selection(
                            target, fragment.selection_set, multiplier, 0, seen | {sel.name.value}
                        ),
                    )
        return worst
