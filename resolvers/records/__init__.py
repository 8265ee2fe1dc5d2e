"""Typed, normalised records parsed once from upstream payloads.

The graph layer wraps these and never sees a REST payload. Parsing tolerates
the reference's real-world quirks (``spaces-api.md``, "Gaps"): a customer
named by ``token`` instead of ``id``, ``item_id`` as string or integer,
``currency`` as a code string. A payload missing a field the contract
promises raises :class:`MalformedPayload` (reported as ``UPSTREAM_ERROR``).

An embedded object may be *partial* (a snapshot that lacks fields); such a
record has ``partial=True`` and the graph asks a loader for the full object.

The records live in four modules (field readers and the list envelope;
accounts, Spaces, customers and captured emails; billing; events, webhooks
and REST Hooks), re-exported here: ``from resolvers import records as r``.
"""

from __future__ import annotations

from resolvers.records.accounts import (
    AccountRecord,
    CapturedEmailRecord,
    CustomerRecord,
    SpaceRecord,
    customer_identity,
    parse_account,
    parse_captured_email,
    parse_customer,
    parse_space,
)
from resolvers.records.billing import (
    AddressRecord,
    InvoiceRecord,
    ItemRecord,
    SubscriptionRecord,
    parse_address,
    parse_invoice,
    parse_item,
    parse_subscription,
)
from resolvers.records.events import (
    SNAPSHOT_PARSERS,
    EventRecord,
    Resource,
    ResourceSubscriptionRecord,
    WebhookRecord,
    parse_event,
    parse_resource,
    parse_resource_subscription,
    parse_webhook,
)
from resolvers.records.readers import Json, Page, T, parse_page

__all__ = [
    "SNAPSHOT_PARSERS",
    "AccountRecord",
    "AddressRecord",
    "CapturedEmailRecord",
    "CustomerRecord",
    "EventRecord",
    "InvoiceRecord",
    "ItemRecord",
    "Json",
    "Page",
    "Resource",
    "ResourceSubscriptionRecord",
    "SpaceRecord",
    "SubscriptionRecord",
    "T",
    "WebhookRecord",
    "customer_identity",
    "parse_account",
    "parse_address",
    "parse_captured_email",
    "parse_customer",
    "parse_event",
    "parse_invoice",
    "parse_item",
    "parse_page",
    "parse_resource",
    "parse_resource_subscription",
    "parse_space",
    "parse_subscription",
    "parse_webhook",
]
