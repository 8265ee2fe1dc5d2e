"""The upstream writes behind the mutations, and how a request's caches learn of them.

Each write is exactly one upstream request: ``UpstreamSession.request`` never
retries, and that matters here, since a write that timed out may still have
happened, and repeating it could pay or cancel twice. Failures surface as the
client maps them (``resolvers/errors.py``); the mutation layer decides which
of them are the caller's ``userErrors``.

After a write, the same operation's loaders must show the new state: a later
mutation field, or a nested selection of the payload, may read the object
again. aiodataloader's ``prime`` keeps an existing entry, so the stale key is
cleared first; lists may have changed in ways no single key describes, so the
page cache is dropped whole.
"""

from __future__ import annotations

from resolvers import records as r
from resolvers.client import UpstreamSession, segment
from resolvers.loaders import Loaders


async def create_resource_subscription(
    upstream: UpstreamSession, event: str, target_url: str
) -> r.ResourceSubscriptionRecord:
    """``POST /resource_subscriptions``: a REST Hook for ``event`` delivering to ``target_url``."""
    payload = await upstream.request(
        "POST", "resource_subscriptions", json_body={"event": event, "target_url": target_url}
    )
    return r.parse_resource_subscription(payload)


async def delete_resource_subscription(upstream: UpstreamSession, hook_id: str) -> None:
    """``DELETE /resource_subscriptions/{id}``: stop a REST Hook's deliveries."""
    # The body (the deleted object, or none with 204) tells nothing the caller lacks.
    await upstream.request("DELETE", f"resource_subscriptions/{segment(hook_id)}")


async def cancel_subscription(
    upstream: UpstreamSession, customer_id: str, token: str
) -> r.SubscriptionRecord:
    """``DELETE /customers/{id}/subscriptions/{token}``: cancel; answers the subscription."""
    payload = await upstream.request(
        "DELETE", f"customers/{segment(customer_id)}/subscriptions/{segment(token)}"
    )
    return r.parse_subscription(payload, customer_id=customer_id)


async def pay_invoice(upstream: UpstreamSession, invoice_id: str) -> r.InvoiceRecord:
    """``POST /invoices/{id}/pay``: mark the invoice paid; answers the invoice."""
    return r.parse_invoice(await upstream.request("POST", f"invoices/{segment(invoice_id)}/pay"))


# --- what the operation's caches see afterwards ----------------------------------------


def remember_resource_subscription(loaders: Loaders, hook: r.ResourceSubscriptionRecord) -> None:
    """A created REST Hook: its lookups answer it, lists are fetched again."""
    loaders.resource_subscription.clear(hook.id).prime(hook.id, hook)
    loaders.page.clear_all()


def forget_resource_subscription(loaders: Loaders, hook_id: str) -> None:
    """A deleted REST Hook: its lookups answer null, lists are fetched again."""
    loaders.resource_subscription.clear(hook_id).prime(hook_id, None)
    loaders.page.clear_all()


def remember_subscription(loaders: Loaders, sub: r.SubscriptionRecord) -> None:
    """A changed subscription replaces the cached one; lists are fetched again."""
    loaders.subscription.clear((sub.customer_id, sub.token))
    loaders.prime_subscription(sub)
    loaders.page.clear_all()


def remember_invoice(loaders: Loaders, invoice: r.InvoiceRecord) -> None:
    """A changed invoice replaces the cached one; lists are fetched again."""
    loaders.invoice.clear(invoice.id)
    loaders.prime_invoice(invoice)
    loaders.page.clear_all()
