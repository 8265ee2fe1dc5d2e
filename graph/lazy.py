"""Relation fields that answer from the record when they can.

A sync resolver may return either a value or an awaitable: graphql-core
awaits what is awaitable. Relations therefore stay synchronous when the
wrapped record already embeds the object (the common case: no task, no
loader), and hand back a coroutine only when a loader must fetch it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar, cast

T = TypeVar("T")


def later(awaitable: Awaitable[T]) -> T:
    """Return an awaitable from a resolver whose schema type is the awaited value's.

    The cast is the point: graphql-core awaits the value, so callers see a ``T``.
    """
    return cast(T, awaitable)
