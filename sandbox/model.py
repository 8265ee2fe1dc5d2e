"""Shared vocabulary: event types, identifier formats and the upstream's payload quirks."""

from __future__ import annotations

import random
import string
from typing import Any

EVENT_TYPES = (
    "customer.created",
    "invoice.created",
    "invoice.paid",
    "subscription.created",
    "subscription.cancelled",
    "captured_email.created",
)

BASE62 = string.digits + string.ascii_letters

# Identifier prefixes and lengths, per kind (the subscription token is shorter upstream).
ID_FORMATS: dict[str, tuple[str, int]] = {
    "customer": ("cus_", 14),
    "subscription": ("sub_", 10),
    "invoice": ("in_", 14),
    "captured_email": ("ce_", 14),
    "event": ("ev_", 14),
    "webhook": ("wh_", 14),
    "resource_subscription": ("rs_", 14),
}

Json = dict[str, Any]


def new_id(rng: random.Random, kind: str) -> str:
    """A fresh identifier for ``kind`` drawn from ``rng``."""
    prefix, length = ID_FORMATS[kind]
    return prefix + "".join(rng.choices(BASE62, k=length))


def quirky_event(ordinal: int) -> bool:
    """Whether the account's ``ordinal``-th event (1-based) spells the customer id ``token``.

    The real service does this to some events; every third one reproduces it
    deterministically so that consumers are tested against both spellings.
    """
    return ordinal % 3 == 0


def rename_customer_id(snapshot: Json) -> Json:
    """Return ``snapshot`` with the customer's ``id`` key renamed ``token`` (order kept)."""

    def renamed(obj: Json) -> Json:
        return {("token" if key == "id" else key): value for key, value in obj.items()}

    if snapshot.get("object") == "customer":
        return renamed(snapshot)
    customer = snapshot.get("customer")
    if isinstance(customer, dict):
        return {**snapshot, "customer": renamed(customer)}
    return snapshot
