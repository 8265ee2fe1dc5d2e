"""Relay connections that page the upstream itself (never a Python slice)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from graph.context import Info
from resolvers.errors import BadUserInput, UpstreamRejected
from resolvers.loaders import PageQuery
from resolvers.pagination import encode_cursor, page_flags, page_request

NodeT = TypeVar("NodeT")
RecordT = TypeVar("RecordT")


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


def scope_of(path: str, filters: dict[str, str | int] | None = None) -> str:
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
    keys = [key(item) for item in page.items]
    return Connection(
        nodes=[wrap(item) for item in page.items],
        page_info=PageInfo(
            has_next_page=flags.has_next,
            has_previous_page=flags.has_previous,
            start_cursor=encode_cursor(scope, keys[0]) if keys else None,
            end_cursor=encode_cursor(scope, keys[-1]) if keys else None,
        ),
        _scope=scope,
        _keys=keys,
    )
