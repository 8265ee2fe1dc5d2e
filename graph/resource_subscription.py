"""``ResourceSubscription``: a REST Hook, delivering events of one type to a URL."""

from __future__ import annotations

import strawberry

from graph.event_type import EventType, event_type
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from resolvers.records import ResourceSubscriptionRecord


@strawberry.type(
    description="A REST Hook: every event of one type is POSTed as JSON to its target URL."
)
class ResourceSubscription(Node):
    event: EventType = strawberry.field(description="The event type it delivers.")
    target_url: str = strawberry.field(description="The URL events are POSTed to.")
    api_version: str | None = strawberry.field(description="The API version of the payloads.")
    created_at: DateTime = strawberry.field(description="When it was created.")

    @classmethod
    def from_record(cls, rec: ResourceSubscriptionRecord) -> ResourceSubscription:
        return cls(
            id=to_global_id("ResourceSubscription", rec.id),
            event=event_type(rec.event),
            target_url=rec.target_url,
            api_version=rec.api_version,
            created_at=DateTime(rec.created),
        )
