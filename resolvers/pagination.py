"""Relay paging over the upstream's ``limit``/``starting_after``/``starting_before``.

The one module that translates cursors. A cursor is opaque to clients: it
names the connection it came from (its *scope*, e.g. ``invoices?customer=cus_1``)
and the upstream ID of the object. A cursor presented to another connection
is refused as ``BAD_USER_INPUT`` before any upstream call.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from resolvers.errors import BadUserInput

MAX_PAGE = 100
DEFAULT_PAGE = 20
_PREFIX = "c1"
#: The longest cursor accepted. The facade's longest (a subscription's invoices,
#: 128-character IDs throughout) is about 570 characters; anything longer is forged.
MAX_CURSOR_LENGTH = 1024
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]+")
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def unpadded_b64(raw: bytes) -> str:
    """``raw`` as unpadded URL-safe base64: the text of cursors and of the graph's global IDs.

    binascii directly: base64's wrappers double the cost, and every page has cursors
    and every object an ID."""
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


#: The shape of the upstream IDs a cursor carries (the same as ``client.valid_upstream_id``,
#: with ``fullmatch``: ``$`` would let a trailing newline through).
_UPSTREAM_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def encode_cursor(scope: str, upstream_id: str) -> str:
    """An opaque cursor for ``upstream_id`` within the connection ``scope``."""
    return unpadded_b64(f"{_PREFIX}\x1f{scope}\x1f{upstream_id}".encode())


def parse_cursor(cursor: str, argument: str) -> tuple[str, str]:
    """The (scope, upstream ID) inside ``cursor``; raises ``BadUserInput`` if it is not one.

    Strict on purpose: only the unpadded URL-safe alphabet :func:`encode_cursor`
    writes (``urlsafe_b64decode`` would silently skip other characters), at most
    :data:`MAX_CURSOR_LENGTH` characters, and an upstream-ID-shaped key. The
    message names the argument, never the value.
    """
    invalid = BadUserInput(f"`{argument}` is not a valid cursor", argument=argument)
    if len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR_TEXT.fullmatch(cursor):
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, scope, upstream_id = raw.split("\x1f")
    except (ValueError, UnicodeError, binascii.Error):
        raise invalid from None
    if prefix != _PREFIX or not scope or not _UPSTREAM_KEY.fullmatch(upstream_id):
        raise invalid
    return scope, upstream_id


def decode_cursor(scope: str, cursor: str, argument: str) -> str:
    """The upstream ID inside ``cursor``; refuses cursors of other connections."""
    cursor_scope, upstream_id = parse_cursor(cursor, argument)
    if cursor_scope != scope:
        raise BadUserInput(f"`{argument}` is a cursor from another connection", argument=argument)
    return upstream_id


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One upstream page to fetch: the translated Relay arguments."""

    limit: int
    starting_after: str | None = None
    starting_before: str | None = None

    @property
    def backward(self) -> bool:
        """True when paging towards the newest objects (``last``/``before``)."""
        return self.starting_before is not None

    def params(self) -> dict[str, str | int]:
        """The upstream query parameters for this page."""
        params: dict[str, str | int] = {"limit": self.limit}
        if self.starting_after is not None:
            params["starting_after"] = self.starting_after
        if self.starting_before is not None:
            params["starting_before"] = self.starting_before
        return params


def check_relay_args(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> None:
    """The Relay argument rules, without the cursors' contents; raises ``BadUserInput``.

    Pure, so that pre-flight (``spaces_graphql/arguments.py``) refuses exactly
    what :func:`page_request` refuses, with the same messages, before any
    field of the operation runs.
    """
    if first is not None and last is not None:
        raise BadUserInput("give `first` or `last`, not both", argument="first")
    if after is not None and before is not None:
        raise BadUserInput("give `after` or `before`, not both", argument="after")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 1 <= value <= MAX_PAGE:
            raise BadUserInput(f"`{name}` must be within 1..{MAX_PAGE}", argument=name)
    if last is not None and before is None:
        raise BadUserInput(
            "`last` needs `before`: the Spaces API pages backward only from a cursor",
            argument="last",
        )
    if before is not None and first is not None:
        raise BadUserInput("`before` goes with `last`, not `first`", argument="before")
    if after is not None and last is not None:
        raise BadUserInput("`after` goes with `first`, not `last`", argument="after")


def page_request(
    scope: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> PageRequest:
    """Validate Relay arguments and translate them; raises ``BadUserInput``.

    ``first``/``after`` page forward (older objects), ``last``/``before`` page
    backward (newer objects). The upstream offers no way to read the oldest
    page directly, so ``last`` needs ``before``.
    """
    check_relay_args(first, after, last, before)
    if before is not None:
        return PageRequest(
            limit=last or DEFAULT_PAGE, starting_before=decode_cursor(scope, before, "before")
        )
    if after is not None:
        return PageRequest(
            limit=first or DEFAULT_PAGE, starting_after=decode_cursor(scope, after, "after")
        )
    return PageRequest(limit=first or DEFAULT_PAGE)


@dataclass(frozen=True, slots=True)
class PageFlags:
    """``hasNextPage``/``hasPreviousPage`` for one fetched page."""

    has_next: bool
    has_previous: bool


def page_flags(request: PageRequest, has_more: bool) -> PageFlags:
    """Relay's page flags from the upstream's ``has_more`` in the direction of travel.

    The cursor object itself lies on the other side, so that side has at least
    one object whenever a cursor was given.
    """
    if request.backward:
        return PageFlags(has_next=True, has_previous=has_more)
    return PageFlags(has_next=has_more, has_previous=request.starting_after is not None)
