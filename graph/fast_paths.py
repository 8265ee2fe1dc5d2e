"""Lean resolvers for the two commonest field shapes, installed once on the built schema.

Strawberry resolves every field through a generic chain: a plain attribute goes
through ``get_result`` and the configured default resolver; a method builds an
``Info``, converts arguments, folds field extensions and only then calls the
method. On a 100-object page that chain costs more than graphql-core's own
execution of the same result (measured by ``bench``, workload W5). The two
shapes below need none of it, so they get a direct call:

- a plain attribute (no resolver, no field extension): read with ``attrgetter``,
  unless ``StrawberryConfig.default_resolver`` is not ``getattr`` (then it reads them);
- a synchronous method taking only ``self`` and optionally ``info``, with no
  arguments and no field extension: called with the ``Info`` it asks for.

A third shape is the facade's own: a connection field (``graph/connection.py``)
whose only arguments are the Relay four (``first``/``after``/``last``/``before``,
Ints and Strings that graphql-core has coerced already) gets the coroutine of its
page directly, without Strawberry's argument conversion (about a sixth of the time
between an upstream wave and the next, measured on W3).

Anything else (other arguments, async methods, permission classes, field extensions,
exception handlers) keeps Strawberry's chain untouched. Schema extensions that
hook ``resolve`` still apply: graphql-core wraps whatever resolver a field has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, cast

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLString,
    is_leaf_type,
)
from strawberry import Schema
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from graph.connection import ConnectionField

Resolve = Callable[..., Any]


#: Leaf kinds :class:`graph.executor.LeanExecutionContext` coerces itself, exactly as
#: graphql-core's built-in scalars do for the one Python type each takes as it is.
OTHER, STRING, INT, BOOLEAN, FLOAT = range(5)
_BUILTIN: dict[GraphQLNamedType, int] = {
    GraphQLString: STRING,
    GraphQLID: STRING,
    GraphQLInt: INT,
    GraphQLBoolean: BOOLEAN,
    GraphQLFloat: FLOAT,
}


@dataclass(frozen=True, slots=True)
class LeafPlan:
    """How :class:`graph.executor.LeanExecutionContext` answers a plain scalar field directly."""

    get: Callable[[Any], Any]
    output_type: GraphQLLeafType
    nullable: bool
    #: One of the kinds above (``OTHER``: the type's own ``coerce_output_value``).
    kind: int = OTHER


def streamline(schema: Schema) -> int:
    """Install direct resolvers on every eligible field of ``schema``; how many."""
    installed = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for graphql_field in graphql_type.fields.values():
            field = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(field, StrawberryField) or field.extensions:
                continue
            resolve = _direct(schema, field, graphql_field)
            if resolve is not None:
                graphql_field.resolve = resolve
                installed += 1
    return installed


def _direct(schema: Schema, field: StrawberryField, graphql_field: GraphQLField) -> Resolve | None:
    current = graphql_field.resolve
    if current is not None and is_default_resolver(current):
        # Strawberry marks its own no-resolver wrapper; a handler-wrapped field is not marked.
        if schema.config.default_resolver is not getattr:
            # A configured default resolver reads these fields: its chain calls it, not getattr.
            return None
        return _attribute(field.python_name, graphql_field)
    if isinstance(field, ConnectionField):
        if field.listing.arguments or schema.exception_handlers:
            return None
        return _connection(field, schema.config.info_class)
    resolver = field.base_resolver
    if (
        resolver is None
        or schema.exception_handlers  # Strawberry's chain is what applies them
        or resolver.is_async
        or field.arguments
        or resolver.self_parameter is None
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
    ):
        return None
    method = resolver.wrapped_func
    if not callable(method):
        return None
    info_parameter = resolver.info_parameter
    if info_parameter is None:
        return _method(method, graphql_field)
    return _method_with_info(method, info_parameter.name, schema.config.info_class, field)


def _attribute(name: str, graphql_field: GraphQLField) -> Resolve:
    get = attrgetter(name)

    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        return get(source)

    return _mark(resolve, get, graphql_field)


def _method(method: Callable[[Any], Any], graphql_field: GraphQLField) -> Resolve:
    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        return method(source)

    return _mark(resolve, method, graphql_field)


def _mark(resolve: Resolve, read: Callable[[Any], Any], graphql_field: GraphQLField) -> Resolve:
    """Tell :mod:`graph.executor` that ``read(source)`` is this field's whole resolver:
    a leaf gets a :class:`LeafPlan`; an object field may be completed as a plain object."""
    resolve.read = read  # type: ignore[attr-defined]
    output = graphql_field.type
    nullable = not isinstance(output, GraphQLNonNull)
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    if is_leaf_type(inner) and not graphql_field.args:
        plan = LeafPlan(read, inner, nullable, _BUILTIN.get(inner, OTHER))
        resolve.leaf = plan  # type: ignore[attr-defined]
    return resolve


def _connection(declared: ConnectionField, info_class: Callable[..., Any]) -> Resolve:
    # The field's own resolver (graph/connection.py), given the Info it asks for and the
    # Relay arguments as graphql-core coerced them.
    assert declared.base_resolver is not None
    page = cast(Callable[..., Any], declared.base_resolver.wrapped_func)

    def resolve(
        source: Any,
        info: GraphQLResolveInfo[Any],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Any:
        return page(source, info_class(_raw_info=info, _field=declared), first, after, last, before)

    return resolve


def _method_with_info(
    method: Callable[..., Any], name: str, info_class: Callable[..., Any], field: StrawberryField
) -> Resolve:
    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        return method(source, **{name: info_class(_raw_info=info, _field=field)})

    return resolve
