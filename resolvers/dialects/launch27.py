"""The ``launch27`` dialect: Launch27 API 2.0 conventions (``docs/dialects.md``, "launch27").

Canonical request -> wire request:

* ``X-API-Key: <the facade's integration key>`` on every request (never logged);
* ``Accept: application/launch27.v2`` on every request (without it the upstream
  answers v1, whose lists have no envelope);
* ``Authorization: Basic base64(credential + ":")`` -> ``X-Authentication: email:token``:
  the credential is the facade's opaque launch27 token (:func:`make_token`, from the
  ``login`` mutation), which carries both; a credential that is not one is answered
  401 here, without a request;
* time-valued query parameters and JSON body fields: Unix seconds -> local
  ``YYYY-MM-DDTHH:MM:SS`` in the account's zone.

Wire answer -> canonical answer:

* every timestamp field (``created``, ``date_range_start``, ``date_range_end``), at
  any depth (objects, list envelopes, embedded objects, event snapshots): local
  date-time -> Unix seconds (:mod:`resolvers.dialects.localtime`, whose rule for the
  ambiguous and the missing hour ``docs/dialects.md`` documents);
* ``406`` with a field map -> ``422 {"message", "fields"}``; with a list -> ``422
  {"message"}`` (the messages joined); ``406`` about the API key -> ``500``: the
  facade's configuration, never the caller's fault (the key itself is never echoed);
* other errors -> ``{"message"}`` with the same status (401, 403, 404, 429, 5xx),
  ``Retry-After`` kept; ``ETag`` and ``304`` pass through.

The account's zone comes from ``GET /account`` (``time_zone``), asked through the
inner transport once per credential and remembered for ``zone_ttl_seconds`` (at most
``zone_cache_entries`` credentials, by a digest of the credential): the one extra
wire request this dialect makes, documented in ``docs/dialects.md``. Concurrent
requests of one credential wait for one lookup. A canonical ``GET /account`` is
itself the lookup when the zone is not known yet.

The formats themselves (the token, payload date-times, errors) are pure functions in
``resolvers/dialects/launch27_wire.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from resolvers.dialects.base import (
    Dialect,
    DialectConfig,
    DialectTransport,
    canonical,
    credential_of,
    read_decoded,
)
from resolvers.dialects.launch27_wire import (
    TIMESTAMP_FIELDS,
    TOKEN_PREFIX,
    account_key,
    make_token,
    open_token,
    refusal,
    to_canonical,
    to_wire,
    wire_params,
)
from resolvers.dialects.localtime import UnknownZone, zone
from resolvers.errors import MalformedPayload
from resolvers.resilience import current_scope
from resolvers.resources import path_segments
from resolvers.transfer import decode_json, exchange
from resolvers.upstream import error_for_status, transport_error

ACCEPT_V2 = "application/launch27.v2"
#: Bytes a login answer may have (it is two short strings).
LOGIN_BODY_LIMIT = 64 * 1024
#: Canonical request headers the wire request does not carry (replaced or recomputed).
_DROPPED = frozenset({"authorization", "accept", "content-length", "x-api-key", "x-authentication"})
#: Segments that start a canonical route (to find the base path when none is given).
_ROUTE_SEGMENTS = path_segments() | {"account", "login"}


# --- the transport --------------------------------------------------------------------


class Launch27Transport(DialectTransport):
    """Canonical (Spaces) requests in, launch27 v2 on the wire, canonical answers out."""

    def __init__(self, inner: httpx.AsyncBaseTransport, config: DialectConfig) -> None:
        super().__init__(inner, config)
        #: account key of the credential -> (zone, monotonic expiry); least recent first.
        #: An expired entry is asked again before a request, but still read for REST
        #: Hook deliveries (:meth:`canonical_event`: they carry no credential to ask with).
        self._zones: OrderedDict[str, tuple[ZoneInfo, float]] = OrderedDict()
        #: account key -> (the lock one lookup holds, how many wait on it).
        self._lookups: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        #: Extra wire requests made (``GET /account`` for a zone): tests and docs count them.
        self.zone_lookups = 0
        base = config.base_url
        self._account_url = httpx.URL(base.rstrip("/") + "/account") if base else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        headers["accept"] = ACCEPT_V2
        headers["x-api-key"] = self.config.api_key
        tz: ZoneInfo | None = None
        key = ""
        is_account = request.method == "GET" and _path_of(request).rstrip("/").endswith("/account")
        credential = credential_of(request)
        if credential is not None:
            pair = open_token(credential)
            if pair is None:
                # Not a login token (a Spaces token, say): the upstream would refuse it.
                return canonical(request, 401, {"message": "not a launch27 session token: log in"})
            headers["x-authentication"] = f"{pair[0]}:{pair[1]}"
            key = account_key(credential)
            tz = self._cached(key)
            if tz is None and not is_account:
                found = await self._lookup(request, key, headers)
                if isinstance(found, httpx.Response):
                    return found
                tz = found
        url = request.url if tz is None else wire_params(request.url, tz)
        content = await request.aread()
        if content and tz is not None and _is_json(request.headers):
            try:
                body = orjson.loads(content)
            except orjson.JSONDecodeError:
                pass
            else:
                to_wire(body, tz)
                content = orjson.dumps(body)
        wire = httpx.Request(
            request.method, url, headers=headers, content=content, extensions=request.extensions
        )
        response = await self.inner.handle_async_request(wire)
        if response.status_code == 304:
            await response.aclose()
            return httpx.Response(304, headers=_etag(response.headers), request=request)
        raw = await read_decoded(response, self.config.max_upstream_body_bytes)
        try:
            decoded = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            decoded = raw
        if response.status_code >= 400:
            return refusal(request, response.status_code, decoded, response.headers)
        if not isinstance(decoded, dict | list):
            # No JSON to translate (a 204, a 3xx): the body as it came, ETag kept.
            passed = {
                **_etag(response.headers),
                "content-type": response.headers.get("content-type", ""),
            }
            return httpx.Response(
                response.status_code, headers=passed, content=raw, request=request
            )
        if tz is None and is_account and credential is not None:
            # The account itself names the zone: no lookup of its own.
            learned = _zone_of(decoded)
            if isinstance(learned, str):
                return canonical(request, 500, {"message": learned})
            tz = self._remember(key, learned)
        if tz is not None:
            to_canonical(decoded, tz)
        return canonical(request, response.status_code, decoded, etag=response.headers.get("etag"))

    # --- the account's zone -------------------------------------------------------------

    def canonical_event(self, account: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """A REST Hook delivery with its date-times in Unix seconds (the account's zone).

        The zone is the one last learned for ``account`` (expired or not: a delivery
        has no credential to ask with). The hook's owner has one: creating the hook,
        and a WebSocket's ``connection_init``, made requests with its credential. An
        account never seen gives the payload unchanged (the hub drops it as malformed).
        """
        entry = self._zones.get(account)
        if entry is None:
            return payload
        copied = orjson.loads(orjson.dumps(dict(payload)))  # the bus may share the original
        to_canonical(copied, entry[0])
        out: dict[str, Any] = copied
        return out

    def _cached(self, key: str) -> ZoneInfo | None:
        entry = self._zones.get(key)
        if entry is None or entry[1] <= time.monotonic():
            return None
        self._zones.move_to_end(key)
        return entry[0]

    def _remember(self, key: str, tz: ZoneInfo) -> ZoneInfo:
        self._zones[key] = (tz, time.monotonic() + self.config.zone_ttl_seconds)
        self._zones.move_to_end(key)
        while len(self._zones) > max(1, self.config.zone_cache_entries):
            self._zones.popitem(last=False)
        return tz

    async def _lookup(
        self, request: httpx.Request, key: str, headers: dict[str, str]
    ) -> ZoneInfo | httpx.Response:
        """The credential's zone, asked once however many requests wait for it.

        A lock, not a shared task: nothing is spawned, and a lookup whose request is
        cancelled releases the lock for the next waiter to try.
        """
        lock, waiting = self._lookups.setdefault(key, (asyncio.Lock(), [0]))
        waiting[0] += 1
        try:
            async with lock:
                cached = self._cached(key)
                if cached is not None:
                    return cached
                return await self._fetch_zone(request, key, headers)
        finally:
            waiting[0] -= 1
            if waiting[0] == 0:
                self._lookups.pop(key, None)

    async def _fetch_zone(
        self, request: httpx.Request, key: str, headers: dict[str, str]
    ) -> ZoneInfo | httpx.Response:
        ask = {
            k: v for k, v in headers.items() if k.lower() not in ("if-none-match", "content-type")
        }
        wire = httpx.Request(
            "GET", self._account_url_for(request), headers=ask, extensions=request.extensions
        )
        self.zone_lookups += 1
        response = await self.inner.handle_async_request(wire)
        raw = await read_decoded(response, self.config.max_upstream_body_bytes)
        try:
            decoded = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            decoded = None
        if response.status_code >= 300:
            # The same refusal the request itself would get (401, the key's 406, ...).
            return refusal(request, response.status_code, decoded, response.headers)
        learned = _zone_of(decoded)
        if isinstance(learned, str):
            return canonical(request, 500, {"message": learned})
        return self._remember(key, learned)

    def _account_url_for(self, request: httpx.Request) -> httpx.URL:
        if self._account_url is not None:
            return self._account_url
        # No base URL given: the canonical path is ``{base}/{route}``, and the route
        # starts at the first segment that the facade's routes name.
        segments = _path_of(request).split("/")
        start = next((i for i, s in enumerate(segments) if s in _ROUTE_SEGMENTS), len(segments))
        base = "/".join(segments[:start])
        return request.url.copy_with(path=base.rstrip("/") + "/account", query=None)


def _path_of(request: httpx.Request) -> str:
    return request.url.raw_path.split(b"?", 1)[0].decode("ascii")


def _zone_of(account: Any) -> ZoneInfo | str:
    """The account's zone, or why there is none (a message)."""
    name = account.get("time_zone") if isinstance(account, dict) else None
    if not isinstance(name, str):
        return "the upstream's account has no time_zone"
    try:
        return zone(name)
    except UnknownZone as exc:
        return f"the upstream's account time zone is unusable: {exc}"


def _etag(headers: httpx.Headers) -> dict[str, str]:
    return {"etag": headers["etag"]} if "etag" in headers else {}


def _is_json(headers: httpx.Headers) -> bool:
    return "json" in headers.get("content-type", "").lower()


# --- the dialect ----------------------------------------------------------------------


class Launch27Dialect(Dialect):
    """launch27: a login flow, an integration key, local date-times (``docs/dialects.md``)."""

    has_login = True

    def wrap(
        self, inner: httpx.AsyncBaseTransport, config: DialectConfig
    ) -> httpx.AsyncBaseTransport:
        """The launch27 transport around ``inner``."""
        return Launch27Transport(inner, config)

    async def login(self, http: httpx.AsyncClient, email: str, password: str) -> str | None:
        """``POST /login`` through the facade's one client (its transport adds the key).

        The opaque credential (:func:`make_token`) for a 200; None for a 401 (wrong
        email or password). Any other answer raises as the client maps it: a 406
        about the key is an upstream error (500), a validation 406 is 422
        (``UpstreamRejected`` with its ``fields``). The password is in the body only.
        """
        scope = current_scope()
        within = None if scope is None else scope.remaining()
        try:
            response = await exchange(
                http,
                "POST",
                "login",
                headers={"content-type": "application/json"},
                json_body={"email": email, "password": password},
                limit=LOGIN_BODY_LIMIT,
                within=within,
            )
        except (TimeoutError, httpx.HTTPError) as exc:
            raise transport_error(exc) from None
        if response.status_code == 401:
            return None
        if response.status_code >= 300:
            raise error_for_status(response)
        answer = decode_json(response.content)
        secret = answer.get("single_access_token") if isinstance(answer, dict) else None
        named = answer.get("email", email) if isinstance(answer, dict) else email
        if not (isinstance(secret, str) and isinstance(named, str)):
            raise MalformedPayload("the upstream's login answer has no single_access_token")
        token = make_token(named, secret)
        if open_token(token) is None:
            raise MalformedPayload("the upstream's login answer is not usable in a header")
        return token


DIALECT = Launch27Dialect("launch27")

__all__ = [
    "DIALECT",
    "TIMESTAMP_FIELDS",
    "TOKEN_PREFIX",
    "Launch27Dialect",
    "Launch27Transport",
    "account_key",
    "make_token",
    "open_token",
]
