"""``Subscription``: a customer's recurring billing agreement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from graph.connection import connection, parent
from graph.context import Info
from graph.customer import Customer, customer_of
from graph.money import Money
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from graph.subscription_item import SubscriptionItem
from resolvers.records import SubscriptionRecord
from resolvers.resources import INVOICE

if TYPE_CHECKING:
    from graph.invoice import Invoice


def subscription_key(customer_id: str, token: str) -> str:
    """The global ID key: the token is unique only within its customer."""
    return f"{customer_id}/{token}"


@strawberry.type(description="A customer's subscription: items billed every period.")
class Subscription(Node):
    token: str = strawberry.field(
        description="The upstream's token; unique only within the subscription's customer."
    )
    serial_number: int = strawberry.field(description="Sequential number within the Space.")
    status: str = strawberry.field(description="Status, e.g. `active` or `cancelled`.")
    created_at: DateTime = strawberry.field(description="When the subscription started.")
    total: Money = strawberry.field(description="What the subscription bills each period.")
    _record: strawberry.Private[SubscriptionRecord]
    #: ``items``, built on first use (an object may serve many operations).
    _items: strawberry.Private[list[SubscriptionItem] | None] = None

    @classmethod
    def from_record(cls, rec: SubscriptionRecord) -> Subscription:
        return cls(
            id=to_global_id("Subscription", subscription_key(rec.customer_id, rec.token)),
            token=rec.token,
            serial_number=rec.serial_number,
            status=rec.status,
            created_at=DateTime(rec.created),
            total=Money(amount=rec.total, currency=rec.currency),
            _record=rec,
        )

    @strawberry.field(description="The subscription's lines.")
    def items(self) -> list[SubscriptionItem]:
        if self._items is None:
            self._items = [SubscriptionItem.from_record(item) for item in self._record.items]
        return self._items

    @strawberry.field(description="The customer who holds the subscription.")
    def customer(self, info: Info) -> Customer:
        return customer_of(info, self._record.customer, self._record.customer_id)

    invoices = connection(
        "Invoices that bill this subscription, newest first.",
        Annotated["Invoice", strawberry.lazy("graph.invoice")],
        INVOICE,
        filters={"customer": parent("_record.customer_id"), "subscription": parent("token")},
    )
