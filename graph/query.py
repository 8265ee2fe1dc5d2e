"""``Query``: the read API's entry points."""

from __future__ import annotations

import strawberry

from graph.account import Account
from graph.captured_email import CapturedEmail
from graph.connection import Connection, load_connection
from graph.context import Info
from graph.customer import Customer
from graph.event import Event
from graph.event_type import EventType
from graph.invoice import Invoice
from graph.lazy import later
from graph.lookup import (
    MAX_NODES,
    customer_by_any_id,
    invoice_by_any_id,
    resolve_node,
    space_by_any_id,
)
from graph.node import Node
from graph.resource_subscription import ResourceSubscription
from graph.space import Space
from graph.subscription import Subscription
from graph.webhook import Webhook
from resolvers import records as r
from resolvers.errors import BadUserInput


def _id(obj: r.CustomerRecord | r.InvoiceRecord | r.CapturedEmailRecord) -> str:
    return obj.id


def _listed_id(
    obj: r.EventRecord | r.WebhookRecord | r.ResourceSubscriptionRecord,
) -> str:
    return obj.id


def _space_key(obj: r.SpaceRecord) -> str:
    return str(obj.id)


def _token(obj: r.SubscriptionRecord) -> str:
    return obj.token


@strawberry.type(description="Read the Spaces account of the caller's access token.")
class Query:
    @strawberry.field(description="Fetch any object by its global ID; null if it does not exist.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(
        description=f"Fetch up to {MAX_NODES} objects by global ID, in order; null where unknown."
    )
    def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInput(f"`ids` takes at most {MAX_NODES} IDs", argument="ids")
        return [later(resolve_node(info, value, "ids")) for value in ids]

    @strawberry.field(description="The Spaces user whose access token made this request.")
    async def viewer(self, info: Info) -> Account | None:
        return Account.from_record(r.parse_account(await info.context.upstream.get("account")))

    @strawberry.field(description="A Space by global ID or by the upstream's integer ID.")
    async def space(self, info: Info, id: strawberry.ID) -> Space | None:
        return await space_by_any_id(info, id)

    @strawberry.field(description="The user's Spaces, newest first.")
    async def spaces(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Space] | None:
        return await load_connection(
            info, kind="space", path="spaces", wrap=Space.from_record, key=_space_key,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="A customer by global ID or by the upstream's customer ID.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await customer_by_any_id(info, id)

    @strawberry.field(description="Customers of all the user's Spaces, newest first.")
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Customer] | None:
        return await load_connection(
            info, kind="customer", path="customers", wrap=Customer.from_record, key=_id,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="Subscriptions of all customers, newest first.")
    async def subscriptions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Subscription] | None:
        return await load_connection(
            info, kind="subscription", path="subscriptions", wrap=Subscription.from_record,
            key=_token, first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="An invoice by global ID or by the upstream's invoice ID.")
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        return await invoice_by_any_id(info, id)

    @strawberry.field(description="Invoices of all customers, newest first.")
    async def invoices(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Invoice] | None:
        return await load_connection(
            info, kind="invoice", path="invoices", wrap=Invoice.from_record, key=_id,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="Events, newest first; `types` keeps only those kinds.")
    async def events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        types: list[EventType] | None = None,
    ) -> Connection[Event] | None:
        filters: dict[str, str | int] = {}
        if types:
            filters["type"] = ",".join(sorted({t.value for t in types}))
        return await load_connection(
            info, kind="event", path="events", filters=filters, wrap=Event.from_record,
            key=_listed_id, first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="Deliveries of events to REST Hooks, newest first.")
    async def webhooks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Webhook] | None:
        return await load_connection(
            info, kind="webhook", path="webhooks", wrap=Webhook.from_record, key=_listed_id,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="Emails captured on all the user's Spaces, newest first.")
    async def captured_emails(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CapturedEmail] | None:
        return await load_connection(
            info, kind="captured_email", path="captured_emails", wrap=CapturedEmail.from_record,
            key=_id, first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="The account's REST Hooks, newest first.")
    async def resource_subscriptions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ResourceSubscription] | None:
        return await load_connection(
            info, kind="resource_subscription", path="resource_subscriptions",
            wrap=ResourceSubscription.from_record, key=_listed_id,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip
