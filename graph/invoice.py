"""``Invoice``: a bill sent to a customer."""

from __future__ import annotations

import strawberry

from graph.address import Address
from graph.context import Info
from graph.customer import Customer, customer_of
from graph.invoice_item import InvoiceItem
from graph.lazy import later
from graph.money import Money
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from graph.subscription import Subscription
from resolvers.records import InvoiceRecord


@strawberry.type(description="An invoice: a bill sent to a customer, paid or not.")
class Invoice(Node):
    invoice_id: str = strawberry.field(description="The upstream's ID of the invoice.")
    order_number: int = strawberry.field(description="Sequential number within the Space.")
    created_at: DateTime = strawberry.field(description="When the invoice was issued.")
    paid: bool = strawberry.field(description="Whether the invoice has been paid.")
    shipped: bool = strawberry.field(description="Whether the order has been marked shipped.")
    shipping_details: str | None = strawberry.field(
        description="The message sent when the order was marked shipped."
    )
    billing_address: Address | None = strawberry.field(description="Where the bill goes.")
    shipping_address: Address | None = strawberry.field(description="Where the goods go.")
    total: Money = strawberry.field(description="The invoice total.")
    _record: strawberry.Private[InvoiceRecord]
    #: ``items``, built on first use (an object may serve many operations).
    _items: strawberry.Private[list[InvoiceItem] | None] = None

    @classmethod
    def from_record(cls, rec: InvoiceRecord) -> Invoice:
        return cls(
            id=to_global_id("Invoice", rec.id),
            invoice_id=rec.id,
            order_number=rec.order_number,
            created_at=DateTime(rec.created),
            paid=rec.paid,
            shipped=rec.shipped,
            shipping_details=rec.shipping_details,
            billing_address=Address.from_record(rec.billing_address),
            shipping_address=Address.from_record(rec.shipping_address),
            total=Money(amount=rec.total, currency=rec.currency),
            _record=rec,
        )

    @strawberry.field(description="The invoice's lines.")
    def items(self) -> list[InvoiceItem]:
        if self._items is None:
            self._items = [InvoiceItem.from_record(item) for item in self._record.items]
        return self._items

    @strawberry.field(description="The customer billed.")
    def customer(self, info: Info) -> Customer:
        return customer_of(info, self._record.customer, self._record.customer_id)

    @strawberry.field(description="The subscription this invoice bills, if it bills one.")
    def subscription(self, info: Info) -> Subscription | None:
        token = self._record.subscription_token
        if token is None:
            return None
        return later(self._load_subscription(info, token))

    async def _load_subscription(self, info: Info, token: str) -> Subscription | None:
        rec = await info.context.loaders.subscription.get((self._record.customer_id, token))
        return None if rec is None else Subscription.from_record(rec)
