"""``SubscriptionItem``: one line of a subscription."""

from __future__ import annotations

import strawberry

from graph.money import Money
from resolvers.records import ItemRecord


@strawberry.type(description="One line of a subscription: what is billed each period.")
class SubscriptionItem:
    item_id: str = strawberry.field(
        description="The item's ID (the upstream sends a string or a number; always a string here)."
    )
    description: str | None = strawberry.field(description="What the item is.")
    quantity: int = strawberry.field(description="How many units.")
    discount: Money = strawberry.field(description="Discount taken off this line.")
    unit_amount: Money = strawberry.field(description="Price of one unit.")
    total_amount: Money = strawberry.field(description="Line total after discount.")

    @classmethod
    def from_record(cls, rec: ItemRecord) -> SubscriptionItem:
        return cls(
            item_id=rec.item_id,
            description=rec.description,
            quantity=rec.quantity,
            discount=Money(amount=rec.discount, currency=rec.currency),
            unit_amount=Money(amount=rec.unit_amount, currency=rec.currency),
            total_amount=Money(amount=rec.total_amount, currency=rec.currency),
        )
