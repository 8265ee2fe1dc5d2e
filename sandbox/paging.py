"""Which stretch of a list a request asks for: the spaces way (query arguments).

Another dialect reads it otherwise (spotcap: a ``Range`` header); both produce a
:class:`~sandbox.store.Window`, which is all the handlers and the store see.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import QueryParams
from starlette.requests import Request

from sandbox.errors import ApiError
from sandbox.store import Window

MAX_LIMIT = 100
DEFAULT_LIMIT = 20

#: How a dialect reads the stretch of a list a request asks for.
Paging = Callable[[Request], Window]


def _arg(query: QueryParams, name: str) -> str | None:
    """A query argument; an empty value counts as absent (``?starting_after=``)."""
    value = query.get(name)
    return value if value else None


def page_args(query: QueryParams) -> tuple[int, str | None, str | None]:
    """``limit`` (1..100, default 20), ``starting_after``, ``starting_before``."""
    raw = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        if not (raw.strip().isascii() and raw.strip().isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            raise ApiError(400, f"limit must be an integer between 1 and {MAX_LIMIT}, got {raw!r}")
        limit = int(raw)
    after, before = _arg(query, "starting_after"), _arg(query, "starting_before")
    if after is not None and before is not None:
        raise ApiError(400, "starting_after and starting_before cannot be used together")
    return limit, after, before


def query_window(request: Request) -> Window:
    """The spaces way: ``limit``, ``starting_after`` / ``starting_before`` query arguments."""
    limit, after, before = page_args(request.query_params)
    if before is not None:
        # Travel towards newer objects, answer newest first.
        return Window(limit, before, ascending=True, reverse=True)
    return Window(limit, after)
