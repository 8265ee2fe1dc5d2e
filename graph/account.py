"""``Account``: the authenticated Spaces user."""

from __future__ import annotations

import strawberry

from graph.scalars import DateTime
from resolvers.records import AccountRecord


@strawberry.type(description="The Spaces user whose access token made this request.")
class Account:
    name: str | None = strawberry.field(description="The user's name.")
    email: str | None = strawberry.field(description="The user's email address.")
    avatar_image_url: str | None = strawberry.field(description="URL of the user's avatar image.")
    referral_code: str | None = strawberry.field(description="The user's referral code.")
    created_at: DateTime = strawberry.field(description="When the account was created.")

    @classmethod
    def from_record(cls, rec: AccountRecord) -> Account:
        return cls(
            name=rec.name,
            email=rec.email,
            avatar_image_url=rec.avatar_image_url,
            referral_code=rec.referral_code,
            created_at=DateTime(rec.created),
        )
