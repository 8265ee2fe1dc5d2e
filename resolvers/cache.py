"""The upstream ETag cache and the single-flight map of in-flight GETs.

Both are keyed by :func:`cache_key`: a hash of the caller's token and the full
URL, so nothing crosses tokens and the token itself is never stored (design.md,
principle 4). The cache holds ``ETag`` + body so that a GET can send
``If-None-Match`` and reuse the body on ``304``; in-process (:class:`MemoryEtagCache`,
LRU bounded by entries and bytes) or in Redis (:class:`RedisEtagCache`, shared
by every process, prefixed keys with a TTL). *Whether* and *how* to use them is
decided by ``resolvers/client.py``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from resolvers.config import UpstreamConfig

log = logging.getLogger("spaces_graphql.cache")

T = TypeVar("T")
REDIS_PREFIX = "spaces-graphql:etag:"


def token_hash(token: str) -> str:
    """A stable digest of an access token, for keys (the token never is one)."""
    return hashlib.sha256(token.encode()).hexdigest()


def cache_key(token_digest: str, url: str) -> str:
    """The key of one caller's view of one URL."""
    return hashlib.sha256(f"{token_digest}\n{url}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A validated upstream body: its ``ETag`` and when it was stored (Unix seconds)."""

    etag: str
    body: bytes
    stored_at: float

    def age(self) -> float:
        return time.time() - self.stored_at


class EtagCache(Protocol):
    """Where validated bodies live; lookups never raise (a broken cache is a miss)."""

    async def get(self, key: str) -> CachedResponse | None: ...
    async def put(self, key: str, entry: CachedResponse) -> None: ...
    async def aclose(self) -> None: ...


class MemoryEtagCache:
    """In-process LRU bounded by entry count and total body bytes, entries expire after ``ttl``."""

    def __init__(self, max_entries: int, max_bytes: int, max_entry_bytes: int, ttl: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.ttl = ttl
        self.bytes = 0
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.age() > self.ttl:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def put(self, key: str, entry: CachedResponse) -> None:
        if len(entry.body) > min(self.max_entry_bytes, self.max_bytes):
            self._drop(key)
            return
        self._drop(key)
        self._entries[key] = entry
        self.bytes += len(entry.body)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old.body)

    async def aclose(self) -> None:
        self._entries.clear()
        self.bytes = 0


_HEADER = struct.Struct("!dH")  # stored_at, length of the ETag


class RedisEtagCache:
    """The ETag cache in Redis: every facade process revalidates with the same ETags.

    One value per key (``stored_at``, ETag, body packed together) under
    ``prefix``, with a TTL so that Redis bounds it even if nothing evicts; its
    own ``maxmemory`` policy bounds the bytes. Redis failures count as misses:
    the cache must never fail a request that the upstream can answer.
    """

    def __init__(
        self, url: str, ttl: float, max_entry_bytes: int, prefix: str = REDIS_PREFIX
    ) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.ttl = max(1, int(ttl))
        self.max_entry_bytes = max_entry_bytes
        self.prefix = prefix

    async def get(self, key: str) -> CachedResponse | None:
        try:
            raw = await self._redis.get(self.prefix + key)
        except self._errors as exc:
            log.warning("ETag cache read failed: %r", exc)
            return None
        if not raw or len(raw) < _HEADER.size:
            return None
        stored_at, etag_len = _HEADER.unpack_from(raw)
        start = _HEADER.size
        etag = raw[start : start + etag_len].decode("latin-1")
        return CachedResponse(etag, bytes(raw[start + etag_len :]), stored_at)

    async def put(self, key: str, entry: CachedResponse) -> None:
        if len(entry.body) > self.max_entry_bytes:
            return
        etag = entry.etag.encode("latin-1", "replace")[:65535]
        value = _HEADER.pack(entry.stored_at, len(etag)) + etag + entry.body
        try:
            await self._redis.set(self.prefix + key, value, ex=self.ttl)
        except self._errors as exc:
            log.warning("ETag cache write failed: %r", exc)

    async def aclose(self) -> None:
        await self._redis.aclose()


class SingleFlight(Generic[T]):
    """Concurrent calls with the same key share one execution.

    The work runs in its own task; every caller awaits it shielded and counts
    as a waiter. A caller that is cancelled stops waiting, and when the last
    waiter leaves the work itself is cancelled: a shared upstream request
    lives exactly as long as someone wants its answer.
    """

    def __init__(self) -> None:
        self._flights: dict[str, tuple[asyncio.Task[T], list[int]]] = {}
        self.shared = 0

    def __len__(self) -> int:
        return len(self._flights)

    async def do(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is None:
            task = asyncio.ensure_future(work())
            flight = (task, [0])
            self._flights[key] = flight
            task.add_done_callback(functools.partial(self._forget, key, flight))
        else:
            self.shared += 1
        task, waiters = flight
        waiters[0] += 1
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done() and waiters[0] == 1:
                task.cancel()
            raise
        finally:
            waiters[0] -= 1

    def _forget(
        self, key: str, flight: tuple[asyncio.Task[T], list[int]], _done: asyncio.Task[T]
    ) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]


def etag_cache_for(config: UpstreamConfig) -> EtagCache | None:
    """The cache the configuration asks for: none, in-process, or Redis when ``redis_url`` is set."""
    if config.upstream_cache_entries == 0:
        return None
    if config.redis_url:
        return RedisEtagCache(
            config.redis_url,
            ttl=config.upstream_cache_ttl_seconds,
            max_entry_bytes=config.upstream_cache_entry_bytes,
        )
    return MemoryEtagCache(
        max_entries=config.upstream_cache_entries,
        max_bytes=config.upstream_cache_bytes,
        max_entry_bytes=config.upstream_cache_entry_bytes,
        ttl=config.upstream_cache_ttl_seconds,
    )


class ParsedBodies:
    """Pages already parsed from a body the ETag cache holds, reused on revalidation.

    A revalidated GET (a 304, or a fresh cache entry) answers with the very ``bytes``
    object the cache stored, so a page parsed from it once can be handed out again
    instead of decoding the JSON and building every record anew (about a sixth of
    a distinct W3's CPU). Keyed by the body's identity and the parser; each entry
    keeps its body alive, so an identity is never reused while it is remembered.
    Records are never mutated after parsing, so operations may share them. Bodies
    belong to one token's cache entries, so nothing crosses tokens. LRU, bounded by
    entries and by the bodies' bytes.
    """

    def __init__(self, max_entries: int = 2048, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, Any], tuple[bytes, Any]] = OrderedDict()
        self._bytes = 0
        self.hits = 0

    def get(self, body: bytes, parser: Any) -> Any | None:
        """The parsed value of ``body`` by ``parser``, if remembered."""
        key = (id(body), parser)
        found = self._entries.get(key)
        if found is None or found[0] is not body:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found[1]

    def put(self, body: bytes, parser: Any, parsed: Any) -> None:
        """Remember ``parsed`` for ``body`` (larger than the bound: not remembered)."""
        if self.max_entries <= 0 or len(body) > self.max_bytes:
            return
        key = (id(body), parser)
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[0])
        self._entries[key] = (body, parsed)
        self._bytes += len(body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, (gone, _) = self._entries.popitem(last=False)
            self._bytes -= len(gone)

    def __len__(self) -> int:
        return len(self._entries)
