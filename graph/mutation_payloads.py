"""Inputs and payloads of the mutations (Relay style: one ``input``, one payload)."""

from __future__ import annotations

import strawberry

from graph.event_type import EventType
from graph.invoice import Invoice
from graph.resource_subscription import ResourceSubscription
from graph.subscription import Subscription
from graph.user_error import UserError

_USER_ERRORS = "What was refused and why; empty when the mutation succeeded."


@strawberry.input(description="A new REST Hook: which events, delivered where.")
class CreateResourceSubscriptionInput:
    event: EventType = strawberry.field(description="The event type to deliver.")
    target_url: str = strawberry.field(
        description="Absolute `https` URL of a public host that receives each event as a "
        "JSON POST. Internal addresses (loopback, private, link-local, …) are refused."
    )


@strawberry.input(description="The REST Hook to delete.")
class DeleteResourceSubscriptionInput:
    id: strawberry.ID = strawberry.field(
        description="The ResourceSubscription's global ID, or the upstream's ID (`rs_…`)."
    )


@strawberry.input(description="The subscription to cancel.")
class CancelSubscriptionInput:
    id: strawberry.ID = strawberry.field(
        description="The Subscription's global ID (it names the customer and the token)."
    )


@strawberry.input(description="The invoice to mark paid.")
class PayInvoiceInput:
    id: strawberry.ID = strawberry.field(
        description="The Invoice's global ID, or the upstream's invoice ID."
    )


@strawberry.input(description="The upstream account's login (upstreams with a login flow).")
class LoginInput:
    email: str = strawberry.field(description="The account's email address.")
    password: str = strawberry.field(
        description="The account's password: sent upstream once, never logged nor kept. "
        "Pass it as a variable, not in the query text."
    )


@strawberry.type(description="What `login` did.")
class LoginPayload:
    token: str | None = strawberry.field(
        description="An opaque access token: send it as `Authorization: Bearer <token>`. "
        "It carries the upstream session (the facade stores nothing) and is valid as long as "
        "the upstream's session is; null when `userErrors` says why not."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)


@strawberry.type(description="What `createResourceSubscription` did.")
class CreateResourceSubscriptionPayload:
    resource_subscription: ResourceSubscription | None = strawberry.field(
        description="The new REST Hook; null when `userErrors` says why not."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)


@strawberry.type(description="What `deleteResourceSubscription` did.")
class DeleteResourceSubscriptionPayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the deleted REST Hook; null when `userErrors` says why not."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)


@strawberry.type(description="What `cancelSubscription` did.")
class CancelSubscriptionPayload:
    subscription: Subscription | None = strawberry.field(
        description="The subscription as it now is; null when `userErrors` says why not."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)


@strawberry.type(description="What `payInvoice` did.")
class PayInvoicePayload:
    invoice: Invoice | None = strawberry.field(
        description="The invoice as it now is; null when `userErrors` says why not."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)
