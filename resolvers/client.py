"""The upstream client: the one place that decides auth, timeouts and error mapping.

One :class:`SpacesClient` (one pooled ``httpx.AsyncClient``) lives per process,
opened and closed in the app's lifespan. Each GraphQL operation gets an
:class:`UpstreamSession` bound to the caller's token, which bounds that
operation's concurrency and counts its upstream requests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from resolvers.errors import (
    MalformedPayload,
    NotFound,
    SpacesGraphQLError,
    Unauthenticated,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from spaces_graphql.settings import Settings

Params = Mapping[str, str | int]

# Upstream IDs are tokens like ``cus_ab12``; anything else never reaches a URL path.
_UPSTREAM_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def valid_upstream_id(value: str) -> bool:
    """Whether ``value`` is shaped like an upstream ID (and safe in a path segment)."""
    return bool(_UPSTREAM_ID.match(value)) and value not in {".", ".."}


def segment(value: str | int) -> str:
    """One URL path segment, quoted so that no caller input can change the path."""
    return quote(str(value), safe="")


def basic_auth(token: str) -> str:
    """Spaces' scheme: the access token is the Basic username, the password empty."""
    return "Basic " + base64.b64encode(f"{token}:".encode()).decode("ascii")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.reason_phrase or f"HTTP {response.status_code}"


def error_for_status(response: httpx.Response) -> SpacesGraphQLError:
    """Map a non-2xx upstream answer onto the facade's error hierarchy."""
    status = response.status_code
    message = _message(response)
    if status == 401:
        return Unauthenticated("the access token was refused by the Spaces API")
    if status == 404:
        return NotFound(message)
    if status in (400, 409, 422):
        return UpstreamRejected(message, upstream_status=status)
    if status == 429:
        return UpstreamUnavailable(
            "the Spaces API is rate limiting this token", upstream_status=429
        )
    return UpstreamError(f"the Spaces API failed ({status}): {message}", upstream_status=status)


class SpacesClient:
    """The process-wide upstream client (one connection pool)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        base = settings.upstream_url.rstrip("/") + "/"
        self.http = httpx.AsyncClient(
            base_url=base,
            transport=transport,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.pool_timeout,
            ),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_keepalive_connections,
            ),
            headers={"Accept": "application/json", "User-Agent": "spaces-graphql/0.1"},
            follow_redirects=False,
        )
        #: ``None`` until known: whether ``?ids=`` batches lookups on this upstream.
        self.batch_ids: bool | None = {"on": True, "off": False}.get(settings.batch_ids)
        self.requests_total = 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    def session(self, token: str) -> UpstreamSession:
        """A per-operation view of the client, bound to the caller's token."""
        return UpstreamSession(self, token)


class UpstreamSession:
    """The caller's token plus this operation's concurrency bound and request count."""

    def __init__(self, client: SpacesClient, token: str) -> None:
        self.client = client
        self._auth = basic_auth(token)
        self._slots = asyncio.Semaphore(client.settings.max_concurrency)
        self.requests = 0

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        json_body: Any = None,
    ) -> Any:
        """Send one upstream request and return its decoded JSON body.

        Raises a :class:`SpacesGraphQLError` subclass for every failure. Writes
        are never retried; reads are not retried here either (see issue on
        resilience), so a failure surfaces on the field that needed it.
        """
        async with self._slots:
            self.requests += 1
            self.client.requests_total += 1
            try:
                response = await self.client.http.request(
                    method,
                    path.lstrip("/"),
                    params=dict(params) if params else None,
                    json=json_body,
                    headers={"Authorization": self._auth},
                )
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout(f"the Spaces API did not answer in time ({exc!r})") from exc
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(f"the Spaces API is unreachable ({exc!r})") from exc
        if response.status_code >= 400:
            raise error_for_status(response)
        if not response.content:
            # A DELETE may answer 204 with no body; parsers refuse ``None`` where a body is due.
            return None
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise MalformedPayload("the Spaces API answered with malformed JSON") from exc

    async def get(self, path: str, params: Params | None = None) -> Any:
        """``GET`` a path under the API base and return the JSON body."""
        return await self.request("GET", path, params)


__all__ = [
    "SpacesClient",
    "UpstreamError",
    "UpstreamSession",
    "basic_auth",
    "error_for_status",
    "segment",
    "valid_upstream_id",
]
