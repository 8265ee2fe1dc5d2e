"""``Event``: something that happened in the account, with a snapshot of it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.captured_email import CapturedEmail
from graph.customer import Customer
from graph.event_type import EventType, event_type
from graph.invoice import Invoice
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from graph.subscription import Subscription
from resolvers import records as r

EventResource = Annotated[
    Customer | Invoice | Subscription | CapturedEmail,
    strawberry.union(
        "EventResource", description="The object an event is about, as it was when it happened."
    ),
]


@strawberry.type(description="An event: a customer signed up, an invoice was paid, and so on.")
class Event(Node):
    type: EventType = strawberry.field(description="What happened.")
    created_at: DateTime = strawberry.field(description="When it happened.")
    _record: strawberry.Private[r.EventRecord]

    @classmethod
    def from_record(cls, rec: r.EventRecord) -> Event:
        return cls(
            id=to_global_id("Event", rec.id),
            type=event_type(rec.type),
            created_at=DateTime(rec.created),
            _record=rec,
        )

    @strawberry.field(
        description="A snapshot of the object the event is about, taken when it happened."
    )
    def resource(self) -> EventResource | None:
        res = self._record.resource
        if isinstance(res, r.CustomerRecord):
            return Customer.from_record(res)
        if isinstance(res, r.InvoiceRecord):
            return Invoice.from_record(res)
        if isinstance(res, r.SubscriptionRecord):
            return Subscription.from_record(res)
        if isinstance(res, r.CapturedEmailRecord):
            return CapturedEmail.from_record(res)
        return None
