"""launch27's wire formats: the facade's opaque session token, date-times in payloads,
and errors as the canonical ones (``docs/dialects.md``, "launch27").

Pure functions, no I/O: ``resolvers/dialects/launch27.py`` (the transport and the
login flow) decides when each is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from resolvers.dialects.base import canonical
from resolvers.dialects.localtime import to_local, to_unix

#: Every field that holds a date-time, at any depth of a payload.
TIMESTAMP_FIELDS = frozenset({"created", "date_range_start", "date_range_end"})
#: What starts the facade's opaque launch27 credential (a format version, too).
TOKEN_PREFIX = "l27."
#: Wire answer headers the canonical answer keeps (besides ``ETag``).
KEPT_HEADERS = ("retry-after",)
#: A header-safe email and token: printable ASCII, no spaces, no colon in the email.
_EMAIL = re.compile(r"^[\x21-\x39\x3b-\x7e]{1,254}$")
_SECRET = re.compile(r"^[\x21-\x7e]{1,256}$")
#: "Missing API key" / "Invalid API key": the integration's fault, not the caller's.
_KEY_ERROR = re.compile(r"\bapi[ _-]?key\b", re.IGNORECASE)
#: A time-valued query parameter: a timestamp field, bare or with an operator
#: (``created``, ``created[gte]``).
_TIME_PARAM = re.compile(rf"^({'|'.join(sorted(TIMESTAMP_FIELDS))})(\[[a-z]+\])?$")


# --- the opaque credential ----------------------------------------------------------


def make_token(email: str, single_access_token: str) -> str:
    """The facade's launch27 credential: ``l27.`` + urlsafe base64 of ``[email, token]``.

    Not sealed, on purpose: it is exactly as secret as the upstream session it
    carries (its holder could send ``X-Authentication`` directly), the upstream
    validates it on every request, and the facade stores nothing and holds no
    key to rotate. A forged one is refused upstream like a wrong password.
    """
    packed = orjson.dumps([email, single_access_token])
    return TOKEN_PREFIX + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def account_key(credential: str) -> str:
    """The caller key of ``credential`` (``graph.context.Caller.key``): hooks are filed by it."""
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


def open_token(token: str) -> tuple[str, str] | None:
    """``(email, single_access_token)`` from :func:`make_token`'s credential, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    body = token[len(TOKEN_PREFIX) :]
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not (isinstance(decoded, list) and len(decoded) == 2):
        return None
    email, secret = decoded
    if not (isinstance(email, str) and isinstance(secret, str)):
        return None
    # Header-safe only: nothing that could split or smuggle X-Authentication.
    if not (_EMAIL.fullmatch(email) and _SECRET.fullmatch(secret)):
        return None
    return email, secret


# --- payloads -------------------------------------------------------------------------


def _convert_times(value: Any, convert: Callable[[Any], Any]) -> None:
    """Every timestamp field at any depth of ``value`` replaced by ``convert(it)``, in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in TIMESTAMP_FIELDS and not isinstance(item, dict | list):
                value[key] = convert(item)
            elif isinstance(item, dict | list):
                _convert_times(item, convert)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _convert_times(item, convert)


def to_canonical(value: Any, tz: ZoneInfo) -> None:
    """Every local date-time in ``value`` (a decoded payload) -> Unix seconds, in place.

    A value that does not parse is left as it is: the record parser refuses it
    (``UPSTREAM_ERROR`` on the field that needed it), as for any malformed payload.
    """
    _convert_times(value, lambda item: _unix(item, tz) if isinstance(item, str) else item)


def _unix(local: str, tz: ZoneInfo) -> int | str:
    try:
        return to_unix(local, tz)
    except (ValueError, OverflowError):
        return local


def to_wire(value: Any, tz: ZoneInfo) -> None:
    """Every Unix-seconds timestamp field in ``value`` -> a local date-time, in place."""
    _convert_times(
        value,
        lambda item: _local(item, tz) if type(item) is int else item,
    )


def _local(seconds: int, tz: ZoneInfo) -> str | int:
    try:
        return to_local(seconds, tz)
    except (OverflowError, OSError, ValueError):
        return seconds  # out of any calendar: the upstream judges it


def wire_params(url: httpx.URL, tz: ZoneInfo) -> httpx.URL:
    """``url`` with its time-valued parameters in local time (unchanged when it has none)."""
    items = url.params.multi_items()
    if not any(_TIME_PARAM.match(k) for k, _ in items):
        return url
    out = [
        (k, str(_local(int(v), tz)) if _TIME_PARAM.match(k) and _is_int(v) else v) for k, v in items
    ]
    return url.copy_with(params=out)


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit() and value.isascii()


def refusal(
    request: httpx.Request, status: int, body: Any, headers: httpx.Headers
) -> httpx.Response:
    """A wire error as the canonical one (see the module docstring)."""
    wire = body if isinstance(body, dict) else {}
    message = wire.get("message") if isinstance(wire.get("message"), str) else None
    errors = wire.get("errors")
    kept = {k: headers[k] for k in KEPT_HEADERS if k in headers}
    if status == 406:
        listed = [str(e) for e in errors] if isinstance(errors, list) else []
        if any(_KEY_ERROR.search(e) for e in listed) or request.method in ("GET", "HEAD"):
            # The facade's integration key was refused: its configuration, reported as an
            # upstream failure (the caller can do nothing about it). The key never appears.
            reason = "; ".join(listed) or message or "not acceptable"
            text = f"the upstream refused the facade's integration key ({reason}): check SPACES_GRAPHQL_UPSTREAM_API_KEY"
            return canonical(request, 500, {"message": text}, headers=kept)
        if isinstance(errors, dict):
            fields = {
                str(name): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
                for name, msgs in errors.items()
            }
            joined = "; ".join(f"{name} {m}" for name, msgs in fields.items() for m in msgs)
            return canonical(
                request, 422, {"message": joined or message or "invalid", "fields": fields}
            )
        return canonical(request, 422, {"message": "; ".join(listed) or message or "invalid"})
    return canonical(request, status, {"message": message or f"HTTP {status}"}, headers=kept)
