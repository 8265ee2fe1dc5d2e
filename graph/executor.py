"""The execution context: graphql-core's, with short paths for plain leaves and plain objects.

graphql-core resolves every field alike: it builds a ``GraphQLResolveInfo``
(sixteen values), calls the resolver, then walks ``complete_value``'s type
dispatch. For a scalar read straight off an attribute, that machinery is most
of the field's cost, and a 100-object page has a thousand such fields (bench
workload W5). :func:`graph.fast_paths.streamline` marks the fields whose resolver
is a plain read of the source (an attribute, or a synchronous method taking only
``self``); this context answers two shapes of them directly:

* a **plain leaf**: a scalar or enum read that way, without arguments (the
  built-in scalars' values are passed through as graphql-core would);
* a **plain object**: an object (or a list of objects) read that way, without
  arguments or directives, of exactly its type's class, whose selected fields are all plain leaves,
  ``__typename`` or plain objects themselves (``total { amount currency }``,
  ``items { … }``, a connection's ``nodes`` of invoices). Its whole subtree is
  built in one synchronous walk, without a path, an info or a completion per field.

Every other field, and every case the short paths do not cover (a null in a
non-null field, a value the scalar refuses, an unexpected type, an error, a
resolver middleware, ``@defer``/``@stream``), goes to graphql-core unchanged: a
plain object that meets any of these is abandoned whole and executed again by
graphql-core (its fields are plain reads, so running them twice is harmless),
so results and errors are exactly graphql-core's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from math import isfinite
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from graph.fast_paths import BOOLEAN, FLOAT, INT, STRING, LeafPlan

#: Values a scalar's ``coerce_output_value`` takes as they are (never awaitable).
_PLAIN = frozenset({str, int, float, bool})
#: GraphQL's Int is 32-bit signed.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


#: Every plain-object selection met so far, by its shape (class, response names, leaf
#: plans, nested shapes), numbered: the key of an object's remembered results. Keys
#: hold the leaf plans themselves, so no key can come to stand for another field.
_SHAPES: dict[tuple[Any, ...], int] = {}
#: Where an object keeps its completed results, by shape (at most ``_KEPT_SHAPES``).
_KEPT = "_lean_completed"
_KEPT_SHAPES = 4


class _Fallback(Exception):
    """A plain object met a case graphql-core must decide (and report)."""


@dataclass(frozen=True, slots=True)
class _ObjectPlan:
    """How a plain object field is completed: read, check, then its fields."""

    get: Any
    nullable: bool
    is_list: bool
    item_nullable: bool
    #: The exact class each object must be (anything else goes to graphql-core).
    origin: type
    entries: tuple[_Entry, ...]
    #: The number of this selection's shape, the same in every operation (``_SHAPES``).
    shape: int


#: (response name, field details, leaf plan, object plan, constant ``__typename``).
_Entry = tuple[str, FieldDetailsList, LeafPlan | None, _ObjectPlan | None, str | None]


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with plain leaves and plain objects answered directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per operation: graphql-core memoises collected sub-fields by identity, so one
        # grouped field set stands for every object of a list; plan it once.
        self._plans: dict[tuple[int, str], tuple[Any, tuple[_Entry, ...]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        entries = self._entries(parent_type, grouped_field_set)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for name, details, leaf, plan, typename in entries:
                if leaf is not None:
                    value = _leaf(leaf, source_value)
                    if value is not Undefined:
                        results[name] = value
                        continue
                elif plan is not None:
                    try:
                        results[name] = _complete(plan, plan.get(source_value), True)
                        continue
                    except Exception:  # graphql-core runs the field again, properly
                        pass
                elif typename is not None:
                    results[name] = typename
                    continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    details,
                    Path(path, name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        manager = self.middleware_manager
        # Strawberry always passes a manager; only one holding middleware wraps resolvers.
        if not node.arguments and (manager is None or not manager.middlewares):
            field_def = parent_type.fields.get(node.name.value)
            plan: LeafPlan | None = getattr(field_def and field_def.resolve, "leaf", None)
            if plan is not None:
                value = _leaf(plan, source)
                if value is not Undefined:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    # -- planning (once per selection per operation) ----------------------------------

    def _entries(self, parent_type: GraphQLObjectType, grouped: Any) -> tuple[_Entry, ...]:
        key = (id(grouped), parent_type.name)
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        entries = tuple(
            self._entry(parent_type, name, details) for name, details in grouped.items()
        )
        # The grouped set is kept alive with its plan, so that its id is not reused.
        self._plans[key] = (grouped, entries)
        return entries

    def _entry(self, parent_type: GraphQLObjectType, name: str, details: Any) -> _Entry:
        node = details[0].node
        if node.arguments:
            return (name, details, None, None, None)
        if node.name.value == "__typename":
            return (name, details, None, None, parent_type.name)
        field_def = parent_type.fields.get(node.name.value)
        resolve = field_def and field_def.resolve
        leaf: LeafPlan | None = getattr(resolve, "leaf", None)
        if leaf is not None:
            return (name, details, leaf, None, None)
        get = getattr(resolve, "read", None)
        if get is None or field_def is None or node.directives:
            return (name, details, None, None, None)
        return (name, details, None, self._object_plan(get, field_def.type, details), None)

    def _object_plan(self, get: Any, output: GraphQLOutputType, details: Any) -> _ObjectPlan | None:
        if any(d.defer_usage is not None for d in details):
            return None
        nullable = not isinstance(output, GraphQLNonNull)
        inner = output.of_type if isinstance(output, GraphQLNonNull) else output
        is_list = isinstance(inner, GraphQLList)
        item_nullable = True
        if isinstance(inner, GraphQLList):
            item = inner.of_type
            item_nullable = not isinstance(item, GraphQLNonNull)
            inner = item.of_type if isinstance(item, GraphQLNonNull) else item
        if not isinstance(inner, GraphQLObjectType):
            return None
        # The exact class, checked per object: what graphql-core's ``is_type_of`` (where
        # the type has one) would accept, and never an awaitable a method returned.
        definition = inner.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        origin = getattr(definition, "origin", None)
        if not isinstance(origin, type):
            return None
        grouped, defer_usages, *_ = self.collect_subfields(inner, details)
        if defer_usages:
            return None
        entries = self._entries(inner, grouped)
        for _, _, leaf, plan, typename in entries:
            if leaf is None and plan is None and typename is None:
                return None
        key = (origin, *((n, leaf, sub and sub.shape, t) for n, _, leaf, sub, t in entries))
        shape = _SHAPES.setdefault(key, len(_SHAPES))
        return _ObjectPlan(get, nullable, is_list, item_nullable, origin, entries, shape)


def _complete(plan: _ObjectPlan, value: Any, remember: bool = False) -> Any:
    """A plain object's completed value; :class:`_Fallback` for anything unusual.
    ``remember``: each object keeps its result for the next operation (``_remembered``)."""
    fields = _remembered if remember else _fields
    if value is None:
        if plan.nullable:
            return None
        raise _Fallback
    if not plan.is_list:
        return fields(plan, value)
    if type(value) is not list and type(value) is not tuple:
        raise _Fallback
    completed: list[dict[str, Any] | None] = []
    for item in value:
        if item is None:
            if not plan.item_nullable:
                raise _Fallback
            completed.append(None)
        else:
            completed.append(fields(plan, item))
    return completed


def _remembered(plan: _ObjectPlan, source: Any) -> dict[str, Any]:
    """``_fields``, kept by the object for the next operation that selects the same.

    A plain object's result is a function of the object alone: its fields are plain
    reads (attributes, or methods taking only ``self``) of an object that is never
    changed once built, coerced by the field types. The graph's objects for a page
    serve every operation that revalidates the page (``graph/connection.py``), so the
    second operation over a page reads each object's result instead of building it
    again. Results are only read after execution (serialised), never changed.
    """
    kept = getattr(source, "__dict__", None)
    if kept is None:
        return _fields(plan, source)
    results: dict[int, dict[str, Any]] | None = kept.get(_KEPT)
    if results is not None:
        found = results.get(plan.shape)
        if found is not None:
            return found
    out = _fields(plan, source)
    if results is None:
        kept[_KEPT] = {plan.shape: out}
    else:
        if len(results) >= _KEPT_SHAPES:  # the selection kept longest makes room
            del results[next(iter(results))]
        results[plan.shape] = out
    return out


def _fields(plan: _ObjectPlan, source: Any) -> dict[str, Any]:
    if type(source) is not plan.origin:
        raise _Fallback
    out: dict[str, Any] = {}
    for name, _, leaf, sub, typename in plan.entries:
        if leaf is not None:
            value = _leaf(leaf, source)
            if value is Undefined:
                raise _Fallback
            out[name] = value
        elif sub is not None:
            out[name] = _complete(sub, sub.get(source))
        else:
            out[name] = typename
    return out


def _leaf(plan: LeafPlan, source: Any) -> Any:
    """The completed value, or ``Undefined`` to let graphql-core do it (and any error)."""
    try:
        value = plan.get(source)
    except Exception:  # graphql-core runs the field again and reports it properly
        return Undefined
    if value is None:
        return None if plan.nullable else Undefined
    kind = plan.kind
    cls = type(value)
    # The built-in scalars return these values unchanged (graphql-core's serialize_*).
    if kind == STRING:
        if cls is str:
            return value
    elif kind == INT:
        if cls is int and _INT_MIN <= value <= _INT_MAX:
            return value
    elif kind == BOOLEAN:
        if cls is bool:
            return value
    elif kind == FLOAT and cls is float and isfinite(value):
        return value
    if cls not in _PLAIN and not isinstance(value, Enum):
        return Undefined
    try:
        coerced = plan.output_type.coerce_output_value(value)
    except Exception:
        return Undefined
    return Undefined if coerced is None else coerced
