"""Records parse upstream payloads once, tolerating the reference's quirks."""

from __future__ import annotations

import pytest

from resolvers import records as r
from resolvers.errors import MalformedPayload

SPACE = {"object": "space", "id": 1, "created": 1700000000, "url": "https://a.spaces.pe"}
CUSTOMER = {
    "object": "customer",
    "id": "cus_1",
    "name": "Ada",
    "email": "ada@example.com",
    "created": 1700000100,
    "space": SPACE,
}


def test_customer_embeds_space() -> None:
    rec = r.parse_customer(CUSTOMER)
    assert rec.id == "cus_1" and rec.space == r.SpaceRecord(1, 1700000000, "https://a.spaces.pe")
    assert not rec.partial


def test_customer_named_by_token() -> None:
    rec = r.parse_customer({**{k: v for k, v in CUSTOMER.items() if k != "id"}, "token": "cus_9"})
    assert rec.id == "cus_9"


def test_customer_without_space_is_partial() -> None:
    rec = r.parse_customer({"object": "customer", "token": "cus_2", "created": 1})
    assert rec.partial and rec.space is None


def test_item_id_string_or_integer_and_currency_string() -> None:
    invoice = {
        "object": "invoice",
        "id": "in_1",
        "created": 1,
        "order_number": 7,
        "paid": True,
        "shipped": False,
        "shipping_details": None,
        "billing_address": {"line_1": "1 Main St", "zip_code": "123", "country": "SE"},
        "shipping_address": None,
        "total": 1200,
        "currency": "usd",
        "items": {
            "data": [
                {"item_id": "100100", "quantity": 1, "unit_amount": 200, "total_amount": 200},
                {"item_id": 101, "quantity": 2, "unit_amount": 500, "total_amount": 1000,
                 "date_range_start": 10, "date_range_end": 20},
            ],
            "count": 2,
        },
        "customer": CUSTOMER,
        "subscription": "sub_1",
    }  # fmt: skip
    rec = r.parse_invoice(invoice)
    assert [i.item_id for i in rec.items] == ["100100", "101"]
    assert rec.currency == "USD" and rec.items[1].currency == "USD"
    assert rec.billing_address is not None and rec.billing_address.line1 == "1 Main St"
    assert rec.subscription_token == "sub_1" and rec.customer_id == "cus_1"


def test_event_snapshot_typed_by_object() -> None:
    event = {
        "object": "event",
        "id": "ev_1",
        "created": 5,
        "type": "customer.created",
        "data": {"object": {**{k: v for k, v in CUSTOMER.items() if k != "id"}, "token": "cus_7"}},
    }
    rec = r.parse_event(event)
    assert isinstance(rec.resource, r.CustomerRecord) and rec.resource.id == "cus_7"


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "customer", "name": "no id"},
        {**CUSTOMER, "created": "yesterday"},
        "not an object",
    ],
)
def test_malformed_payloads_raise(payload: object) -> None:
    with pytest.raises(MalformedPayload):
        r.parse_customer(payload)


def test_page_envelope() -> None:
    page = r.parse_page({"object": "list", "has_more": True, "data": [SPACE]}, r.parse_space)
    assert page.has_more and page.items[0].id == 1
    with pytest.raises(MalformedPayload):
        r.parse_page({"object": "list"}, r.parse_space)
