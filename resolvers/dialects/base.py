"""What every dialect shares: the canonical side of the translation, and its helpers.

A :class:`Dialect` wraps the network (or test) transport in a
:class:`DialectTransport` subclass. Its ``handle_async_request`` receives what the
facade sends in the canonical (Spaces) dialect:

* ``Authorization: Basic base64(credential + ":")`` — the caller's credential;
* canonical paths under the base URL (``/captured_emails``, ``/resource_subscriptions``);
* lists asked with ``limit``, ``starting_after`` / ``starting_before``, filters, ``ids``;
* ``If-None-Match`` for revalidation; JSON bodies on writes;

and must answer what a Spaces upstream would: the status codes of
``../shared/spaces-api.md`` (a successful write is 200), list envelopes
``{"object": "list", "count", "has_more", "data"}``, integer Unix timestamps, errors
as ``{"message": ...}`` (plus ``"fields": {name: [messages]}`` for a validation error,
status 422), the ``ETag`` header passed through, and 304 passed through.

The translation must keep every behaviour above it: bodies bounded by
``max_upstream_body_bytes`` (:func:`read_decoded`), timeouts (the request's
``extensions`` are copied), cancellation (no task is spawned), and one wire request
per canonical request except where a dialect documents an extra one (launch27's
time zone lookup, cached per credential).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from resolvers.transfer import read_body


@dataclass(frozen=True, slots=True)
class DialectConfig:
    """What a dialect transport is given (from ``UpstreamConfig``)."""

    #: An integration credential the facade itself holds (launch27's ``X-API-Key``);
    #: never logged (nor in this object's repr).
    api_key: str = field(repr=False)
    max_upstream_body_bytes: int
    #: Seconds a credential's upstream time zone is remembered (launch27).
    zone_ttl_seconds: float = 300.0
    #: Credentials whose time zone is remembered at once (launch27; the oldest go first).
    zone_cache_entries: int = 10_000
    #: The upstream's base URL (``upstream_url``): what follows its path is the canonical
    #: route (``customers/cus_1/subscriptions``); empty: found from the known segments.
    base_url: str = ""


class Dialect:
    """One upstream dialect: its name, and the transport that speaks it.

    The base class is the canonical dialect itself: no translation.
    """

    #: Whether the upstream has a login flow (``mutation login``); see launch27.
    has_login: bool = False

    def __init__(self, name: str) -> None:
        self.name = name

    def wrap(
        self, inner: httpx.AsyncBaseTransport, config: DialectConfig
    ) -> httpx.AsyncBaseTransport:
        """The transport the facade's client sends through."""
        return inner

    async def login(
        self, http: httpx.AsyncClient, email: str, password: str
    ) -> str | None:  # pragma: no cover - overridden where has_login
        """The opaque credential for ``email``/``password``, or None when refused."""
        raise NotImplementedError(f"the {self.name} dialect has no login flow")


class DialectTransport(httpx.AsyncBaseTransport):
    """A transport translating canonical requests to one dialect and back."""

    def __init__(self, inner: httpx.AsyncBaseTransport, config: DialectConfig) -> None:
        self.inner = inner
        self.config = config

    async def aclose(self) -> None:
        await self.inner.aclose()

    def canonical_event(self, account: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """A REST Hook delivery (an event the upstream POSTed to ``/hooks/…``) made canonical.

        Deliveries reach the facade without passing through this transport, so the live
        events hub asks for them here. ``account`` is the caller key whose hook it is
        (``graph.context.Caller.key``: the first 32 hex digits of the credential's
        SHA-256). The default: unchanged (the wire event is already canonical).
        """
        return payload


def credential_of(request: httpx.Request) -> str | None:
    """The caller's credential inside a canonical ``Authorization: Basic`` header."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, _ = decoded.partition(":")
    return user or None


async def read_decoded(response: httpx.Response, limit: int) -> bytes:
    """The whole body of a wire answer with ``Content-Encoding`` undone, refused past
    ``limit`` decoded bytes (never read whole): a dialect that rewrites a body must read
    it so (the raw bytes of a compressed answer are not JSON), and a small compressed
    body can expand. The client's own reads use the same reader
    (``resolvers/transfer.read_body``)."""
    return await read_body(response, limit, upstream="the upstream")


def canonical(
    request: httpx.Request,
    status: int,
    body: Any,
    *,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A canonical answer to ``request``: ``body`` as JSON (bytes are passed as they are)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    out = {"content-type": "application/json", **(headers or {})}
    if etag:
        out["etag"] = etag
    return httpx.Response(status, headers=out, content=content, request=request)


def list_envelope(data: list[Any], has_more: bool) -> dict[str, Any]:
    """The canonical list envelope."""
    return {"object": "list", "count": len(data), "has_more": has_more, "data": data}


DIALECT = Dialect("spaces")
