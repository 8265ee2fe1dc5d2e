"""Billing records: subscriptions, invoices, their items and addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.errors import MalformedPayload
from resolvers.records.accounts import CustomerRecord, parse_customer
from resolvers.records.readers import (
    Json,
    _currency,
    _expect_object,
    _int,
    _opt_int,
    _opt_str,
    _str,
)


@dataclass(slots=True)
class ItemRecord:
    item_id: str
    description: str | None
    quantity: int
    discount: int
    unit_amount: int
    total_amount: int
    currency: str
    date_range_start: int | None = None
    date_range_end: int | None = None


@dataclass(slots=True)
class AddressRecord:
    line1: str | None
    line2: str | None
    line3: str | None
    zip_code: str | None
    locality: str | None
    region: str | None
    country: str | None


@dataclass(slots=True)
class SubscriptionRecord:
    token: str
    customer_id: str
    serial_number: int
    created: int
    status: str
    items: list[ItemRecord]
    total: int
    currency: str
    customer: CustomerRecord | None


@dataclass(slots=True)
class InvoiceRecord:
    id: str
    created: int
    order_number: int
    paid: bool
    shipped: bool
    shipping_details: str | None
    billing_address: AddressRecord | None
    shipping_address: AddressRecord | None
    total: int
    currency: str
    items: list[ItemRecord]
    customer_id: str
    customer: CustomerRecord | None
    subscription_token: str | None


def _customer_ref(o: Json, kind: str) -> tuple[str, CustomerRecord | None]:
    ref = o.get("customer")
    if isinstance(ref, dict):
        record = parse_customer(ref)
        return record.id, record
    if isinstance(ref, str) and ref:
        return ref, None
    raise MalformedPayload(f"upstream {kind} lacks its customer")


def parse_item(obj: Any, currency: str, kind: str) -> ItemRecord:
    o = _expect_object(obj, kind)
    return ItemRecord(
        # A string in some items and an integer in others (gap 3): an opaque ID.
        item_id=_str(o, "item_id", kind),
        description=_opt_str(o, "description"),
        quantity=_int(o, "quantity", kind),
        discount=_opt_int(o, "discount", kind) or 0,
        unit_amount=_int(o, "unit_amount", kind),
        total_amount=_int(o, "total_amount", kind),
        currency=str(o["currency"]).upper() if o.get("currency") is not None else currency,
        date_range_start=_opt_int(o, "date_range_start", kind),
        date_range_end=_opt_int(o, "date_range_end", kind),
    )


def _items(o: Json, currency: str, kind: str) -> list[ItemRecord]:
    raw = o.get("items")
    if raw is None:
        return []
    data = raw.get("data") if isinstance(raw, dict) else raw
    if not isinstance(data, list):
        raise MalformedPayload(f"upstream {kind}.items is not a list")
    return [parse_item(item, currency, kind + "_item") for item in data]


def parse_subscription(obj: Any, customer_id: str | None = None) -> SubscriptionRecord:
    o = _expect_object(obj, "subscription")
    if o.get("customer") is None and customer_id is not None:
        cid, customer = customer_id, None
    else:
        cid, customer = _customer_ref(o, "subscription")
    currency = _currency(o, "subscription")
    return SubscriptionRecord(
        token=_str(o, "token", "subscription"),
        customer_id=cid,
        serial_number=_int(o, "serial_number", "subscription"),
        created=_int(o, "created", "subscription"),
        status=_str(o, "status", "subscription"),
        items=_items(o, currency, "subscription"),
        total=_int(o, "total", "subscription"),
        currency=currency,
        customer=customer,
    )


def parse_address(obj: Any) -> AddressRecord | None:
    if obj is None:
        return None
    o = _expect_object(obj, "address")
    return AddressRecord(
        line1=_opt_str(o, "line_1"),
        line2=_opt_str(o, "line_2"),
        line3=_opt_str(o, "line_3"),
        zip_code=_opt_str(o, "zip_code"),
        locality=_opt_str(o, "locality"),
        region=_opt_str(o, "region"),
        country=_opt_str(o, "country"),
    )


def parse_invoice(obj: Any) -> InvoiceRecord:
    o = _expect_object(obj, "invoice")
    cid, customer = _customer_ref(o, "invoice")
    currency = _currency(o, "invoice")
    sub = o.get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("token")
    return InvoiceRecord(
        id=_str(o, "id", "invoice"),
        created=_int(o, "created", "invoice"),
        order_number=_int(o, "order_number", "invoice"),
        paid=bool(o.get("paid")),
        shipped=bool(o.get("shipped")),
        shipping_details=_opt_str(o, "shipping_details"),
        billing_address=parse_address(o.get("billing_address")),
        shipping_address=parse_address(o.get("shipping_address")),
        total=_int(o, "total", "invoice"),
        currency=currency,
        items=_items(o, currency, "invoice"),
        customer_id=cid,
        customer=customer,
        subscription_token=None if sub is None else str(sub),
    )
