"""``UserError``: what a mutation refused, and why, in the caller's terms."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
        "target inside a network), `UPSTREAM_REJECTED` (any other upstream refusal), "
        "`UNAUTHENTICATED` (`login`: wrong email or password) or `UNSUPPORTED` (`login`: the "
        "upstream has no login flow; send your access token instead). New values may be "
        "added: handle unknown ones."
    ),
)

INVALID = UserErrorCode.INVALID
NOT_FOUND = UserErrorCode.NOT_FOUND
ALREADY_PAID = UserErrorCode.ALREADY_PAID
ALREADY_CANCELLED = UserErrorCode.ALREADY_CANCELLED
UPSTREAM_REJECTED = UserErrorCode.UPSTREAM_REJECTED
UNAUTHENTICATED = UserErrorCode.UNAUTHENTICATED
UNSUPPORTED = UserErrorCode.UNSUPPORTED
#: A canonical validation refusal (``docs/dialects.md``): 422, with or without ``fields``.
VALIDATION_STATUS = 422

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


def user_errors(
    exc: UpstreamRejected | NotFound,
    field: list[str],
    inputs: Mapping[str, list[str]] | None = None,
    state: UserErrorCode | None = None,
) -> list[UserError]:
    """Every ``UserError`` an upstream 400-class answer stands for.

    A validation refusal that names upstream fields (canonical 422 ``fields``:
    launch27's 406 field map, spotcap's ``invalid_params``) gives one error per
    message, on the GraphQL input path of that field: ``inputs`` maps upstream
    names to it (``target_url`` -> ``["input", "targetUrl"]``); a name it lacks is
    put on ``field``. A validation refusal that names none (the resource itself:
    launch27's 406 list) has no field. Any other refusal is :func:`from_upstream`.
    """
    if isinstance(exc, UpstreamRejected) and exc.status == VALIDATION_STATUS:
        if not exc.fields:
            return [_coded(None, exc.message, state)]
        out: list[UserError] = []
        for name, messages in exc.fields.items():
            path = (inputs or {}).get(name)
            label = path[-1] if path else name
            for message in messages:
                out.append(_coded(path or field, f"{label} {message}", state))
        return out
    return [from_upstream(exc, field, state)]


def _coded(field: list[str] | None, message: str, state: UserErrorCode | None) -> UserError:
    if state is not None and _KNOWN_STATES[state].search(message):
        return UserError(field=field, message=message, code=state)
    return UserError(field=field, message=message, code=UPSTREAM_REJECTED)
