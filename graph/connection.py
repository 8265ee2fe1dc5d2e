"""Relay connections that page the upstream itself (never a Python slice).

A connection field is declared once, with :func:`connection`: it states what it
lists (a declared resource, its REST path when that is not the resource's own,
the filters it sends upstream, each read off the parent object or taken from an
extra argument) and the helper adds the rest: the four Relay arguments
(``first``/``after``/``last``/``before``, in that order, before any extra
argument), their validation and the upstream page (:func:`load_connection`).
It names its node type too (the connection's type is ``Connection[node] | None``).

All of it is worked out once, when the field is declared (a lazy node type's
``from_record`` on its first page): its resolver is a plain synchronous function that returns :func:`load_connection`'s coroutine
(graphql-core awaits it), with no coroutine or introspection of its own per
call. Pre-flight (``spaces_graphql/arguments.py``) reads the same declaration
(:func:`listing_of`) to check a cursor's scope before anything runs. E.g.::

    customers = connection(
        "The Space's customers, newest first.",
        Annotated["Customer", strawberry.lazy("graph.customer")],
        CUSTOMER,
        filters={"space": parent("space_id")},
    )
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, Protocol, Self, TypeVar

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema
from strawberry.annotation import StrawberryAnnotation
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.utils.str_converters import to_camel_case

from graph.context import Info
from resolvers.client import segment
from resolvers.errors import BadUserInput, UpstreamRejected
from resolvers.loaders import PageQuery
from resolvers.pagination import encode_cursor, page_flags, page_request

NodeT = TypeVar("NodeT")

#: The Relay arguments every connection takes, in the order the schema prints them.
RELAY_ARGUMENTS = ("first", "after", "last", "before")


@strawberry.type(description="Where a page sits in its list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether older objects follow this page (use `first` with `after: endCursor`)."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether newer objects precede this page (use `last` with `before: startCursor`)."
    )
    start_cursor: str | None = strawberry.field(description="The cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="The cursor of the last edge.")


@strawberry.type(description="An object in a page, with the cursor that points at it.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque cursor for `after`/`before`.")
    node: NodeT = strawberry.field(description="The object.")


@strawberry.type(description="A page of a list, newest first (Relay connection).")
class Connection(Generic[NodeT]):
    nodes: list[NodeT] = strawberry.field(description="The objects of this page, newest first.")
    page_info: PageInfo = strawberry.field(description="How to fetch the neighbouring pages.")
    _scope: strawberry.Private[str]
    _keys: strawberry.Private[list[str]]

    @strawberry.field(description="The objects of this page with their cursors.")
    def edges(self) -> list[Edge[NodeT]]:
        return [
            Edge(cursor=encode_cursor(self._scope, key), node=node)
            for key, node in zip(self._keys, self.nodes, strict=True)
        ]


def scope_of(path: str, filters: Mapping[str, str | int] | None = None) -> str:
    """The identity of a list: its path plus its filters (cursors are tied to it)."""
    if not filters:
        return path
    return path + "?" + "&".join(f"{k}={v}" for k, v in sorted(filters.items()))


async def load_connection(
    info: Info,
    *,
    kind: str,
    path: str,
    wrap: Callable[[Any], NodeT],
    key: Callable[[Any], str],
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filters: dict[str, str | int] | None = None,
) -> Connection[NodeT]:
    """Validate the Relay arguments, fetch one upstream page, wrap it as a connection."""
    scope = scope_of(path, filters)
    request = page_request(scope, first, after, last, before)
    query = PageQuery.of(kind, path, {**(filters or {}), **request.params()})
    try:
        page = await info.context.loaders.page.fetch(query)
    except UpstreamRejected as exc:
        # The cursor was well formed but the upstream no longer knows the object.
        raise BadUserInput(f"the cursor was refused: {exc.message}") from exc
    flags = page_flags(request, page.has_more)
    # The graph's objects for a page are built once per page, not once per operation:
    # a page revalidated from the ETag cache is the same object every time, and graph
    # objects are never changed once built (each resolver reads its own context).
    built = page.derived.get((wrap, key, scope))
    if built is None:
        keys = [key(item) for item in page.items]
        built = page.derived[wrap, key, scope] = (
            [wrap(item) for item in page.items],
            keys,
            encode_cursor(scope, keys[0]) if keys else None,
            encode_cursor(scope, keys[-1]) if keys else None,
        )
    nodes, keys, start, end = built
    return Connection(
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=flags.has_next,
            has_previous_page=flags.has_previous,
            start_cursor=start,
            end_cursor=end,
        ),
        _scope=scope,
        _keys=keys,
    )


# --- declaring a connection field ---------------------------------------------------


class Listed(Protocol):
    """What a connection lists: a declared resource (``resolvers/resources.py``): what a
    page is parsed as, its REST collection (the path unless the field names one), and a
    record's key for ``starting_after``/``starting_before`` (and in its cursors)."""

    @property
    def kind(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def cursor(self) -> Callable[[Any], str]: ...


@dataclass(frozen=True, slots=True)
class Parent:
    """A value read off the parent object (a dotted attribute path), for a path or filter."""

    attribute: str


@dataclass(frozen=True, slots=True)
class Argument:
    """An extra argument of the field (after the Relay four), sent upstream as a filter.

    ``encode`` turns the argument's value into the filter's value; ``None`` sends none.
    """

    name: str
    annotation: object
    encode: Callable[[Any], str | int | None]

    @property
    def graphql_name(self) -> str:
        return to_camel_case(self.name)


def parent(attribute: str) -> Parent:
    """A filter taken from the parent object, e.g. ``parent("space_id")``."""
    return Parent(attribute)


def argument(name: str, annotation: object, encode: Callable[[Any], str | int | None]) -> Argument:
    """A filter taken from an extra argument ``name`` of type ``annotation`` (default null)."""
    return Argument(name, annotation, encode)


Filter = Parent | Argument
_PathOf = Callable[[Any], str]
_FiltersOf = Callable[[Any, Mapping[str, Any]], dict[str, str | int] | None]


@dataclass(frozen=True, slots=True)
class Listing:
    """What one connection field lists: the declaration :func:`connection` keeps.

    ``path`` is a template: ``{attribute}`` is read off the parent object and
    quoted as one path segment. ``filters`` go upstream as query parameters.
    """

    kind: str
    path: str
    filters: Mapping[str, Filter]
    key: Callable[[Any], str]
    #: Whether the scope depends on the parent object (a nested connection).
    nested: bool = field(init=False)
    #: The extra arguments, in the order the schema prints them.
    arguments: tuple[Argument, ...] = field(init=False)
    path_of: _PathOf = field(init=False, repr=False)
    filters_of: _FiltersOf = field(init=False, repr=False)
    _starred: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parts = [(text, name) for text, name, _, _ in string.Formatter().parse(self.path)]
        placeholders = [name for _, name in parts if name is not None]
        if any(not name for name in placeholders):
            raise ValueError(f"{self.path!r}: a placeholder names a parent attribute")
        arguments = tuple(f for f in self.filters.values() if isinstance(f, Argument))
        if clash := {a.name for a in arguments} & set(RELAY_ARGUMENTS):
            raise ValueError(f"extra arguments shadow the Relay arguments: {sorted(clash)}")
        set_ = object.__setattr__  # frozen: the derived fields are set once, here
        set_(self, "nested", bool(placeholders) or len(arguments) < len(self.filters))
        set_(self, "arguments", arguments)
        set_(self, "path_of", _compile_path(parts))
        set_(self, "filters_of", _compile_filters(self.filters))
        set_(self, "_starred", "".join(t + ("" if n is None else "*") for t, n in parts))

    def scope_for(self, arguments: Mapping[str, Any]) -> str:
        """The scope of this listing's cursors, parent values as ``*``.

        ``arguments`` are the field's coerced arguments by GraphQL name (as
        pre-flight has them). Exact for a listing that is not :attr:`nested`.
        """
        filters: dict[str, str | int] = {}
        for name, source in self.filters.items():
            if isinstance(source, Parent):
                filters[name] = "*"
            elif (value := source.encode(arguments.get(source.graphql_name))) is not None:
                filters[name] = value
        return scope_of(self._starred, filters)


def _compile_path(parts: list[tuple[str, str | None]]) -> _PathOf:
    names = [name for _, name in parts if name is not None]
    if not names:
        constant = "".join(text for text, _ in parts)
        return lambda _parent: constant
    if len(names) == 1 and parts[0][1] is not None:  # "a/{id}" or "a/{id}/b": no join
        prefix, get, tail = parts[0][0], attrgetter(names[0]), "".join(t for t, _ in parts[1:])
        return lambda obj: prefix + segment(get(obj)) + tail
    pieces = tuple((text, attrgetter(name) if name else None) for text, name in parts)
    return lambda obj: "".join(t + ("" if g is None else segment(g(obj))) for t, g in pieces)


def _compile_filters(filters: Mapping[str, Filter]) -> _FiltersOf:
    if not filters:
        return lambda _parent, _arguments: None
    from_parent = tuple(
        (n, attrgetter(f.attribute)) for n, f in filters.items() if isinstance(f, Parent)
    )
    from_arguments = tuple(
        (n, f.name, f.encode) for n, f in filters.items() if isinstance(f, Argument)
    )

    def filters_of(obj: Any, arguments: Mapping[str, Any]) -> dict[str, str | int]:
        values: dict[str, str | int] = {}
        for name, get in from_parent:  # a loop, not a comprehension: no frame of its own
            values[name] = get(obj)
        for name, argument_name, encode in from_arguments:
            if (value := encode(arguments.get(argument_name))) is not None:
                values[name] = value
        return values

    return filters_of


class ConnectionField(StrawberryField):
    """A connection field (see :func:`connection`): a Strawberry field plus its listing."""

    listing: Listing
    #: The node type's ``from_record``; found on first use (the type may be lazy).
    wrap: Callable[[Any], Any]
    _bound: Callable[[Any], Any] | None = None

    def __copy__(self) -> Self:
        copied = super().__copy__()
        copied.listing, copied.wrap = self.listing, self.wrap
        return copied

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        resolver = self.base_resolver
        if resolver is not None:  # tracebacks and profiles name the field, not "resolve"
            function = resolver.wrapped_func
            function.__name__ = name
            function.__qualname__ = f"connection({owner.__qualname__}.{name})"

    def node_type(self) -> type:
        """The graph type of this connection's nodes (resolves a lazy one)."""
        resolved = self.type
        if isinstance(resolved, StrawberryOptional):
            resolved = resolved.of_type
        definition = get_object_definition(resolved, strict=True)
        nodes = next(f for f in definition.fields if f.python_name == "nodes")
        node = nodes.type.of_type if isinstance(nodes.type, StrawberryList) else nodes.type
        if isinstance(node, LazyType):
            node = node.resolve_type()
        if not isinstance(node, type):
            raise TypeError(f"connection {self.python_name!r}: nodes are not a graph type")
        return node

    def _bind(self, record: Any) -> Any:
        """``wrap`` of a lazy node type: finds ``from_record`` once. It stays ``wrap`` (it
        names the nodes a page's objects were built by, ``load_connection``)."""
        if self._bound is None:
            self._bound = self.node_type().from_record  # type: ignore[attr-defined]
        return self._bound(record)


def connection(
    description: str,
    node: object,
    lists: Listed,
    *,
    path: str | None = None,
    filters: Mapping[str, Filter] | None = None,
) -> Any:
    """A connection field of ``node`` objects listing ``lists``, Relay arguments added.

    ``node`` is the graph type (a class, or Strawberry's lazy reference,
    ``Annotated["Customer", strawberry.lazy("graph.customer")]``, where the
    modules import each other). ``path`` defaults to the resource's collection;
    ``{attribute}`` in it is read off the parent object. ``filters`` maps an
    upstream query parameter to :func:`parent` (a value of the parent object)
    or :func:`argument` (an extra GraphQL argument, printed after the Relay four).

    Assign it in the type's body without an annotation (``customers =
    connection(...)``): the field's type is ``Connection[node] | None``, and
    the field keeps its place among the type's resolver fields.
    """
    listing = Listing(lists.kind, path or lists.path, dict(filters or {}), lists.cursor)
    declared = ConnectionField(
        description=description,
        type_annotation=StrawberryAnnotation(Connection[node] | None),  # type: ignore[valid-type]
    )
    declared.listing = listing
    # A class binds now; a lazy reference on first use (its module may still be loading).
    declared.wrap = node.from_record if isinstance(node, type) else declared._bind  # type: ignore[attr-defined]
    return declared(_resolver(declared, listing))


def _resolver(declared: ConnectionField, listing: Listing) -> Callable[..., Any]:
    kind, key, path_of, filters_of = listing.kind, listing.key, listing.path_of, listing.filters_of

    # Synchronous on purpose: Strawberry then calls it without an async wrapper of its
    # own, and graphql-core awaits the coroutine it returns (one coroutine per field).
    def resolve(
        self: Any,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        **arguments: Any,
    ) -> Coroutine[Any, Any, Connection[Any]]:
        return load_connection(
            info, kind=kind, path=path_of(self), filters=filters_of(self, arguments),
            wrap=declared.wrap, key=key, first=first, after=after, last=last, before=before,
        )  # fmt: skip

    # What Strawberry reads: the Relay four, then the extras; no return annotation
    # (the field's own is ``Connection[node] | None``), so nothing else is evaluated.
    plain = inspect.signature(resolve, eval_str=True)
    relay = [p for p in plain.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extras = [
        inspect.Parameter(
            a.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=a.annotation
        )
        for a in listing.arguments
    ]
    resolve.__signature__ = plain.replace(  # type: ignore[attr-defined]
        parameters=[*relay, *extras],
        return_annotation=inspect.Signature.empty,
    )
    return resolve


def listing_of(definition: GraphQLField) -> Listing | None:
    """The listing a schema field was declared with, or None for any other field."""
    declared = definition.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return declared.listing if isinstance(declared, ConnectionField) else None


def declared_connections(schema: GraphQLSchema) -> dict[tuple[str, str], Listing]:
    """Every connection field of ``schema``: (type name, field name) -> its listing."""
    found: dict[tuple[str, str], Listing] = {}
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLObjectType):
            for name, definition in type_.fields.items():
                if (listing := listing_of(definition)) is not None:
                    found[(type_.name, name)] = listing
    return found
