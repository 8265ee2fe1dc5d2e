"""Relay arguments are validated and translated before any upstream call."""

from __future__ import annotations

import pytest

from resolvers.errors import BadUserInput
from resolvers.pagination import (
    PageRequest,
    decode_cursor,
    encode_cursor,
    page_flags,
    page_request,
)


def test_defaults_to_twenty_forward() -> None:
    assert page_request("customers", None, None, None, None) == PageRequest(limit=20)


def test_cursor_round_trip_and_scope() -> None:
    cursor = encode_cursor("invoices?customer=cus_1", "in_9")
    assert decode_cursor("invoices?customer=cus_1", cursor, "after") == "in_9"
    with pytest.raises(BadUserInput, match="another connection"):
        decode_cursor("invoices?customer=cus_2", cursor, "after")


def test_forward_and_backward() -> None:
    after = encode_cursor("customers", "cus_a")
    assert page_request("customers", 5, after, None, None) == PageRequest(5, starting_after="cus_a")
    req = page_request("customers", None, None, 3, after)
    assert req == PageRequest(3, starting_before="cus_a") and req.backward
    assert req.params() == {"limit": 3, "starting_before": "cus_a"}


@pytest.mark.parametrize(
    ("first", "after", "last", "before"),
    [
        (0, None, None, None),
        (101, None, None, None),
        (None, None, 101, "x"),
        (5, None, 5, None),
        (None, None, 5, None),
        (None, "garbage!!", None, None),
        (None, None, 5, "bm90IGEgY3Vyc29y"),
    ],
)
def test_invalid_arguments(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> None:
    with pytest.raises(BadUserInput):
        page_request("customers", first, after, last, before)


def test_page_flags() -> None:
    assert page_flags(PageRequest(5), has_more=True) == (page_flags(PageRequest(5), True))
    forward = page_flags(PageRequest(5), has_more=True)
    assert forward.has_next and not forward.has_previous
    after = page_flags(PageRequest(5, starting_after="x"), has_more=False)
    assert not after.has_next and after.has_previous
    back = page_flags(PageRequest(5, starting_before="x"), has_more=False)
    assert back.has_next and not back.has_previous
