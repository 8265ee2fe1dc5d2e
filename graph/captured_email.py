"""``CapturedEmail``: an email address a visitor left on a Space."""

from __future__ import annotations

import strawberry

from graph.node import Node, to_global_id
from graph.scalars import DateTime
from graph.space import Space
from resolvers.errors import MalformedPayload
from resolvers.records import CapturedEmailRecord


@strawberry.type(description="An email address captured on a Space (read only).")
class CapturedEmail(Node):
    email: str = strawberry.field(description="The captured address.")
    created_at: DateTime = strawberry.field(description="When it was captured.")
    _record: strawberry.Private[CapturedEmailRecord]

    @classmethod
    def from_record(cls, rec: CapturedEmailRecord) -> CapturedEmail:
        return cls(
            id=to_global_id("CapturedEmail", rec.id),
            email=rec.email,
            created_at=DateTime(rec.created),
            _record=rec,
        )

    @strawberry.field(description="The Space it was captured on.")
    def space(self) -> Space:
        if self._record.space is None:
            raise MalformedPayload("the upstream captured email carries no Space")
        return Space.from_record(self._record.space)
