"""``Mutation``: the writes, each one upstream request, never retried.

Upstream 400-class answers (400, 404, 409, 422) are the caller's problem and
come back as ``userErrors`` on the input field; input the facade can judge
itself (malformed IDs, unsafe REST Hook targets) is refused the same way
before any upstream call. Upstream failures (5xx, timeouts, 401) stay GraphQL
errors, as everywhere else in the schema.

The root fields are nullable on purpose: mutations run serially, and a
non-null field that failed would null the whole ``data``, hiding from the
caller that earlier fields of the same operation did write.
"""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.invoice import Invoice
from graph.lookup import upstream_key
from graph.mutation_payloads import (
    CancelSubscriptionInput,
    CancelSubscriptionPayload,
    CreateResourceSubscriptionInput,
    CreateResourceSubscriptionPayload,
    DeleteResourceSubscriptionInput,
    DeleteResourceSubscriptionPayload,
    PayInvoiceInput,
    PayInvoicePayload,
)
from graph.node import from_global_id, to_global_id
from graph.resource_subscription import ResourceSubscription
from graph.subscription import Subscription
from graph.user_error import (
    ALREADY_CANCELLED,
    ALREADY_PAID,
    ID_FIELD,
    INPUT,
    UserError,
    from_upstream,
    invalid,
)
from resolvers import writes
from resolvers.client import valid_upstream_id
from resolvers.errors import BadUserInput, NotFound, UpstreamRejected
from resolvers.targets import TargetPolicy, TargetRefused, check_target_url

TARGET_URL_FIELD = [INPUT, "targetUrl"]
EVENT_FIELD = [INPUT, "event"]


class _Refused(Exception):
    """Carries a ``UserError`` out of the input checks to the mutation that returns it."""

    def __init__(self, error: UserError) -> None:
        super().__init__(error.message)
        self.error = error


def _key(value: str, type_name: str) -> str:
    """The upstream ID behind a global ID of ``type_name`` or a raw upstream ID."""
    try:
        key = upstream_key(value, type_name)
    except BadUserInput as exc:
        raise _Refused(invalid(ID_FIELD, exc.message)) from None
    if not valid_upstream_id(key):
        raise _Refused(invalid(ID_FIELD, f"`id` is not a valid {type_name} ID"))
    return key


def _subscription_key(value: str) -> tuple[str, str]:
    """(customer ID, token): a Subscription is named by both, so only its global ID will do."""
    decoded = from_global_id(value)
    if decoded is None or decoded[0] != "Subscription":
        raise _Refused(invalid(ID_FIELD, "`id` is not the global ID of a Subscription"))
    customer_id, _, token = decoded[1].partition("/")
    if not (valid_upstream_id(customer_id) and valid_upstream_id(token)):
        raise _Refused(invalid(ID_FIELD, "`id` is not the global ID of a Subscription"))
    return customer_id, token


def _field_named_by(message: str) -> list[str]:
    """Which input field an upstream refusal of a new REST Hook is about."""
    lowered = message.lower()
    if "url" in lowered:
        return TARGET_URL_FIELD
    if "event" in lowered:
        return EVENT_FIELD
    return [INPUT]


@strawberry.type(description="Change the Spaces account of the caller's access token.")
class Mutation:
    @strawberry.mutation(
        description="Subscribe a public HTTPS URL to one event type (a REST Hook). "
        "Targets inside a network, in any spelling or by DNS, are refused as `UNSAFE_TARGET`."
    )
    async def create_resource_subscription(
        self, info: Info, input: CreateResourceSubscriptionInput
    ) -> CreateResourceSubscriptionPayload | None:
        ctx = info.context
        policy = TargetPolicy(
            resolve=ctx.resolve_host, allow_loopback=ctx.config.allow_loopback_targets
        )
        try:
            target_url = await check_target_url(input.target_url, policy)
        except TargetRefused as exc:
            error = UserError(field=TARGET_URL_FIELD, message=exc.message, code=exc.user_code)
            return CreateResourceSubscriptionPayload(
                resource_subscription=None, user_errors=[error]
            )
        try:
            hook = await writes.create_resource_subscription(
                ctx.upstream, input.event.value, target_url
            )
        except (UpstreamRejected, NotFound) as exc:
            error = from_upstream(exc, _field_named_by(exc.message))
            return CreateResourceSubscriptionPayload(
                resource_subscription=None, user_errors=[error]
            )
        writes.remember_resource_subscription(ctx.loaders, hook)
        return CreateResourceSubscriptionPayload(
            resource_subscription=ResourceSubscription.from_record(hook), user_errors=[]
        )

    @strawberry.mutation(description="Delete a REST Hook: its events are no longer delivered.")
    async def delete_resource_subscription(
        self, info: Info, input: DeleteResourceSubscriptionInput
    ) -> DeleteResourceSubscriptionPayload | None:
        ctx = info.context
        try:
            key = _key(input.id, "ResourceSubscription")
            await writes.delete_resource_subscription(ctx.upstream, key)
        except _Refused as refused:
            return DeleteResourceSubscriptionPayload(deleted_id=None, user_errors=[refused.error])
        except (UpstreamRejected, NotFound) as exc:
            return DeleteResourceSubscriptionPayload(
                deleted_id=None, user_errors=[from_upstream(exc, ID_FIELD)]
            )
        writes.forget_resource_subscription(ctx.loaders, key)
        return DeleteResourceSubscriptionPayload(
            deleted_id=to_global_id("ResourceSubscription", key), user_errors=[]
        )

    @strawberry.mutation(
        description="Cancel an active subscription; cancelling twice is `ALREADY_CANCELLED`."
    )
    async def cancel_subscription(
        self, info: Info, input: CancelSubscriptionInput
    ) -> CancelSubscriptionPayload | None:
        ctx = info.context
        try:
            customer_id, token = _subscription_key(input.id)
            sub = await writes.cancel_subscription(ctx.upstream, customer_id, token)
        except _Refused as refused:
            return CancelSubscriptionPayload(subscription=None, user_errors=[refused.error])
        except (UpstreamRejected, NotFound) as exc:
            error = from_upstream(exc, ID_FIELD, ALREADY_CANCELLED)
            return CancelSubscriptionPayload(subscription=None, user_errors=[error])
        writes.remember_subscription(ctx.loaders, sub)
        return CancelSubscriptionPayload(subscription=Subscription.from_record(sub), user_errors=[])

    @strawberry.mutation(description="Mark an unpaid invoice paid; paying twice is `ALREADY_PAID`.")
    async def pay_invoice(self, info: Info, input: PayInvoiceInput) -> PayInvoicePayload | None:
        ctx = info.context
        try:
            invoice = await writes.pay_invoice(ctx.upstream, _key(input.id, "Invoice"))
        except _Refused as refused:
            return PayInvoicePayload(invoice=None, user_errors=[refused.error])
        except (UpstreamRejected, NotFound) as exc:
            error = from_upstream(exc, ID_FIELD, ALREADY_PAID)
            return PayInvoicePayload(invoice=None, user_errors=[error])
        writes.remember_invoice(ctx.loaders, invoice)
        return PayInvoicePayload(invoice=Invoice.from_record(invoice), user_errors=[])
