"""``EventType``: the kinds of events Spaces records."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers.errors import MalformedPayload


@strawberry.enum(description="What an event is about (the upstream's `type`, e.g. `invoice.paid`).")
class EventType(Enum):
    CUSTOMER_CREATED = "customer.created"
    INVOICE_CREATED = "invoice.created"
    INVOICE_PAID = "invoice.paid"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_CANCELLED = "subscription.cancelled"
    CAPTURED_EMAIL_CREATED = "captured_email.created"


_BY_VALUE = {member.value: member for member in EventType}


def event_type(upstream: str) -> EventType:
    """The enum member for an upstream type string."""
    try:
        return _BY_VALUE[upstream]
    except KeyError:
        raise MalformedPayload(f"the upstream sent an unknown event type {upstream!r}") from None
