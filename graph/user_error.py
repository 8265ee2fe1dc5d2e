"""``UserError``: what a mutation refused, and why, in the caller's terms."""

from __future__ import annotations

import re

import strawberry

from resolvers.errors import NotFound, UpstreamRejected, UserErrorCode

INPUT = "input"
ID_FIELD = [INPUT, "id"]

# The closed set lives with the errors (resolvers/targets.py reports two of its codes);
# this registers it with the schema as the `UserErrorCode` enum.
strawberry.enum(
    UserErrorCode,
    name="UserErrorCode",
    description=(
        "Why a mutation refused its input: `INVALID` (malformed, refused before any upstream "
        "call), `NOT_FOUND`, `ALREADY_PAID`, `ALREADY_CANCELLED`, `UNSAFE_TARGET` (a REST Hook "
        "target inside a network) or `UPSTREAM_REJECTED` (any other upstream refusal)."
    ),
)

INVALID = UserErrorCode.INVALID
NOT_FOUND = UserErrorCode.NOT_FOUND
ALREADY_PAID = UserErrorCode.ALREADY_PAID
ALREADY_CANCELLED = UserErrorCode.ALREADY_CANCELLED
UPSTREAM_REJECTED = UserErrorCode.UPSTREAM_REJECTED

# The upstream answers "already paid" and "already cancelled" with a plain 400;
# only its message tells them apart from other refusals.
_KNOWN_STATES = {
    ALREADY_PAID: re.compile(r"\balready\s+paid\b", re.IGNORECASE),
    ALREADY_CANCELLED: re.compile(r"\balready\s+cancel+ed\b", re.IGNORECASE),
}


@strawberry.type(
    description="Why a mutation did not do what was asked; the payload's object is then null."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. `["input", "targetUrl"]`; '
        "null when no single field is."
    )
    message: str = strawberry.field(description="What went wrong, for people.")
    code: UserErrorCode = strawberry.field(description="What went wrong, for programs.")


def invalid(field: list[str], message: str) -> UserError:
    """Input refused before any upstream call."""
    return UserError(field=field, message=message, code=INVALID)


def from_upstream(
    exc: UpstreamRejected | NotFound, field: list[str], state: UserErrorCode | None = None
) -> UserError:
    """An upstream 400-class answer as a ``UserError`` on ``field``.

    ``state`` names the one "already done" code this mutation can meet, so that
    a refusal reads as ``ALREADY_PAID`` only where paying was the request.
    """
    if isinstance(exc, NotFound):
        return UserError(field=field, message=exc.message, code=NOT_FOUND)
    if state is not None and _KNOWN_STATES[state].search(exc.message):
        return UserError(field=field, message=exc.message, code=state)
    return UserError(field=field, message=exc.message, code=UPSTREAM_REJECTED)
