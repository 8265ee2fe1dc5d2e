"""The ``spotcap`` dialect: Heroku-style conventions (``docs/dialects.md``, "spotcap").

Canonical request -> wire request:

* ``Authorization: Basic base64(token + ":")`` -> ``Authorization: <token>`` (no scheme);
* ``Accept: application/vnd.spaces+json; version=1`` on every request (required there);
* the static segments of the path spelled with dashes (``captured_emails`` ->
  ``captured-emails``); IDs are never touched: a canonical route alternates a static
  segment and an ID (``customers/{id}/subscriptions/{token}``, ``invoices/{id}/pay``),
  so only the even positions after the base path are static;
* a list's ``limit`` / ``starting_after`` / ``starting_before`` -> ``Range: id ]X..; max=N``
  (``order=asc`` for ``starting_before``: the N objects just newer than X, oldest first);
  ``?ids=`` batches and the filters stay in the query.

Wire answer -> canonical answer:

* a list's JSON array -> the canonical envelope, ``has_more`` from ``206`` /
  ``Next-Range``, a backward page reversed to newest first;
* ``201`` -> ``200`` (a DELETE's deleted object passes as it is: ``resolvers/writes.py``
  reads the cancelled subscription, and ignores a deleted REST Hook's body);
* ``{"id", "message"}`` errors -> ``{"message"}`` with the same status (422
  ``invalid_params`` keeps its ``"fields"``), ``Retry-After`` kept;
* ``ETag`` and ``304`` pass through; an object's answer is passed on unread (the
  client bounds it), a translated one is read within ``max_upstream_body_bytes``.

One wire request per canonical request, except a Range start the header cannot
spell (an ID with ``..``), refused here without one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from resolvers.dialects.base import (
    Dialect,
    DialectConfig,
    DialectTransport,
    canonical,
    credential_of,
    list_envelope,
    read_decoded,
)
from resolvers.resources import RESOURCES
from resolvers.transfer import BodyTooLarge

#: The version every request must name.
MEDIA_TYPE = "application/vnd.spaces+json; version=1"
#: Canonical static segment -> its wire spelling (the declared collections, and the rest).
WIRE_SEGMENTS: dict[str, str] = {
    **{res.path: res.path.replace("_", "-") for res in RESOURCES},
    "account": "account",
    "pay": "pay",
    "openapi.json": "openapi.json",
}
#: Segments that name a list when they end a GET's path.
_COLLECTIONS = frozenset(res.path for res in RESOURCES)
#: Canonical paging parameters: they become the ``Range`` header.
_PAGING = frozenset({"limit", "starting_after", "starting_before"})
#: Wire headers a canonical answer keeps (besides ``ETag``).
_KEPT = ("retry-after",)


class SpotcapTransport(DialectTransport):
    """Canonical (Spaces) requests in, spotcap on the wire, canonical answers out."""

    def __init__(self, inner: httpx.AsyncBaseTransport, config: DialectConfig) -> None:
        super().__init__(inner, config)
        base = urlsplit(config.base_url).path if config.base_url else ""
        #: The base path's segments (``["api", "v1"]``); None: found per request.
        self._base: list[str] | None = [p for p in base.split("/") if p] if base else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        segments = request.url.raw_path.split(b"?", 1)[0].decode("ascii").split("/")
        start = self._route_start(segments)
        route = segments[start:]
        for i in range(0, len(route), 2):  # even positions are static, odd ones IDs
            route[i] = WIRE_SEGMENTS.get(route[i], route[i])
        listing = request.method == "GET" and len(route) % 2 == 1 and segments[-1] in _COLLECTIONS
        headers = request.headers.copy()
        credential = credential_of(request)
        if credential is None:
            headers.pop("authorization", None)
        else:
            headers["authorization"] = credential
        headers["accept"] = MEDIA_TYPE
        query = request.url.query.decode("ascii")
        backward = False
        if listing:
            params = request.url.params
            batch = "ids" in params
            if not batch:
                ranged = _range(params)
                if ranged is None:
                    return canonical(
                        request, 400, {"message": "this cursor cannot be spelled as a Range start"}
                    )
                headers["range"] = ranged
                backward = params.get("starting_before") is not None
            if any(name in params for name in _PAGING):
                query = urlencode([(k, v) for k, v in params.multi_items() if k not in _PAGING])
        raw_path = "/".join(segments[:start] + route) + ("?" + query if query else "")
        wire = httpx.Request(
            request.method,
            request.url.copy_with(raw_path=raw_path.encode("ascii")),
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        response = await self.inner.handle_async_request(wire)
        status = response.status_code
        if status == 304 or 300 <= status < 400:
            return response
        if status >= 400:
            return await self._error(request, response)
        if listing:
            return await self._page(request, response, backward)
        if status == 201:
            # The created object, unread: only the status differs from the canonical answer.
            extensions = {k: v for k, v in response.extensions.items() if k != "reason_phrase"}
            return httpx.Response(
                200,
                headers=response.headers,
                stream=response.stream,
                extensions=extensions,
                request=request,
            )
        return response

    def _route_start(self, segments: list[str]) -> int:
        """Where the canonical route starts in the path's ``segments`` (``""`` first)."""
        base = self._base
        if base is not None and segments[1 : 1 + len(base)] == base:
            return 1 + len(base)
        for i, part in enumerate(segments):
            if part in WIRE_SEGMENTS:
                return i
        return len(segments)

    async def _page(
        self, request: httpx.Request, response: httpx.Response, backward: bool
    ) -> httpx.Response:
        body = await self._read(response)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, list):
            # Not a page: handed on as it came, for the client to refuse (malformed).
            return canonical(request, 200, body, etag=response.headers.get("etag"))
        if backward:
            data.reverse()  # oldest first on the wire; canonical pages are newest first
        has_more = response.status_code == 206 or "next-range" in response.headers
        return canonical(
            request, 200, list_envelope(data, has_more), etag=response.headers.get("etag")
        )

    async def _error(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        body = await self._read(response)
        try:
            wire: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            wire = None
        wire = wire if isinstance(wire, dict) else {}
        message = wire.get("message")
        if not isinstance(message, str) or not message:
            message = response.reason_phrase or f"HTTP {response.status_code}"
        out: dict[str, Any] = {"message": message}
        status = response.status_code
        fields = wire.get("fields")
        if status == 422 and not (isinstance(fields, dict) and fields):
            # ``invalid_params`` naming no field refuses the resource's state ("already
            # paid"): Spaces answers that 400, and so the same userError (on the input ID).
            status = 400
        elif status == 422 and isinstance(fields, dict):
            out["fields"] = fields
            named = [name for name in fields if isinstance(name, str)]
            if named and not any(name in message for name in named):
                # What the facade reads to name the input at fault is the message.
                out["message"] = f"{message}: " + "; ".join(
                    f"{name} {' and '.join(map(str, fields[name]))}"
                    if isinstance(fields[name], list)
                    else name
                    for name in named
                )
        kept = {k: response.headers[k] for k in _KEPT if k in response.headers}
        return canonical(request, status, out, headers=kept)

    async def _read(self, response: httpx.Response) -> bytes:
        """The answer's body (decoded), refused past ``max_upstream_body_bytes``."""
        limit = self.config.max_upstream_body_bytes
        if response.is_stream_consumed:  # read already (a mock transport reads its answers)
            if len(response.content) > limit:
                raise BodyTooLarge(f"the upstream answered with more than {limit} bytes")
            return response.content
        return await read_decoded(response, limit)


def _range(params: httpx.QueryParams) -> str | None:
    """The ``Range`` header of a canonical page request; None if a cursor cannot be spelled."""
    after, before, limit = (
        params.get("starting_after") or None,
        params.get("starting_before") or None,
        params.get("limit"),
    )
    cursor = after or before
    if cursor is not None and (".." in cursor or cursor.endswith(".") or not cursor.isprintable()):
        return None
    # ``id [START]..[; max=N][, order=desc|asc]``: desc (newest first) is the default.
    spec = f"id {']' + cursor if cursor else ''}.."
    if limit:
        spec += f"; max={limit}"
    if before:
        spec += ", order=asc"
    return spec


class Spotcap(Dialect):
    """The spotcap dialect: its transport translates every exchange."""

    def wrap(
        self, inner: httpx.AsyncBaseTransport, config: DialectConfig
    ) -> httpx.AsyncBaseTransport:
        """A :class:`SpotcapTransport` around ``inner``."""
        return SpotcapTransport(inner, config)


DIALECT = Spotcap("spotcap")
