"""Everything decided about a GraphQL request before it runs, and before any upstream call.

Parse (with a token limit); measure the document's shape in one linear pass
(depth, aliases, directives, repeated fields, fields with fragments expanded:
``spaces_graphql/shape.py``) and refuse it there, before the spec's validation
rules, some of which are super-linear, ever see it; validate (at most 5
errors; no introspection and no "did you mean" suggestions in production);
pick the operation, coerce the variables, check the arguments, and price the
operation (``spaces_graphql/cost.py``). Outcomes of small documents are cached
in a byte-bounded LRU: clients send the same few operations over and over, and
a cache of whole large documents would be a memory sink for anyone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.validation import NoSchemaIntrospectionCustomRule

from resolvers.errors import ErrorCode
from spaces_graphql.arguments import argument_errors
from spaces_graphql.cost import CostCalculator
from spaces_graphql.shape import Shape, measure


@dataclass(frozen=True, slots=True)
class Limits:
    """Abuse limits and cache budgets (defaults as documented in the README)."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 50
    max_errors: int = 5
    max_cost: int = 250
    max_field_repeats: int = 10
    #: Fields of one response name merged into one selection set through its fragments:
    #: the spec's field-merging rule compares them pairwise (quadratic time).
    max_merged_fields: int = 30
    #: Field selections an operation may have with every fragment spread written out:
    #: fragments are for reuse, not for amplifying a short document.
    max_fields: int = 2000
    introspection: bool = True
    suggestions: bool = True
    #: Query text longer than this (UTF-8 bytes) is parsed and validated but not cached.
    cache_entry_bytes: int = 4096
    #: What the document cache may hold, in estimated bytes of parsed documents (LRU).
    cache_bytes: int = 8 * 1024 * 1024


class RequestError(Exception):
    """A request refused before execution: no ``data`` entry in the answer."""

    def __init__(self, errors: list[GraphQLError], code: str = ErrorCode.GRAPHQL_VALIDATION_FAILED):
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
    #: AST selections pre-flight looked at for this request (0 of them for a cached shape).
    work: int = 0


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """The document's fragment definitions by name."""
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _error(message: str, code: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extra})


def _code(error: GraphQLError) -> str:
    return str((error.extensions or {}).get("code"))


# --- the document cache -------------------------------------------------------------

#: A checked document: the document (``None`` if it did not parse) and its errors.
Checked = tuple[DocumentNode | None, tuple[GraphQLError, ...]]

#: Bytes a parsed document holds per byte of its text (nodes, locations, the token
#: list they keep): measured with tracemalloc at 113-117 on dense and typical queries.
AST_BYTES_PER_TEXT_BYTE = 128
_ENTRY_OVERHEAD = 512
#: Verdicts (coerced variables, arguments checked, cost) kept per cached document, and the
#: largest variables (as JSON) whose verdict is kept: clients repeat a few small variable
#: sets, and each verdict is charged to its document, so eviction drops them together.
VERDICTS_PER_DOCUMENT = 8
VERDICT_VARIABLES_BYTES = 512

#: What a verdict is keyed by within its document: the operation's name, the variables.
VerdictKey = tuple[str | None, bytes]


@dataclass(slots=True)
class _Entry:
    checked: Checked
    charged: int
    verdicts: dict[VerdictKey, Prepared] = field(default_factory=dict)


class DocumentCache:
    """Query text -> :data:`Checked`, least recently used first out, bounded by bytes.

    Each entry is charged an estimate of what it keeps alive (its text and its
    parsed document); texts over ``entry_bytes`` are never stored, so one
    large document can neither evict the working set nor stay resident.
    """

    def __init__(self, entry_bytes: int, total_bytes: int) -> None:
        self.entry_bytes = entry_bytes
        self.total_bytes = total_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, query: str) -> Checked | None:
        """The cached outcome for ``query``, now the most recently used; else ``None``."""
        entry = self._entries.get(query)
        if entry is None:
            return None
        self._entries.move_to_end(query)
        return entry.checked

    def verdict(self, query: str, key: VerdictKey) -> Prepared | None:
        """The verdict remembered for ``query`` run with ``key``, if any."""
        entry = self._entries.get(query)
        return None if entry is None else entry.verdicts.get(key)

    def remember(self, query: str, key: VerdictKey, prepared: Prepared) -> None:
        """Keep ``prepared`` with its (cached) document, at most a few per document."""
        entry = self._entries.get(query)
        if entry is not None and len(entry.verdicts) < VERDICTS_PER_DOCUMENT:
            entry.verdicts[key] = prepared

    def put(self, query: str, checked: Checked) -> None:
        """Remember ``checked`` unless the text is too large; evict down to the budget."""
        # len() first: most texts are ASCII, and a huge one need not be encoded to be refused.
        if len(query) > self.entry_bytes:
            return
        size = len(query.encode())
        if size > self.entry_bytes or query in self._entries:
            return
        # Each entry is also charged for the verdicts it may hold (small variables each).
        charged = (
            size * (AST_BYTES_PER_TEXT_BYTE + 1)
            + _ENTRY_OVERHEAD
            + VERDICTS_PER_DOCUMENT * (VERDICT_VARIABLES_BYTES + _ENTRY_OVERHEAD)
        )
        if charged > self.total_bytes:
            return
        self._entries[query] = _Entry(checked, charged)
        self.bytes += charged
        while self.bytes > self.total_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.charged


# --- the pipeline -------------------------------------------------------------------


class Preflight:
    """Parse, measure, validate, select, coerce, check, price: one per schema and profile."""

    def __init__(self, schema: GraphQLSchema, limits: Limits) -> None:
        self.schema = schema
        self.limits = limits
        rules = list(specified_rules)
        if not limits.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules = tuple(rules)
        self.cache = DocumentCache(limits.cache_entry_bytes, limits.cache_bytes)
        #: AST selections looked at by every pre-flight so far (shape and cost walks):
        #: tests assert the work a document causes, not the time it takes.
        self.nodes_visited = 0

    def _parse(self, query: str) -> DocumentNode | GraphQLError:
        try:
            return parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLError as exc:
            if "more than" in exc.message and "tokens" in exc.message:
                return _error(
                    f"the document has more than {self.limits.max_tokens} tokens",
                    ErrorCode.QUERY_TOO_COMPLEX,
                )
            return _error(exc.message, ErrorCode.GRAPHQL_PARSE_FAILED, locations=_locs(exc))

    def _check(self, query: str) -> Checked:
        document = self._parse(query)
        if isinstance(document, GraphQLError):
            return None, (document,)
        shape = measure(
            document, cap=max(self.limits.max_fields, self.limits.max_merged_fields) + 1
        )
        self.nodes_visited += shape.visited
        refusals = self._shape_errors(shape)
        if refusals:  # the spec's rules never run on a document refused for its shape
            return document, tuple(refusals)
        errors = validate(
            self.schema,
            document,
            self.rules,
            max_errors=self.limits.max_errors,
            hide_suggestions=not self.limits.suggestions,
        )
        return document, tuple(
            e
            if (e.extensions or {}).get("code")
            else _recode(e, ErrorCode.GRAPHQL_VALIDATION_FAILED)
            for e in errors
        )

    def _shape_errors(self, shape: Shape) -> list[GraphQLError]:
        lim = self.limits
        found: list[str] = []
        if shape.aliases > lim.max_aliases:
            found.append(
                f"the document uses {shape.aliases} aliases; the limit is {lim.max_aliases}"
            )
        if shape.directives > lim.max_directives:
            found.append(
                f"the document uses {shape.directives} directives; the limit is "
                f"{lim.max_directives}"
            )
        if shape.repeats > lim.max_field_repeats:
            found.append(
                f"a field is selected {shape.repeats} times in one selection set; the limit is "
                f"{lim.max_field_repeats}"
            )
        if shape.depth > lim.max_depth:
            found.append(
                f"the operation nests {shape.depth} levels deep; the limit is {lim.max_depth}"
            )
        if shape.fields > lim.max_fields:
            found.append(
                f"the operation selects more than {lim.max_fields} fields with its fragments "
                "expanded; spread fewer fragments in fewer places"
            )
        if shape.merged > lim.max_merged_fields:
            found.append(
                f"a selection set merges {shape.merged} fields of one name from its fragments; "
                f"the limit is {lim.max_merged_fields}"
            )
        return [_error(message, ErrorCode.QUERY_TOO_COMPLEX) for message in found[: lim.max_errors]]

    def document(self, query: str) -> DocumentNode:
        """The parsed, validated document (cached); raises :class:`RequestError`."""
        checked = self.cache.get(query)
        if checked is None:
            checked = self._check(query)
            self.cache.put(query, checked)
        document, errors = checked
        if errors or document is None:
            raise RequestError(list(errors), _code(errors[0]) if errors else ErrorCode.BAD_REQUEST)
        return document

    def prepare(
        self, query: str, variables: Mapping[str, Any] | None, operation_name: str | None
    ) -> Prepared:
        """Run the whole pre-flight; raises :class:`RequestError` on the first failing step.

        A document run again with the same small variables and operation name gets the
        verdict it got before (coercion, the argument checks and the cost are pure
        functions of those), without walking it again; refusals are not remembered.
        """
        visited_before = self.nodes_visited
        document = self.document(query)
        key = _verdict_key(operation_name, variables)
        if key is not None and (known := self.cache.verdict(query, key)) is not None:
            return known
        operation = _select(document, operation_name)
        coerced = get_variable_values(
            self.schema,
            operation.variable_definitions or (),
            dict(variables or {}),
            max_errors=self.limits.max_errors,
            hide_suggestions=not self.limits.suggestions,
        )
        if isinstance(coerced, list):
            raise RequestError(
                [_recode(e, ErrorCode.BAD_USER_INPUT) for e in coerced], ErrorCode.BAD_USER_INPUT
            )
        fragments = fragments_of(document)
        # Every field's arguments, before any field runs (no upstream call for a refusal).
        if bad := argument_errors(self.schema, operation, fragments, coerced.coerced):
            raise RequestError(bad, ErrorCode.BAD_USER_INPUT)
        calculator = CostCalculator(self.schema, fragments, coerced.coerced)
        cost = calculator.operation(operation)
        self.nodes_visited += calculator.visited
        if cost > self.limits.max_cost:
            raise RequestError(
                [
                    _error(
                        f"the operation may cost {cost} upstream requests; the limit is "
                        f"{self.limits.max_cost}. Ask for smaller pages or fewer nested lists.",
                        ErrorCode.QUERY_TOO_COMPLEX,
                        cost=cost,
                        maxCost=self.limits.max_cost,
                    )
                ],
                ErrorCode.QUERY_TOO_COMPLEX,
            )
        prepared = Prepared(
            document=document,
            operation=operation,
            operation_type=operation.operation,
            operation_name=operation.name.value if operation.name else operation_name,
            variables=coerced.coerced,
            cost=cost,
            work=self.nodes_visited - visited_before,
        )
        if key is not None:
            self.cache.remember(query, key, replace(prepared, work=0))
        return prepared


def _verdict_key(name: str | None, variables: Mapping[str, Any] | None) -> VerdictKey | None:
    """``variables`` as canonical JSON with ``name``; ``None`` when too large to keep."""
    if not variables:
        return name, b""
    try:
        raw = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return (name, raw) if len(raw) <= VERDICT_VARIABLES_BYTES else None


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
                        "the document has several operations: send `operationName`",
                        ErrorCode.BAD_REQUEST,
                    )
                ],
                ErrorCode.BAD_REQUEST,
            )
        return operations[0]
    for op in operations:
        if op.name is not None and op.name.value == name:
            return op
    raise RequestError(
        [_error(f"the document has no operation named {name!r}", ErrorCode.BAD_REQUEST)],
        ErrorCode.BAD_REQUEST,
    )
