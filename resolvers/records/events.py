"""Records of what happened: events (with their snapshots), webhooks, REST Hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resolvers.records.accounts import (
    CapturedEmailRecord,
    CustomerRecord,
    parse_captured_email,
    parse_customer,
)
from resolvers.records.billing import (
    InvoiceRecord,
    SubscriptionRecord,
    parse_invoice,
    parse_subscription,
)
from resolvers.records.readers import _expect_object, _int, _opt_str, _req, _str

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


#: A snapshot's ``object`` -> its parser (``tests/test_resources.py`` checks that each is
#: the parser of the resource declared under that kind in ``resolvers/resources.py``).
SNAPSHOT_PARSERS: dict[str, Callable[[Any], Resource]] = {
    "customer": parse_customer,
    "invoice": parse_invoice,
    "subscription": parse_subscription,
    "captured_email": parse_captured_email,
}


def parse_resource(obj: Any) -> Resource | None:
    """An event's snapshot, typed by its ``object`` (or by the event type's prefix)."""
    if not isinstance(obj, dict):
        return None
    parser = SNAPSHOT_PARSERS.get(str(obj.get("object")))
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
