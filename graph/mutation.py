"""``Mutation``: the writes, each one upstream request, never retried.

Upstream 400-class answers (400, 404, 409, 422) are the caller's problem and
come back as ``userErrors`` on the input field; a validation refusal that names
upstream fields (canonical 422 ``fields``) gives one per field, on its GraphQL
input path, and one that names none has no field (``graph/user_error.py``);
input the facade can judge itself (malformed IDs, unsafe REST Hook targets) is
refused the same way before any upstream call. Upstream failures (5xx, timeouts,
401) stay GraphQL errors, as everywhere else in the schema.

The writes' root fields are nullable on purpose: mutations run serially, and a
non-null field that failed would null the whole ``data``, hiding from the
caller that earlier fields of the same operation did write. ``login`` writes
nothing and is non-null (``LoginPayload!``, the design's name); it is the one
field an operation may run without a token (``spaces_graphql/pipeline.py``).
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
    LoginInput,
    LoginPayload,
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
    UNAUTHENTICATED,
    UNSUPPORTED,
    UserError,
    invalid,
    user_errors,
)
from resolvers import writes
from resolvers.client import valid_upstream_id
from resolvers.errors import BadUserInput, NotFound, UpstreamRejected
from resolvers.targets import TargetPolicy, TargetRefused, check_target_url

TARGET_URL_FIELD = [INPUT, "targetUrl"]
EVENT_FIELD = [INPUT, "event"]
EMAIL_FIELD = [INPUT, "email"]
PASSWORD_FIELD = [INPUT, "password"]
#: Upstream field names -> GraphQL input paths, per mutation (validation ``fields``).
HOOK_INPUTS = {"target_url": TARGET_URL_FIELD, "event": EVENT_FIELD}
LOGIN_INPUTS = {"email": EMAIL_FIELD, "password": PASSWORD_FIELD}
#: ``Context.memo`` key set when the upstream refused a login's credentials: the
#: pipeline charges the client address for it, as for an upstream 401.
LOGIN_REFUSED = "login_refused"
#: Longest email (RFC 5321) and password the facade sends upstream.
MAX_EMAIL = 254
MAX_PASSWORD = 1024


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


def _login_refusal(input: LoginInput) -> UserError | None:
    """Input ``login`` refuses before any upstream call."""
    if not input.email.strip() or len(input.email) > MAX_EMAIL:
        return invalid(EMAIL_FIELD, f"`email` must be 1 to {MAX_EMAIL} characters")
    if not input.password or len(input.password) > MAX_PASSWORD:
        return invalid(PASSWORD_FIELD, f"`password` must be 1 to {MAX_PASSWORD} characters")
    return None


@strawberry.type(description="Change the Spaces account of the caller's access token.")
class Mutation:
    @strawberry.mutation(
        description="Log in to the upstream account with its email and password, for an "
        "upstream whose dialect has a login flow (launch27): answers the opaque `token` to "
        "send as `Authorization: Bearer <token>`. Needs no token itself (the only field that "
        "does not). Wrong credentials are a `UNAUTHENTICATED` user error; an upstream without "
        "a login flow (spaces, spotcap: callers send their access token) answers `UNSUPPORTED`."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        ctx = info.context
        client = ctx.upstream.client
        dialect = client.dialect
        if not dialect.has_login:
            error = UserError(
                field=None,
                message=f"the upstream ({dialect.name} dialect) has no login flow: send its "
                "access token as `Authorization: Bearer <token>`",
                code=UNSUPPORTED,
            )
            return LoginPayload(token=None, user_errors=[error])
        refusal = _login_refusal(input)
        if refusal is not None:
            return LoginPayload(token=None, user_errors=[refusal])
        # One upstream request (POST /login), counted in the operation's upstreamRequests.
        ctx.upstream.requests += 1
        try:
            token = await dialect.login(client.http, input.email.strip(), input.password)
        except (UpstreamRejected, NotFound) as exc:
            return LoginPayload(token=None, user_errors=user_errors(exc, [INPUT], LOGIN_INPUTS))
        if token is None:
            ctx.memo[LOGIN_REFUSED] = True
            error = UserError(field=None, message="wrong email or password", code=UNAUTHENTICATED)
            return LoginPayload(token=None, user_errors=[error])
        return LoginPayload(token=token, user_errors=[])

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
            errors = user_errors(exc, _field_named_by(exc.message), HOOK_INPUTS)
            return CreateResourceSubscriptionPayload(resource_subscription=None, user_errors=errors)
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
                deleted_id=None, user_errors=user_errors(exc, ID_FIELD)
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
            errors = user_errors(exc, ID_FIELD, state=ALREADY_CANCELLED)
            return CancelSubscriptionPayload(subscription=None, user_errors=errors)
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
            errors = user_errors(exc, ID_FIELD, state=ALREADY_PAID)
            return PayInvoicePayload(invoice=None, user_errors=errors)
        writes.remember_invoice(ctx.loaders, invoice)
        return PayInvoicePayload(invoice=Invoice.from_record(invoice), user_errors=[])
