"""``InvoiceItem``: one line of an invoice."""

from __future__ import annotations

import strawberry

from graph.money import Money
from graph.scalars import DateTime
from resolvers.records import ItemRecord


@strawberry.type(description="One line of an invoice.")
class InvoiceItem:
    item_id: str = strawberry.field(
        description="The item's ID (the upstream sends a string or a number; always a string here)."
    )
    description: str | None = strawberry.field(description="What the item is.")
    quantity: int = strawberry.field(description="How many units.")
    discount: Money = strawberry.field(description="Discount taken off this line.")
    unit_amount: Money = strawberry.field(description="Price of one unit.")
    total_amount: Money = strawberry.field(description="Line total after discount.")
    date_range_start: DateTime | None = strawberry.field(
        description="Start of the billed period, for recurring items."
    )
    date_range_end: DateTime | None = strawberry.field(
        description="End of the billed period, for recurring items."
    )

    @classmethod
    def from_record(cls, rec: ItemRecord) -> InvoiceItem:
        return cls(
            item_id=rec.item_id,
            description=rec.description,
            quantity=rec.quantity,
            discount=Money(amount=rec.discount, currency=rec.currency),
            unit_amount=Money(amount=rec.unit_amount, currency=rec.currency),
            total_amount=Money(amount=rec.total_amount, currency=rec.currency),
            date_range_start=DateTime(rec.date_range_start) if rec.date_range_start else None,
            date_range_end=DateTime(rec.date_range_end) if rec.date_range_end else None,
        )
