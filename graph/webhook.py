"""``Webhook``: one delivery of an event to a REST Hook."""

from __future__ import annotations

import strawberry

from graph.event import Event
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from resolvers.records import WebhookRecord


@strawberry.type(
    description="A delivery of an event to a REST Hook; retried hourly until delivered."
)
class Webhook(Node):
    url: str = strawberry.field(description="Where the event is delivered.")
    pending: bool = strawberry.field(description="True until the delivery succeeds.")
    created_at: DateTime = strawberry.field(description="When the delivery was first tried.")
    _record: strawberry.Private[WebhookRecord]

    @classmethod
    def from_record(cls, rec: WebhookRecord) -> Webhook:
        return cls(
            id=to_global_id("Webhook", rec.id),
            url=rec.url,
            pending=rec.pending,
            created_at=DateTime(rec.created),
            _record=rec,
        )

    @strawberry.field(description="The event delivered.")
    def event(self) -> Event:
        return Event.from_record(self._record.event)
