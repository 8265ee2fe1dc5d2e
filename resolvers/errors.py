"""The one exception hierarchy of the facade, and how each member reaches GraphQL.

Every failure the facade raises derives from :class:`SpacesGraphQLError`. The
``extensions`` attribute is read by graphql-core when it wraps a resolver's
exception into a ``GraphQLError``, so ``extensions.code`` is set in one place:
here. Upstream answers are mapped to these classes in ``resolvers/client.py``
(``error_for_status``); nothing else decides that mapping.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar


class SpacesGraphQLError(Exception):
    """Root of every error the facade raises on purpose."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    @property
    def extensions(self) -> dict[str, Any]:
        """The GraphQL ``extensions`` of this error (graphql-core copies them)."""
        return {"code": self.code, **self.extra}


class Unauthenticated(SpacesGraphQLError):
    """No usable credential, or the upstream refused it (HTTP 401)."""

    code = "UNAUTHENTICATED"


class BadUserInput(SpacesGraphQLError):
    """An argument, cursor or ID that cannot be used; raised before any upstream call."""

    code = "BAD_USER_INPUT"


class UpstreamError(SpacesGraphQLError):
    """The upstream answered 5xx, or with a payload that does not parse."""

    code = "UPSTREAM_ERROR"


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time."""

    code = "UPSTREAM_TIMEOUT"


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached at all, or its circuit breaker is open.

    ``retry_after`` (whole seconds, also ``extensions.retryAfter``) says when
    trying again makes sense; the HTTP layer may turn it into ``Retry-After``.
    """

    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float | None = None, **extra: Any) -> None:
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        if self.retry_after is not None:
            extra["retryAfter"] = self.retry_after
        super().__init__(message, **extra)


class RateLimited(SpacesGraphQLError):
    """The upstream rate limits this token (HTTP 429) for ``retry_after`` more seconds."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float, **extra: Any) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(message, retryAfter=self.retry_after, **extra)


class UpstreamRejected(SpacesGraphQLError):
    """The upstream answered 400: the request was understood and refused.

    On a read this usually means a cursor the upstream does not know; on a
    write it becomes a ``userErrors`` entry rather than a GraphQL error.
    """

    code = "BAD_USER_INPUT"


class NotFound(SpacesGraphQLError):
    """The upstream answered 404; lookups turn this into ``null``, never an error."""

    code = "NOT_FOUND"


class MalformedPayload(UpstreamError):
    """An upstream payload lacked a field the contract promises, or had the wrong type."""
