"""Field readers shared by every record parser, and the list envelope.

Each reader checks the common case first (the value already has the right
type): parsing runs once per upstream object, ~300 of them per operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from resolvers.errors import MalformedPayload

T = TypeVar("T")
Json = Mapping[str, Any]


@dataclass(slots=True)
class Page(Generic[T]):
    """One upstream list page, in the upstream's order (newest first)."""

    items: list[T]
    has_more: bool
    #: What a consumer derived from ``items``, by the function that derived it. A page
    #: is never changed once parsed, and one parsed from a body the ETag cache holds
    #: is handed to every operation that revalidates it (``resolvers/cache.py``'s
    #: ``ParsedBodies``), so what is built from it once (the graph's objects for its
    #: items) serves them all, and is gone with the page.
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


def _req(obj: Json, key: str, kind: str) -> Any:
    try:
        value = obj[key]
    except (KeyError, TypeError):
        raise MalformedPayload(f"upstream {kind} lacks {key!r}") from None
    if value is None:
        raise MalformedPayload(f"upstream {kind} has a null {key!r}")
    return value


def _int(obj: Json, key: str, kind: str) -> int:
    value = obj.get(key)
    if type(value) is int:  # the common case, checked first: parsing is per object
        return value
    value = _req(obj, key, kind)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayload(f"upstream {kind}.{key} is not an integer")
    try:
        return int(value)
    except ValueError:
        raise MalformedPayload(f"upstream {kind}.{key} is not an integer") from None


def _opt_int(obj: Json, key: str, kind: str) -> int | None:
    if obj.get(key) is None:
        return None
    return _int(obj, key, kind)


def _str(obj: Json, key: str, kind: str) -> str:
    value = obj.get(key)
    if type(value) is str:
        return value
    value = _req(obj, key, kind)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedPayload(f"upstream {kind}.{key} is not a string")
    return str(value)


def _opt_str(obj: Json, key: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    return str(value)


def _currency(obj: Json, kind: str) -> str:
    # Documented as an integer, served as a code string (gap 4): keep it a string.
    value = obj.get("currency")
    return "" if value is None else str(value).upper()


def _expect_object(obj: Any, kind: str) -> Json:
    if not isinstance(obj, dict):
        raise MalformedPayload(f"upstream {kind} is not a JSON object")
    return obj


def parse_page(obj: Any, parse: Callable[[Any], T]) -> Page[T]:
    """The list envelope ``{"object": "list", "has_more": …, "data": […]}``."""
    o = _expect_object(obj, "list")
    data = o.get("data")
    if not isinstance(data, list):
        raise MalformedPayload("upstream list lacks 'data'")
    return Page(items=[parse(item) for item in data], has_more=bool(o.get("has_more")))
