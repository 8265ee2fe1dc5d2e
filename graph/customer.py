"""``Customer``: a customer of one of the user's Spaces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from graph.connection import connection, parent
from graph.context import Info
from graph.lazy import later
from graph.node import Node, to_global_id
from graph.scalars import DateTime
from graph.space import Space
from resolvers.errors import MalformedPayload
from resolvers.records import CustomerRecord
from resolvers.resources import INVOICE, SUBSCRIPTION

if TYPE_CHECKING:
    from graph.invoice import Invoice
    from graph.subscription import Subscription


@strawberry.type(description="A customer of one of the user's Spaces.")
class Customer(Node):
    customer_id: str = strawberry.field(description="The upstream's ID of the customer.")
    name: str | None = strawberry.field(description="The customer's name.")
    email: str | None = strawberry.field(description="The customer's email address.")
    created_at: DateTime = strawberry.field(description="When the customer signed up.")
    _record: strawberry.Private[CustomerRecord]

    @classmethod
    def from_record(cls, rec: CustomerRecord) -> Customer:
        return cls(
            id=to_global_id("Customer", rec.id),
            customer_id=rec.id,
            name=rec.name,
            email=rec.email,
            created_at=DateTime(rec.created),
            _record=rec,
        )

    @strawberry.field(description="The Space the customer belongs to.")
    def space(self, info: Info) -> Space:
        if self._record.space is not None:
            return Space.from_record(self._record.space)
        return later(self._load_space(info))

    async def _load_space(self, info: Info) -> Space:
        full = await info.context.loaders.customer.get(self.customer_id)
        if full is None or full.space is None:
            raise MalformedPayload("the upstream customer carries no Space")
        return Space.from_record(full.space)

    subscriptions = connection(
        "The customer's subscriptions, newest first.",
        Annotated["Subscription", strawberry.lazy("graph.subscription")],
        SUBSCRIPTION,
        path="customers/{customer_id}/subscriptions",
    )

    invoices = connection(
        "The customer's invoices, newest first.",
        Annotated["Invoice", strawberry.lazy("graph.invoice")],
        INVOICE,
        filters={"customer": parent("customer_id")},
    )


async def load_customer(info: Info, customer_id: str) -> Customer:
    """The full customer, from the request's loader (a relation that must exist)."""
    rec = await info.context.loaders.customer.get(customer_id)
    if rec is None:
        raise MalformedPayload(f"the upstream refers to customer {customer_id!r} but has none")
    return Customer.from_record(rec)


def customer_of(info: Info, embedded: CustomerRecord | None, customer_id: str) -> Customer:
    """The embedded customer when it is complete, else (awaitable) from the loader."""
    if embedded is not None and not embedded.partial:
        return Customer.from_record(embedded)
    return later(load_customer(info, customer_id))
