"""The Relay ``Node`` interface and opaque global IDs."""

from __future__ import annotations

import base64
import binascii

import strawberry

#: Every type that implements ``Node``; a global ID names one of these.
NODE_TYPES = frozenset(
    {
        "Space",
        "Customer",
        "Subscription",
        "Invoice",
        "CapturedEmail",
        "Event",
        "Webhook",
        "ResourceSubscription",
    }
)


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global ID; `node(id:)` fetches the object again."
    )


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def to_global_id(type_name: str, key: str | int) -> strawberry.ID:
    """Encode ``type_name`` and the upstream key into an opaque ID (unpadded URL-safe base64)."""
    # binascii directly: every object of every page gets one, and base64's wrappers double it.
    raw = binascii.b2a_base64(f"{type_name}:{key}".encode(), newline=False)
    return strawberry.ID(raw.translate(_URLSAFE).rstrip(b"=").decode("ascii"))


def from_global_id(value: str) -> tuple[str, str] | None:
    """Decode an ID made by :func:`to_global_id`; ``None`` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode("ascii"))
        type_name, _, key = raw.decode().partition(":")
    except (ValueError, UnicodeError, binascii.Error):
        return None
    if type_name not in NODE_TYPES or not key:
        return None
    return type_name, key
