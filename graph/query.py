"""``Query``: the read API's entry points."""

from __future__ import annotations

import strawberry

from graph.account import Account
from graph.captured_email import CapturedEmail
from graph.connection import argument, connection
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
from resolvers.resources import (
    CAPTURED_EMAIL,
    CUSTOMER,
    EVENT,
    INVOICE,
    RESOURCE_SUBSCRIPTION,
    SPACE,
    SUBSCRIPTION,
    WEBHOOK,
)


def _event_types(types: list[EventType] | None) -> str | None:
    """The upstream's ``type`` filter: the kinds asked for, each once, in a stable order."""
    return ",".join(sorted({t.value for t in types})) if types else None


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

    @strawberry.field(
        description="A Space by global ID, by the upstream's integer ID, or by its name "
        "(the last path segment of its public URL, e.g. `alices-books`); null if none."
    )
    async def space(self, info: Info, id: strawberry.ID) -> Space | None:
        return await space_by_any_id(info, id)

    spaces = connection("The user's Spaces, newest first.", Space, SPACE)

    @strawberry.field(description="A customer by global ID or by the upstream's customer ID.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await customer_by_any_id(info, id)

    customers = connection("Customers of all the user's Spaces, newest first.", Customer, CUSTOMER)

    subscriptions = connection(
        "Subscriptions of all customers, newest first.", Subscription, SUBSCRIPTION
    )

    @strawberry.field(description="An invoice by global ID or by the upstream's invoice ID.")
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        return await invoice_by_any_id(info, id)

    invoices = connection("Invoices of all customers, newest first.", Invoice, INVOICE)

    events = connection(
        "Events, newest first; `types` keeps only those kinds.",
        Event,
        EVENT,
        filters={"type": argument("types", list[EventType] | None, _event_types)},
    )

    webhooks = connection("Deliveries of events to REST Hooks, newest first.", Webhook, WEBHOOK)

    captured_emails = connection(
        "Emails captured on all the user's Spaces, newest first.", CapturedEmail, CAPTURED_EMAIL
    )

    resource_subscriptions = connection(
        "The account's REST Hooks, newest first.", ResourceSubscription, RESOURCE_SUBSCRIPTION
    )
