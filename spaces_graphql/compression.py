"""Compressed ``/graphql`` answers: ``Accept-Encoding`` negotiation as a small ASGI middleware.

A JSON answer of at least ``compression_min_bytes`` is compressed with the coding
the client prefers (q-values respected, ``identity`` and ``q=0`` honoured; on a tie
the server's order, cheapest CPU first: zstd, br, gzip). Only single-message
answers are compressed: a streamed answer (``more_body``, ``multipart/mixed``,
``text/event-stream``) must flush each part as it is produced, so it passes
through untouched, and WebSocket frames never come here. Every JSON answer (and
every 304) says ``Vary: Accept-Encoding``, merged with what it already varies on.

ETags: the facade's ETags are weak (``W/"…"``, a hash of the uncompressed body). A
weak validator means "semantically the same", which stays true across content
codings (RFC 9110 §8.8.1), so one ETag serves every encoding and ``If-None-Match``
keeps matching whatever the client decoded. A strong ETag from elsewhere is
weakened when its body is compressed, as nginx does, since its bytes change.
"""

from __future__ import annotations

import enum
import gzip
import math
from collections.abc import Callable, Collection

import brotli  # type: ignore[import-untyped]  # no stubs; one call, wrapped in bytes()
import zstandard
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spaces_graphql.media import weighted


class Coding(enum.Enum):
    """The content codings the facade produces (``identity``: none)."""

    ZSTD = "zstd"
    BR = "br"
    GZIP = "gzip"
    IDENTITY = "identity"


#: Preference on equal q-values: the least CPU for about the same bytes first (on the
#: 28 KB W5 answer at level 6: zstd 3 ~80 µs, brotli 4 ~360 µs, gzip 6 ~480 µs).
SERVER_ORDER = (Coding.ZSTD, Coding.BR, Coding.GZIP)
#: Media types whose single-message answers are compressed (plus any ``+json`` type).
COMPRESSIBLE = frozenset({"application/json", "application/graphql-response+json"})
#: Answers that flush part by part: never buffered, never compressed.
STREAMED = frozenset({"multipart/mixed", "text/event-stream"})
ALIASES = {"x-gzip": "gzip"}


def negotiate(accept_encoding: str | None, offered: Collection[Coding] = SERVER_ORDER) -> Coding:
    """The coding to answer with: the highest q among ``offered``, identity when that wins.

    No header (or an empty one) means identity: compressing for a client that did not
    ask for it saves nothing it can use. ``*`` stands for every coding not named. A
    client excluding everything still gets identity (a 406 for a readable answer helps
    no one).
    """
    if not accept_encoding:
        return Coding.IDENTITY
    weights: dict[str, float] = {}
    for name, q in weighted(accept_encoding):
        token = ALIASES.get(name, name)
        if not token:
            continue
        weights[token] = max(q, weights.get(token, 0.0))
    star = weights.get("*")
    best, best_q = Coding.IDENTITY, 0.0
    for coding in offered:
        q = weights.get(coding.value, star if star is not None else 0.0)
        if q > best_q:  # strictly greater: on a tie the earlier (server) choice stays
            best, best_q = coding, q
    # An unlisted identity is the fallback, not a rival: it wins only when the client
    # names it with a higher weight than every coding it accepts.
    identity_q = weights.get("identity", 0.0)
    if best is not Coding.IDENTITY and identity_q > best_q:
        return Coding.IDENTITY
    return best


def compressor(coding: Coding, level: int) -> Callable[[bytes], bytes]:
    """One-shot compression of a whole body at ``level`` (1..9, gzip's scale).

    brotli's quality and zstd's level are mapped to cost about gzip's CPU or less at
    the same setting: quality ``level - 2`` (brotli 11 costs ~100x gzip 9 for 10%
    fewer bytes) and zstd ``ceil(level / 2)`` (zstd 3, its own default, at 6).
    """
    if coding is Coding.GZIP:
        return lambda body: gzip.compress(body, compresslevel=level, mtime=0)
    if coding is Coding.BR:
        quality = max(0, level - 2)
        return lambda body: bytes(brotli.compress(body, mode=brotli.MODE_TEXT, quality=quality))
    if coding is Coding.ZSTD:
        engine = zstandard.ZstdCompressor(level=math.ceil(level / 2))
        return engine.compress
    raise ValueError(f"no compressor for {coding.value}")


def add_vary(headers: MutableHeaders, value: str) -> None:
    """Merge ``value`` into ``Vary`` (one header, no duplicates, order kept)."""
    present = [v.strip() for line in headers.getlist("vary") for v in line.split(",") if v.strip()]
    if any(v == "*" or v.lower() == value.lower() for v in present):
        return
    headers["Vary"] = ", ".join([*present, value])


def _media(headers: MutableHeaders) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


class Compression:
    """ASGI middleware compressing the HTTP answers of ``paths`` (``/graphql``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        min_bytes: int,
        level: int,
        paths: Collection[str] = ("/graphql",),
    ) -> None:
        self.app = app
        self.min_bytes = min_bytes
        self.level = level
        self.paths = frozenset(paths)
        # Built once: a zstd compressor object is reusable, the others are plain calls.
        self.compressors = {c: compressor(c, level) for c in SERVER_ORDER}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        coding = negotiate(Headers(scope=scope).get("accept-encoding"))
        await self.app(scope, receive, _Responder(self, coding, send))


class _Responder:
    """Holds the start message until the first body message shows whether to compress."""

    def __init__(self, owner: Compression, coding: Coding, send: Send) -> None:
        self.owner = owner
        self.coding = coding
        self.send = send
        self.start: Message | None = None
        self.passthrough = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if self.passthrough or kind not in ("http.response.start", "http.response.body"):
            await self.send(message)
            return
        if kind == "http.response.start":
            self.start = message
            return
        start, self.start = self.start, None
        if start is None:  # a body without a start is the app's bug; do not hide it
            await self.send(message)
            return
        headers = MutableHeaders(scope=start)
        media = _media(headers)
        if message.get("more_body", False) or media in STREAMED:
            # Parts must reach the client as they come: no buffering, no coding.
            self.passthrough = True
            await self.send(start)
            await self.send(message)
            return
        compressible = media in COMPRESSIBLE or media.endswith("+json")
        status = int(start["status"])
        if compressible or status == 304:
            # A 304 must vary on what its 200 varies on (it carries no Content-Type).
            add_vary(headers, "Accept-Encoding")
        body: bytes = message.get("body", b"")
        if (
            compressible
            and self.coding is not Coding.IDENTITY
            and len(body) >= self.owner.min_bytes
            and "content-encoding" not in headers
            and status not in (204, 304)
        ):
            body = self.owner.compressors[self.coding](body)
            headers["Content-Encoding"] = self.coding.value
            headers["Content-Length"] = str(len(body))
            etag = headers.get("etag")
            if etag and not etag.startswith("W/"):
                headers["ETag"] = "W/" + etag
            message = {**message, "body": body}
        await self.send(start)
        await self.send(message)
