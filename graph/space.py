"""``Space``: a Spaces site, the home of customers and captured emails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from graph.connection import Connection, load_connection
from graph.context import Info
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from resolvers.records import CapturedEmailRecord, CustomerRecord, SpaceRecord

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

    @strawberry.field(description="The Space's customers, newest first.")
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Customer, strawberry.lazy("graph.customer")]] | None:
        from graph.customer import Customer

        def key(c: CustomerRecord) -> str:
            return c.id

        return await load_connection(
            info,
            kind="customer",
            path="customers",
            filters={"space": self.space_id},
            wrap=Customer.from_record,
            key=key,
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field(description="Emails captured on the Space, newest first.")
    async def captured_emails(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[CapturedEmail, strawberry.lazy("graph.captured_email")]] | None:
        from graph.captured_email import CapturedEmail

        def key(c: CapturedEmailRecord) -> str:
            return c.id

        return await load_connection(
            info,
            kind="captured_email",
            path="captured_emails",
            filters={"space": self.space_id},
            wrap=CapturedEmail.from_record,
            key=key,
            first=first,
            after=after,
            last=last,
            before=before,
        )
