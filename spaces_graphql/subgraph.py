"""Federation at the pipeline: who may read ``_service``, and ``_entities``' list.

The pipeline (``spaces_graphql/pipeline.py``) asks these before any execution and
any upstream call, on every transport (docs/federation.md):

- ``_service { sdl }`` is the subgraph's schema, for a gateway. With
  ``federation_secret`` set, it answers only a request whose ``X-Federation-Secret``
  header is that secret (compared in constant time), in every profile; without
  one, only in the development profile (production composes offline, from
  ``spaces-graphql schema --federation``). An operation made only of ``_service``
  (and ``__typename``) needs no access token: gateways fetch the SDL without a
  user's token, and it makes no upstream call.
- ``_entities(representations:)`` takes a list of at most ``MAX_NODES`` objects
  with a ``__typename``; another shape is ``BAD_USER_INPUT`` here, with zero
  upstream requests (each item is then judged by the resolver: null if wrong).

Only the subgraph schema has these fields; on the plain schema validation refuses
them before these checks run.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    value_from_ast_untyped,
)

from graph.federation import representations_problem
from resolvers.errors import ErrorCode
from spaces_graphql.preflight import Prepared, fragments_of
from spaces_graphql.settings import Settings

#: The header a gateway sends the federation secret in (``Settings.federation_secret``).
SECRET_HEADER = "X-Federation-Secret"
SERVICE = "_service"
ENTITIES = "_entities"
#: What refuses ``_service``: the code validation gives introspection in production
#: (it is the federation way to read the schema).
SERVICE_REFUSED = ErrorCode.GRAPHQL_VALIDATION_FAILED


def root_fields(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The operation's root fields, through inline fragments and fragment spreads."""
    seen: set[str] = set()
    stack: list[SelectionSetNode] = [operation.selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    stack.append(fragment.selection_set)


def query_roots(prepared: Prepared) -> list[FieldNode]:
    """A query's root fields (none for a mutation or subscription): what the checks read."""
    if prepared.operation_type is not OperationType.QUERY:
        return []
    return list(root_fields(prepared.operation, fragments_of(prepared.document)))


def selects_service(roots: list[FieldNode]) -> bool:
    """Whether the query reads ``_service`` (anywhere at its root)."""
    return any(f.name.value == SERVICE for f in roots)


def service_only(roots: list[FieldNode]) -> bool:
    """Whether the query is of ``_service`` (and ``__typename``) only."""
    names = {f.name.value for f in roots}
    return SERVICE in names and names <= {SERVICE, "__typename"}


def service_refusal(settings: Settings, headers: Mapping[str, str]) -> str | None:
    """Why ``_service`` is refused to a request with ``headers``; ``None``: allowed."""
    secret = settings.federation_secret
    if secret:
        sent = headers.get(SECRET_HEADER.lower()) or headers.get(SECRET_HEADER) or ""
        # Constant time: the comparison says nothing about how much of the secret matched.
        if hmac.compare_digest(sent.encode(), secret.encode()):
            return None
        return f"`{SERVICE}` needs this subgraph's `{SECRET_HEADER}` header"
    if settings.development:
        return None
    return (
        f"`{SERVICE}` is closed in production without a federation secret: set "
        "SPACES_GRAPHQL_FEDERATION_SECRET for the gateway, or compose offline from "
        "`spaces-graphql schema --federation`"
    )


def representation_errors(
    roots: list[FieldNode], variables: Mapping[str, Any]
) -> list[GraphQLError]:
    """``BAD_USER_INPUT`` for each ``_entities`` field whose list is not well formed."""
    errors: list[GraphQLError] = []
    for node in roots:
        if node.name.value != ENTITIES:
            continue
        value = _argument(node, "representations", variables)
        problem = representations_problem(value)
        if problem is not None:
            errors.append(
                GraphQLError(
                    problem,
                    nodes=[node],
                    extensions={
                        "code": ErrorCode.BAD_USER_INPUT.value,
                        "argument": "representations",
                    },
                )
            )
    return errors


def _argument(node: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    for argument in node.arguments or ():
        if argument.name.value == name:
            if isinstance(argument.value, VariableNode):
                return variables.get(argument.value.name.value)
            # ``_Any`` takes any literal as it is written (Strawberry's scalar).
            return value_from_ast_untyped(argument.value, dict(variables))
    return None
