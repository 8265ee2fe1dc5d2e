"""The Relay ``Node`` interface and opaque global IDs."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, TypeVar

import strawberry

from resolvers.pagination import unpadded_b64
from resolvers.resources import BY_NODE, Resource

R = TypeVar("R")

#: Every type that implements ``Node``: one per declared resource (``resolvers/resources.py``);
#: a global ID names one of these. ``graph/lookup.py`` maps each to its graph type.
NODE_TYPES: frozenset[str] = frozenset(BY_NODE)


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global ID; `node(id:)` fetches the object again."
    )


def to_global_id(type_name: str, key: str | int) -> strawberry.ID:
    """Encode ``type_name`` and the upstream key into an opaque ID (unpadded URL-safe base64)."""
    return strawberry.ID(unpadded_b64(f"{type_name}:{key}".encode()))


#: The text :func:`to_global_id` writes (optionally padded, as other Relay servers do).
_GLOBAL_ID_TEXT = re.compile(r"[A-Za-z0-9_-]+={0,2}")
#: Longer than any global ID the facade makes (see ``graph/lookup.py``'s ``MAX_ID_LENGTH``).
_MAX_GLOBAL_ID = 512


def from_global_id(value: str) -> tuple[str, str] | None:
    """Decode an ID made by :func:`to_global_id`; ``None`` if it is not one.

    Strict: ``urlsafe_b64decode`` alone skips characters outside its alphabet
    (so ``"U3B!hY2U6Mw"`` would be Space 3), and ignores the spare bits of the
    last character; only the one spelling :func:`to_global_id` writes decodes.
    """
    if len(value) > _MAX_GLOBAL_ID or not _GLOBAL_ID_TEXT.fullmatch(value):
        return None
    unpadded = value.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
        type_name, _, key = raw.decode().partition(":")
    except (ValueError, UnicodeError, binascii.Error):
        return None
    # isprintable(): no upstream ID holds a control character (a newline would pass the
    # upstream-ID pattern's ``$``).
    if type_name not in NODE_TYPES or not key.isprintable() or not key:
        return None
    if to_global_id(type_name, key) != unpadded:
        return None
    return type_name, key


def global_id(resource: Resource[R, Any], record: R) -> strawberry.ID:
    """``record``'s global ID, as its declaration builds it (type name and key shape)."""
    return to_global_id(resource.node, resource.global_key(record))
