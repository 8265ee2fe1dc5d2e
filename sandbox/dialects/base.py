"""The spaces dialect, and the hooks through which another dialect changes the wire.

The dispatcher (``sandbox.app``) and the handlers (``sandbox.api``) work in the
canonical (spaces) terms: canonical route templates, :class:`~sandbox.store.Window`
stretches of lists, canonical payloads (list envelopes, Unix timestamps) and
:class:`~sandbox.errors.ApiError`. A dialect translates at the edges only:

* routing: :meth:`Dialect.spell` (a canonical template's wire spelling),
  :meth:`Dialect.extra_routes` (launch27's ``/login``), :meth:`Dialect.resolve`
  (spotcap's Space by name);
* admission: :meth:`Dialect.admit` (version, integration key),
  :meth:`Dialect.authenticate`, :meth:`Dialect.token_of` (for token-scoped faults);
* lists: :attr:`Dialect.paging` (query arguments or a ``Range`` header);
* answers: :meth:`Dialect.answer`, :meth:`Dialect.error`, :meth:`Dialect.hook_body`,
  :meth:`Dialect.describe` (the OpenAPI document), :meth:`Dialect.banner`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.config import SandboxConfig
from sandbox.errors import ApiError
from sandbox.model import Json
from sandbox.paging import Paging, query_window
from sandbox.store import Store, Window, dump_bytes, dumps

if TYPE_CHECKING:
    from sandbox.api import Handler

JSON = "application/json"

# (method, canonical template under /api/v1, handler, public = no user authentication)
RouteSpec = tuple[str, str, "Handler", bool]


def etag_of(body: bytes) -> str:
    """A strong ETag for an answer's bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: ``W/`` prefixes do not matter."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def is_list(payload: Json) -> bool:
    """Whether a handler's payload is a list envelope (never true of an object)."""
    return payload.get("object") == "list" and isinstance(payload.get("data"), list)


@functools.lru_cache(maxsize=1024)
def basic_username(credentials: str) -> str | None:
    """The username in HTTP Basic ``credentials`` (base64), None when malformed.

    A pure function of a header value that clients repeat on every request (and the
    dispatcher reads twice: for faults, then to authenticate), hence cached.
    """
    try:
        return base64.b64decode(credentials, validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None


def basic_token(request: Request) -> str | None:
    """The username of an HTTP Basic ``Authorization``, unchecked."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    return basic_username(value.strip()) or None


class Dialect:
    """A dialect the sandbox speaks; this base class *is* spaces (no translation)."""

    name = "spaces"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    # -- routing -------------------------------------------------------------------------

    def spell(self, template: str) -> str:
        """The wire spelling of a canonical route template."""
        return template

    def extra_routes(self) -> list[RouteSpec]:
        """Routes only this dialect has (canonical templates, counted as such)."""
        return []

    def resolve(self, store: Store, account: str, template: str, params: dict[str, str]) -> None:
        """Turn a dialect's path parameters into canonical ones, in place."""

    # -- admission -----------------------------------------------------------------------

    def admit(self, request: Request) -> None:
        """Refuse (``ApiError``) a request that breaks the dialect's rules before routing."""

    def token_of(self, request: Request, store: Store) -> str | None:
        """The account token a request claims, unchecked where possible (faults match it)."""
        return basic_token(request)

    def authenticate(self, request: Request, store: Store) -> str:
        """The access token from HTTP Basic auth (the username; the password is ignored)."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Basic realm="Spaces"'}
        if scheme.lower() != "basic" or not value.strip():
            raise ApiError(
                401,
                "Authentication required: HTTP Basic with the access token as username",
                headers=challenge,
            )
        token = basic_username(value.strip())
        if token is None:
            raise ApiError(401, "Malformed HTTP Basic credentials", headers=challenge)
        if not token or not store.is_account(token):
            raise ApiError(401, "Invalid access token", headers=challenge)
        return token

    #: How a list request says which stretch it wants.
    paging: Paging = staticmethod(query_window)

    # -- answers -------------------------------------------------------------------------

    def answer(
        self,
        request: Request,
        account: str,
        payload: Json,
        *,
        window: Window | None,
        created: bool,
    ) -> Response:
        """The wire answer to a successful call (``window``: the stretch of a list served)."""
        return self.respond(request, dump_bytes(payload))

    def respond(
        self,
        request: Request,
        body: bytes,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        etag_writes: bool = False,
        etag_extra: str = "",
    ) -> Response:
        """A JSON answer with the ETag capability: an ETag on GET answers (on every answer
        with ``etag_writes``), 304 to a GET whose If-None-Match matches.

        ``etag_extra`` goes into the ETag beside the body: headers that change what the
        answer means (spotcap's ``Next-Range``) must change the tag too.
        """
        out = dict(headers or {})
        get = request.method == "GET"
        if self.config.etag and (get or etag_writes):
            etag = etag_of(body + etag_extra.encode())
            out["ETag"] = etag
            match = request.headers.get("if-none-match")
            if get and match is not None and etag_matches(match, etag):
                return Response(status_code=304, headers={"ETag": etag})
        return Response(body, status, out, media_type=JSON)

    def error_body(self, exc: ApiError) -> tuple[int, Any]:
        """The status and JSON body of an error."""
        return exc.status, {"message": exc.message}

    def error(self, exc: ApiError) -> Response:
        """The wire answer to a refused call."""
        status, body = self.error_body(exc)
        return Response(dumps(body), status, exc.headers or None, media_type=JSON)

    def hook_body(self, account: str, event: Json) -> bytes:
        """What a REST Hook delivery of ``event`` POSTs to its target URL."""
        return dumps(event).encode()

    def describe(self, document: Json) -> Json:
        """The OpenAPI document (written for spaces) adjusted to this dialect."""
        return document

    def banner(self) -> str:
        """How to talk to the sandbox, for its start-up line."""
        return "access tokens: demo-alice, demo-bob (HTTP Basic username, empty password)"
