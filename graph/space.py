"""``Space``: a Spaces site, the home of customers and captured emails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from graph.connection import connection, parent
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from resolvers.records import SpaceRecord
from resolvers.resources import CAPTURED_EMAIL, CUSTOMER

if TYPE_CHECKING:
    from graph.captured_email import CapturedEmail
    from graph.customer import Customer


@strawberry.type(description="A Space: one of the user's sites, with its customers.")
class Space(Node):
    space_id: int = strawberry.field(description="The upstream's integer ID of the Space.")
    url: str | None = strawberry.field(description="Public URL; null when the Space is not public.")
    created_at: DateTime = strawberry.field(description="When the Space was created.")
    _record: strawberry.Private[SpaceRecord]

    @classmethod
    def from_record(cls, rec: SpaceRecord) -> Space:
        return cls(
            id=to_global_id("Space", rec.id),
            space_id=rec.id,
            url=rec.url,
            created_at=DateTime(rec.created),
            _record=rec,
        )

    customers = connection(
        "The Space's customers, newest first.",
        Annotated["Customer", strawberry.lazy("graph.customer")],
        CUSTOMER,
        filters={"space": parent("space_id")},
    )

    captured_emails = connection(
        "Emails captured on the Space, newest first.",
        Annotated["CapturedEmail", strawberry.lazy("graph.captured_email")],
        CAPTURED_EMAIL,
        filters={"space": parent("space_id")},
    )
