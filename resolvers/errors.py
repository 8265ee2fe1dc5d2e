"""The one exception hierarchy of the facade, and how each member reaches GraphQL.

Every failure the facade raises derives from :class:`SpacesGraphQLError`. The
``extensions`` attribute is read by graphql-core when it wraps a resolver's
exception into a ``GraphQLError``, so ``extensions.code`` is set in one place:
here. Upstream answers are mapped to these classes in ``resolvers/client.py``
(``error_for_status``); nothing else decides that mapping.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """Every GraphQL ``extensions.code`` the facade answers with (the README's "Errors").

    A closed set: transports map some of them to HTTP statuses or WebSocket
    messages, clients branch on them, so each is named once, here.
    """

    # Execution: one field's failure (``data`` kept for the rest).
    UNAUTHENTICATED = "UNAUTHENTICATED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    RATE_LIMITED = "RATE_LIMITED"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # Pre-flight: the whole request refused before execution (no ``data``).
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    # The HTTP request itself.
    BAD_REQUEST = "BAD_REQUEST"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


class UserErrorCode(StrEnum):
    """Why a mutation refused its input (``UserError.code``): a closed set."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_PAID = "ALREADY_PAID"
    ALREADY_CANCELLED = "ALREADY_CANCELLED"
    UNSAFE_TARGET = "UNSAFE_TARGET"
    UPSTREAM_REJECTED = "UPSTREAM_REJECTED"
    #: ``login``: the upstream refused the email and password.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    #: ``login``: the upstream's dialect has no login flow (callers send their token).
    UNSUPPORTED = "UNSUPPORTED"


class SpacesGraphQLError(Exception):
    """Root of every error the facade raises on purpose."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR

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

    code = ErrorCode.UNAUTHENTICATED


class BadUserInput(SpacesGraphQLError):
    """An argument, cursor or ID that cannot be used; raised before any upstream call."""

    code = ErrorCode.BAD_USER_INPUT


class UpstreamError(SpacesGraphQLError):
    """The upstream answered 5xx, or with a payload that does not parse."""

    code = ErrorCode.UPSTREAM_ERROR


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time."""

    code = ErrorCode.UPSTREAM_TIMEOUT


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached at all, or its circuit breaker is open.

    ``retry_after`` (whole seconds, also ``extensions.retryAfter``) says when
    trying again makes sense; the HTTP layer may turn it into ``Retry-After``.
    """

    code = ErrorCode.UPSTREAM_UNAVAILABLE

    def __init__(self, message: str, *, retry_after: float | None = None, **extra: Any) -> None:
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        if self.retry_after is not None:
            extra["retryAfter"] = self.retry_after
        super().__init__(message, **extra)


class RateLimited(SpacesGraphQLError):
    """The upstream rate limits this token (HTTP 429) for ``retry_after`` more seconds."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: float, **extra: Any) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(message, retryAfter=self.retry_after, **extra)


class UpstreamRejected(SpacesGraphQLError):
    """The upstream answered 400: the request was understood and refused.

    On a read this usually means a cursor the upstream does not know; on a
    write it becomes a ``userErrors`` entry rather than a GraphQL error.
    A validation refusal (canonical 422, ``docs/dialects.md``) names the upstream
    fields at fault in ``fields`` (upstream field name -> messages); ``None`` when the
    upstream named none (the resource itself was refused). ``fields`` and ``status``
    are attributes, not ``extensions``: mutations turn them into ``userErrors``.
    """

    code = ErrorCode.BAD_USER_INPUT

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        upstream_status: int = 400,
        **extra: Any,
    ) -> None:
        super().__init__(message, upstream_status=upstream_status, **extra)
        self.fields = fields
        self.status = upstream_status


class NotFound(SpacesGraphQLError):
    """The upstream answered 404; lookups turn this into ``null``, never an error."""

    code = ErrorCode.NOT_FOUND


class MalformedPayload(UpstreamError):
    """An upstream payload lacked a field the contract promises, or had the wrong type."""
