"""Everything decided about a GraphQL request before it runs, and before any upstream call.

Parse (with a token limit), validate (the spec's rules plus depth, alias,
directive and duplicate-field limits; at most 5 errors; no introspection and
no "did you mean" suggestions in production), pick the operation, coerce the
variables, and price the operation. Documents and validation outcomes are
cached: clients send the same few operations over and over.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import DirectiveNode, FragmentSpreadNode, InlineFragmentNode
from graphql.validation import NoSchemaIntrospectionCustomRule

from spaces_graphql.cost import CostCalculator


@dataclass(frozen=True, slots=True)
class Limits:
    """Abuse limits (defaults as documented in the README)."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 50
    max_errors: int = 5
    max_cost: int = 250
    max_field_repeats: int = 10
    introspection: bool = True
    suggestions: bool = True


class RequestError(Exception):
    """A request refused before execution: no ``data`` entry in the answer."""

    def __init__(self, errors: list[GraphQLError], code: str = "GRAPHQL_VALIDATION_FAILED"):
        super().__init__(errors[0].message if errors else code)
        self.errors = errors
        self.code = code


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to execute."""

    document: DocumentNode
    operation: OperationDefinitionNode
    operation_type: OperationType
    operation_name: str | None
    variables: dict[str, Any]
    cost: int


def _error(message: str, code: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extra})


# --- limit rules ------------------------------------------------------------------


def _limit_rule(limits: Limits) -> type[ASTValidationRule]:
    class LimitsRule(ASTValidationRule):
        """Depth, aliases, directives and repeated fields, counted over the whole document."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            doc = context.document
            fragments = {
                d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)
            }
            aliases = directives = 0
            for node in _walk(doc):
                if isinstance(node, FieldNode) and node.alias is not None:
                    aliases += 1
                if isinstance(node, DirectiveNode):
                    directives += 1
                if isinstance(node, SelectionSetNode):
                    self._repeats(node)
            if aliases > limits.max_aliases:
                self._too_complex(
                    f"the document uses {aliases} aliases; the limit is {limits.max_aliases}"
                )
            if directives > limits.max_directives:
                self._too_complex(
                    f"the document uses {directives} directives; the limit is {limits.max_directives}"
                )
            for d in doc.definitions:
                if isinstance(d, OperationDefinitionNode):
                    depth = _depth(d.selection_set, fragments, frozenset())
                    if depth > limits.max_depth:
                        self._too_complex(
                            f"the operation nests {depth} levels deep; the limit is {limits.max_depth}"
                        )

        def _repeats(self, selection_set: SelectionSetNode) -> None:
            counts: dict[str, int] = {}
            for sel in selection_set.selections:
                if isinstance(sel, FieldNode):
                    key = (sel.alias or sel.name).value
                    counts[key] = counts.get(key, 0) + 1
            worst = max(counts.values(), default=0)
            if worst > limits.max_field_repeats:
                self._too_complex(
                    f"a field is selected {worst} times in one selection set; the limit is "
                    f"{limits.max_field_repeats}"
                )

        def _too_complex(self, message: str) -> None:
            self.report_error(_error(message, "QUERY_TOO_COMPLEX"))

    return LimitsRule


def _walk(node: Any) -> Any:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for key in current.keys:
            value = getattr(current, key, None)
            if isinstance(value, tuple | list):
                stack.extend(v for v in value if hasattr(v, "keys"))
            elif hasattr(value, "keys") and not isinstance(value, str | dict):
                stack.append(value)


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value.startswith("__") and sel.selection_set is None:
                continue
            deepest = max(deepest, 1 + _depth(sel.selection_set, fragments, seen))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, _depth(sel.selection_set, fragments, seen))
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                deepest = max(deepest, _depth(fragment.selection_set, fragments, seen | {name}))
    return deepest


# --- the pipeline -----------------------------------------------------------------


class Preflight:
    """Parse, validate, select, coerce, price: one instance per schema and profile."""

    def __init__(self, schema: GraphQLSchema, limits: Limits) -> None:
        self.schema = schema
        self.limits = limits
        rules = [*specified_rules, _limit_rule(limits)]
        if not limits.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules = tuple(rules)
        self._parse = functools.lru_cache(maxsize=1024)(self._parse_uncached)
        self._validate = functools.lru_cache(maxsize=1024)(self._validate_uncached)

    def _parse_uncached(self, query: str) -> DocumentNode | GraphQLError:
        try:
            return parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLError as exc:
            if "more than" in exc.message and "tokens" in exc.message:
                return _error(
                    f"the document has more than {self.limits.max_tokens} tokens",
                    "QUERY_TOO_COMPLEX",
                )
            return _error(exc.message, "GRAPHQL_PARSE_FAILED", locations=_locs(exc))

    def _validate_uncached(self, query: str) -> tuple[DocumentNode, tuple[GraphQLError, ...]]:
        document = self._parse(query)
        if isinstance(document, GraphQLError):
            raise RequestError([document], str((document.extensions or {}).get("code")))
        errors = validate(
            self.schema,
            document,
            self.rules,
            max_errors=self.limits.max_errors,
            hide_suggestions=not self.limits.suggestions,
        )
        return document, tuple(errors)

    def document(self, query: str) -> DocumentNode:
        """The parsed, validated document (cached); raises :class:`RequestError`."""
        document, errors = self._validate(query)
        if errors:
            coded = [
                e if (e.extensions or {}).get("code") else _recode(e, "GRAPHQL_VALIDATION_FAILED")
                for e in errors
            ]
            code = str((coded[0].extensions or {}).get("code"))
            raise RequestError(coded, code)
        return document

    def prepare(
        self, query: str, variables: Mapping[str, Any] | None, operation_name: str | None
    ) -> Prepared:
        """Run the whole pre-flight; raises :class:`RequestError` on the first failing step."""
        document = self.document(query)
        operation = _select(document, operation_name)
        coerced = get_variable_values(
            self.schema,
            operation.variable_definitions or (),
            dict(variables or {}),
            max_errors=self.limits.max_errors,
            hide_suggestions=not self.limits.suggestions,
        )
        if isinstance(coerced, list):
            raise RequestError([_recode(e, "BAD_USER_INPUT") for e in coerced], "BAD_USER_INPUT")
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        cost = CostCalculator(self.schema, fragments, coerced.coerced).operation(operation)
        if cost > self.limits.max_cost:
            raise RequestError(
                [
                    _error(
                        f"the operation may cost {cost} upstream requests; the limit is "
                        f"{self.limits.max_cost}. Ask for smaller pages or fewer nested lists.",
                        "QUERY_TOO_COMPLEX",
                        cost=cost,
                        maxCost=self.limits.max_cost,
                    )
                ],
                "QUERY_TOO_COMPLEX",
            )
        return Prepared(
            document=document,
            operation=operation,
            operation_type=operation.operation,
            operation_name=operation.name.value if operation.name else operation_name,
            variables=coerced.coerced,
            cost=cost,
        )


def _locs(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or ()]


def _recode(error: GraphQLError, code: str) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        extensions={**(error.extensions or {}), "code": code},
    )


def _select(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) != 1:
            raise RequestError(
                [
                    _error(
                        "the document has several operations: send `operationName`", "BAD_REQUEST"
                    )
                ],
                "BAD_REQUEST",
            )
        return operations[0]
    for op in operations:
        if op.name is not None and op.name.value == name:
            return op
    raise RequestError(
        [_error(f"the document has no operation named {name!r}", "BAD_REQUEST")], "BAD_REQUEST"
    )
