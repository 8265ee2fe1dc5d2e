"""Argument checks over a whole operation, before any field of it runs.

Execution judges arguments field by field, so a refused argument used to
null only its own field while the operation's other fields had already
called upstream. Pre-flight walks the operation once (each fragment once,
whatever the number of spreads: linear in the document) and refuses the
request when any field's arguments would be refused: Relay arguments and
cursors on every connection, ``nodes(ids:)``'s length, and the IDs of
``node``/``nodes``/``space``/``customer``/``invoice``. The rules are the ones
execution applies (``resolvers/pagination.py``, ``graph/lookup.py``), called
here on the coerced values; execution keeps them as a second line. A cursor's
scope is checked against the field's own declaration (``graph/connection.py``:
what it lists, with which filters), so no table here has to know the connections.

Mutation inputs are left to their mutations: a bad input ``id`` is a
``userErrors`` entry there, as the README documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values

from graph.connection import RELAY_ARGUMENTS, declared_connections, listing_of
from graph.lookup import MAX_NODES, customer_key, invoice_key, node_key, space_key
from resolvers.errors import BadUserInput
from resolvers.pagination import check_relay_args, parse_cursor

#: Errors reported per operation (the README's limit on reported errors).
MAX_ERRORS = 5

#: Lookups whose ``id`` must name an upstream object.
ID_LOOKUPS: Mapping[str, Callable[[str, str], object]] = {
    "node": node_key,
    "space": space_key,
    "customer": customer_key,
    "invoice": invoice_key,
}

_Path = tuple[str | int, ...]
_Task = tuple[GraphQLNamedType, SelectionSetNode, _Path]


def scope_shape(scope: str) -> str:
    """``scope`` with its IDs (odd path segments, filter values) replaced by ``*``."""
    path, _, query = scope.partition("?")
    shaped = "/".join("*" if i % 2 else part for i, part in enumerate(path.split("/")))
    if query:
        shaped += "?" + "&".join(part.partition("=")[0] + "=*" for part in query.split("&"))
    return shaped


def connection_scopes(
    schema: GraphQLSchema,
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """The cursor scopes pre-flight checks, as tables: derived from the declarations.

    Root connections (``Query``'s) and the exact scope of their cursors without
    extra arguments; every other connection and the shape of its scopes (the
    parent's values as ``*``): which parent a cursor came from is known only at
    execution, which checks it. The check itself reads each field's declaration
    (``graph.connection.listing_of``); the tables are for tests and readers.
    """
    query = schema.query_type.name if schema.query_type else None
    roots: dict[str, str] = {}
    nested: dict[tuple[str, str], str] = {}
    for (type_name, name), listing in declared_connections(schema).items():
        scope = listing.scope_for({})
        if type_name == query:
            roots[name] = scope
        else:
            nested[(type_name, name)] = scope_shape(scope)
    return roots, nested


def argument_errors(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> list[GraphQLError]:
    """Every argument of ``operation`` that execution would refuse (at most 5 errors).

    ``variables`` are the coerced variable values. Each error carries
    ``extensions.code = "BAD_USER_INPUT"``, the field's location and its path
    (response keys; list indices are unknown before execution, except an
    ``ids`` entry's), and names the argument, never its value.
    """
    return _Walk(schema, fragments, variables).run(operation)


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = VariableValues(sources={}, coerced=dict(variables))
        self.errors: list[GraphQLError] = []

    def run(self, operation: OperationDefinitionNode) -> list[GraphQLError]:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return []
        visited: set[str] = set()
        # An explicit stack, children pushed in reverse: document order, no recursion.
        stack: list[_Task] = [(root, operation.selection_set, ())]
        while stack and len(self.errors) < MAX_ERRORS:
            parent, selection_set, path = stack.pop()
            tasks: list[_Task] = []
            for sel in selection_set.selections:
                if sel.directives and not self._included(sel):
                    continue
                if isinstance(sel, FieldNode):
                    # A leaf without arguments (most fields) has nothing to judge.
                    if sel.arguments or sel.selection_set is not None:
                        tasks.extend(self._field(parent, sel, path))
                elif isinstance(sel, InlineFragmentNode):
                    cond = sel.type_condition
                    target = self.schema.get_type(cond.name.value) if cond else parent
                    if target is not None:
                        tasks.append((target, sel.selection_set, path))
                elif isinstance(sel, FragmentSpreadNode):
                    name = sel.name.value
                    fragment = self.fragments.get(name)
                    # A fragment's arguments do not depend on where it is spread: once is enough.
                    if fragment is None or name in visited:
                        continue
                    visited.add(name)
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    if target is not None:
                        tasks.append((target, fragment.selection_set, path))
            stack.extend(reversed(tasks))
        return self.errors[:MAX_ERRORS]

    def _included(self, sel: SelectionNode) -> bool:
        """@skip/@include, as execution reads them: a skipped field is not judged."""
        if not isinstance(sel, FieldNode | InlineFragmentNode | FragmentSpreadNode):
            return True
        try:
            skip = get_directive_values(GraphQLSkipDirective, sel, self.variables)
            include = get_directive_values(GraphQLIncludeDirective, sel, self.variables)
        except GraphQLError:
            return True
        return not (skip and skip["if"]) and not (include and not include["if"])

    def _field(self, parent: GraphQLNamedType, node: FieldNode, path: _Path) -> list[_Task]:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return []  # a union's only field is __typename
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return []
        here = (*path, (node.alias or node.name).value)
        # No argument given, nothing to refuse: every judged argument defaults to null
        # (or is required, so always given).
        if node.arguments:
            self._arguments(parent.name, definition, node, here)
        if node.selection_set is None:
            return []
        return [(get_named_type(definition.type), node.selection_set, here)]

    def _arguments(
        self, parent: str, definition: GraphQLField, node: FieldNode, path: _Path
    ) -> None:
        name = node.name.value
        relay = all(arg in definition.args for arg in RELAY_ARGUMENTS)
        lookup = ID_LOOKUPS.get(name) if parent == "Query" else None
        nodes = parent == "Query" and name == "nodes"
        if not (relay or lookup or nodes):
            return
        args = self._plain(node) if relay else None
        if args is None:
            try:
                args = get_argument_values(definition, node, self.variables)
            except GraphQLError:
                return  # validation's business; execution reports it the same way
        try:
            if relay:
                self._relay(definition, args)
            elif lookup is not None and isinstance(args.get("id"), str):
                lookup(args["id"], "id")
        except BadUserInput as exc:
            self._report(exc, node, path)
        if nodes:
            self._ids(args.get("ids"), node, path)

    def _plain(self, node: FieldNode) -> dict[str, Any] | None:
        """Relay arguments read straight off the document; None when coercion must decide.

        A shortcut for the common case (``first: 20``, ``after: $cursor``): on a
        typical operation it halves pre-flight's time. Validation has already
        checked the literals' types, and variables arrive coerced.
        """
        args: dict[str, Any] = {}
        for arg in node.arguments or ():
            name, value = arg.name.value, arg.value
            if name not in RELAY_ARGUMENTS:
                return None
            if isinstance(value, VariableNode):
                args[name] = self.variables.coerced.get(value.name.value)
            elif isinstance(value, IntValueNode):
                args[name] = int(value.value)
            elif isinstance(value, StringValueNode):
                args[name] = value.value
            elif isinstance(value, NullValueNode):
                args[name] = None
            else:
                return None
        return args

    def _relay(self, definition: GraphQLField, args: Mapping[str, Any]) -> None:
        first, after, last, before = (args.get(arg) for arg in RELAY_ARGUMENTS)
        check_relay_args(first, after, last, before)
        listing = listing_of(definition)
        for argument, cursor in (("after", after), ("before", before)):
            if cursor is None:
                continue
            scope, _ = parse_cursor(cursor, argument)
            if listing is None:
                continue  # not a declared connection: nothing to compare with
            # A nested connection's scope holds its parent's IDs, known only at execution.
            expected = listing.scope_for(args)
            if listing.nested:
                scope, expected = scope_shape(scope), scope_shape(expected)
            if scope != expected:
                raise BadUserInput(
                    f"`{argument}` is a cursor from another connection", argument=argument
                )

    def _ids(self, ids: Any, node: FieldNode, path: _Path) -> None:
        if not isinstance(ids, list):
            return
        if len(ids) > MAX_NODES:
            error = BadUserInput(f"`ids` takes at most {MAX_NODES} IDs", argument="ids")
            self._report(error, node, path)
            return
        for index, value in enumerate(ids):
            if len(self.errors) >= MAX_ERRORS:
                return
            try:
                node_key(value, "ids")
            except BadUserInput as exc:
                self._report(exc, node, (*path, index))

    def _report(self, exc: BadUserInput, node: FieldNode, path: _Path) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(
                GraphQLError(exc.message, nodes=node, path=list(path), extensions=exc.extensions)
            )
