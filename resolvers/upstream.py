"""What one upstream exchange means: IDs in paths, the auth header, statuses as errors.

Pure mapping, no I/O: ``resolvers/client.py`` decides when each is used.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import httpx

from resolvers.errors import (
    NotFound,
    RateLimited,
    SpacesGraphQLError,
    Unauthenticated,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from resolvers.resilience import parse_retry_after
from resolvers.resources import path_segments

# Upstream IDs are tokens like ``cus_ab12``; anything else never reaches a URL path.
_UPSTREAM_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
#: Retried after: a connection that failed or was reset, or a gateway's "try again".
RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_ERRORS = (httpx.NetworkError, httpx.RemoteProtocolError)
#: Failures before any request was sent: about the upstream, never about the caller.
HOST_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
#: Seconds to hold a token back after a 429 that names no ``Retry-After``.
RETRY_AFTER_DEFAULT = 1.0


def valid_upstream_id(value: str) -> bool:
    """Whether ``value`` is shaped like an upstream ID (and safe in a path segment)."""
    return bool(_UPSTREAM_ID.fullmatch(value)) and value not in {".", ".."}


def segment(value: str | int) -> str:
    """One URL path segment, quoted so that no caller input can change the path."""
    return quote(str(value), safe="")


def basic_auth(token: str) -> str:
    """Spaces' scheme: the access token is the Basic username, the password empty."""
    return "Basic " + base64.b64encode(f"{token}:".encode()).decode("ascii")


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message(response: httpx.Response, body: Any) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.reason_phrase or f"HTTP {response.status_code}"


def _fields(body: Any) -> dict[str, list[str]] | None:
    """A canonical 422's ``"fields"``: upstream field name -> messages (None: no field)."""
    fields = body.get("fields") if isinstance(body, Mapping) else None
    if not isinstance(fields, Mapping) or not fields:
        return None
    return {
        str(name): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
        for name, msgs in fields.items()
    }


def error_for_status(response: httpx.Response) -> SpacesGraphQLError:
    """Map a non-2xx upstream answer onto the facade's error hierarchy."""
    status = response.status_code
    body = _body(response)
    message = _message(response, body)
    if status == 401:
        return Unauthenticated("the access token was refused by the Spaces API")
    if status == 404:
        return NotFound(message)
    if status in (400, 409, 422):
        return UpstreamRejected(message, upstream_status=status, fields=_fields(body))
    if status == 429:
        return RateLimited(
            "the Spaces API is rate limiting this token",
            retry_after=parse_retry_after(response.headers.get("retry-after"), RETRY_AFTER_DEFAULT),
            upstream_status=429,
        )
    return UpstreamError(f"the Spaces API failed ({status}): {message}", upstream_status=status)


#: Path segments that are not resources' collections: the account, actions, the spec.
_OTHER_SEGMENTS = frozenset({"account", "pay", "openapi.json"})
#: Every segment that names something (the declared resources' collections and the
#: above); any other segment is an ID.
_KNOWN_SEGMENTS = path_segments() | _OTHER_SEGMENTS


def route_template(path: str) -> str:
    """``customers/cus_1/subscriptions/sub_2`` -> ``/customers/{id}/subscriptions/{id}``.

    Metrics and span names need bounded label values: IDs must not leak into them.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    return "/" + "/".join(p if p in _KNOWN_SEGMENTS else "{id}" for p in parts)


def transport_error(exc: BaseException) -> SpacesGraphQLError:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return UpstreamTimeout(f"the Spaces API did not answer in time ({exc!r})")
    return UpstreamUnavailable(f"the Spaces API is unreachable ({exc!r})")


class Rejection(StrEnum):
    """Why a call was refused before it reached the upstream (``/metrics``)."""

    BREAKER_SHARED = "breaker_shared"
    BREAKER_TOKEN = "breaker_token"
    POOL_WAIT = "pool_wait"
    DEADLINE = "deadline"
    RATE_LIMITED = "rate_limited"
