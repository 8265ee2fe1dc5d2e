"""Typed, normalised records parsed once from upstream payloads.

The graph layer wraps these and never sees a REST payload. Parsing tolerates
the reference's real-world quirks (``spaces-api.md``, "Gaps"): a customer
named by ``token`` instead of ``id``, ``item_id`` as string or integer,
``currency`` as a code string. A payload missing a field the contract
promises raises :class:`MalformedPayload` (reported as ``UPSTREAM_ERROR``).

An embedded object may be *partial* (a snapshot that lacks fields); such a
record has ``partial=True`` and the graph asks a loader for the full object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from resolvers.errors import MalformedPayload

T = TypeVar("T")
Json = Mapping[str, Any]


@dataclass(slots=True)
class AccountRecord:
    created: int
    name: str | None
    email: str | None
    avatar_image_url: str | None
    referral_code: str | None


@dataclass(slots=True)
class SpaceRecord:
    id: int
    created: int
    url: str | None


@dataclass(slots=True)
class CustomerRecord:
    id: str
    created: int
    name: str | None
    email: str | None
    space: SpaceRecord | None
    partial: bool = False


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


@dataclass(slots=True)
class CapturedEmailRecord:
    id: str
    created: int
    email: str
    space: SpaceRecord | None


Resource = CustomerRecord | InvoiceRecord | SubscriptionRecord | CapturedEmailRecord


@dataclass(slots=True)
class EventRecord:
    id: str
    created: int
    type: str
    resource: Resource | None


@dataclass(slots=True)
class WebhookRecord:
    id: str
    created: int
    url: str
    pending: bool
    event: EventRecord


@dataclass(slots=True)
class ResourceSubscriptionRecord:
    id: str
    created: int
    event: str
    target_url: str
    api_version: str | None


@dataclass(slots=True)
class Page(Generic[T]):
    """One upstream list page, in the upstream's order (newest first)."""

    items: list[T]
    has_more: bool


# --- field readers --------------------------------------------------------------


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


# --- parsers ----------------------------------------------------------------------


def parse_account(obj: Any) -> AccountRecord:
    o = _expect_object(obj, "account")
    return AccountRecord(
        created=_int(o, "created", "account"),
        name=_opt_str(o, "name"),
        email=_opt_str(o, "email"),
        avatar_image_url=_opt_str(o, "avatar_image_url"),
        referral_code=_opt_str(o, "referral_code"),
    )


def parse_space(obj: Any) -> SpaceRecord:
    o = _expect_object(obj, "space")
    return SpaceRecord(
        id=_int(o, "id", "space"), created=_int(o, "created", "space"), url=_opt_str(o, "url")
    )


def customer_identity(o: Json) -> str:
    """A customer's ID, spelled ``id`` or (in some event payloads) ``token``."""
    value = o.get("id")
    if type(value) is str:
        return value
    if value is None:
        value = o.get("token")
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedPayload("upstream customer has neither 'id' nor 'token'")
    return str(value)


def parse_customer(obj: Any) -> CustomerRecord:
    o = _expect_object(obj, "customer")
    cid = customer_identity(o)
    space_obj = o.get("space")
    space = parse_space(space_obj) if isinstance(space_obj, dict) else None
    created = o.get("created")
    partial = space is None or created is None or "email" not in o or "name" not in o
    return CustomerRecord(
        id=cid,
        created=_int(o, "created", "customer") if created is not None else 0,
        name=_opt_str(o, "name"),
        email=_opt_str(o, "email"),
        space=space,
        partial=partial,
    )


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


def parse_captured_email(obj: Any) -> CapturedEmailRecord:
    o = _expect_object(obj, "captured_email")
    space_obj = o.get("space")
    return CapturedEmailRecord(
        id=_str(o, "id", "captured_email"),
        created=_int(o, "created", "captured_email"),
        email=_str(o, "email", "captured_email"),
        space=parse_space(space_obj) if isinstance(space_obj, dict) else None,
    )


_SNAPSHOT_PARSERS: dict[str, Callable[[Any], Resource]] = {
    "customer": parse_customer,
    "invoice": parse_invoice,
    "subscription": parse_subscription,
    "captured_email": parse_captured_email,
}


def parse_resource(obj: Any) -> Resource | None:
    """An event's snapshot, typed by its ``object`` (or by the event type's prefix)."""
    if not isinstance(obj, dict):
        return None
    parser = _SNAPSHOT_PARSERS.get(str(obj.get("object")))
    return parser(obj) if parser else None


def parse_event(obj: Any) -> EventRecord:
    o = _expect_object(obj, "event")
    etype = _str(o, "type", "event")
    data = o.get("data")
    snapshot = data.get("object") if isinstance(data, dict) else None
    if isinstance(snapshot, dict) and "object" not in snapshot:
        snapshot = {**snapshot, "object": etype.split(".", 1)[0]}
    return EventRecord(
        id=_str(o, "id", "event"),
        created=_int(o, "created", "event"),
        type=etype,
        resource=parse_resource(snapshot),
    )


def parse_webhook(obj: Any) -> WebhookRecord:
    o = _expect_object(obj, "webhook")
    return WebhookRecord(
        id=_str(o, "id", "webhook"),
        created=_int(o, "created", "webhook"),
        url=_str(o, "url", "webhook"),
        pending=bool(o.get("pending")),
        event=parse_event(_req(o, "event", "webhook")),
    )


def parse_resource_subscription(obj: Any) -> ResourceSubscriptionRecord:
    o = _expect_object(obj, "resource_subscription")
    return ResourceSubscriptionRecord(
        id=_str(o, "id", "resource_subscription"),
        created=_int(o, "created", "resource_subscription"),
        event=_str(o, "event", "resource_subscription"),
        target_url=_str(o, "target_url", "resource_subscription"),
        api_version=_opt_str(o, "api_version"),
    )


def parse_page(obj: Any, parse: Callable[[Any], T]) -> Page[T]:
    """The list envelope ``{"object": "list", "has_more": …, "data": […]}``."""
    o = _expect_object(obj, "list")
    data = o.get("data")
    if not isinstance(data, list):
        raise MalformedPayload("upstream list lacks 'data'")
    return Page(items=[parse(item) for item in data], has_more=bool(o.get("has_more")))
