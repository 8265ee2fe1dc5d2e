"""Persisted queries: Apollo's automatic protocol (APQ) and an allowlist manifest.

APQ: a client sends ``extensions.persistedQuery.sha256Hash`` alone; an unknown
hash answers ``PERSISTED_QUERY_NOT_FOUND`` and the client retries with the
query, which is stored under its verified hash. Allowlist mode runs only the
operations of a manifest file (Apollo's persisted-query manifest, or a plain
``{"<sha256>": "<query>"}`` map); anything else is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from resolvers.errors import ErrorCode


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueryError(Exception):
    """Why a persisted-query request cannot run; ``code`` goes to ``extensions.code``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class QueryStore(Protocol):
    async def get(self, digest: str) -> str | None: ...
    async def put(self, digest: str, query: str) -> None: ...


class LocalQueryStore:
    """A bounded in-process store (least recently used out)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self.max_entries = max_entries

    async def get(self, digest: str) -> str | None:
        query = self._items.get(digest)
        if query is not None:
            self._items.move_to_end(digest)
        return query

    async def put(self, digest: str, query: str) -> None:
        self._items[digest] = query
        self._items.move_to_end(digest)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


class RedisQueryStore:
    """Shared by every facade process using the same Redis."""

    def __init__(self, redis: Any, prefix: str = "spaces-graphql:apq:", ttl: int = 7 * 86400):
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    async def get(self, digest: str) -> str | None:
        value = await self.redis.get(self.prefix + digest)
        return None if value is None else str(value)

    async def put(self, digest: str, query: str) -> None:
        await self.redis.set(self.prefix + digest, query, ex=self.ttl)


def load_manifest(path: str | Path) -> dict[str, str]:
    """``{sha256: query}`` from an Apollo manifest or a plain map; hashes are verified."""
    data = json.loads(Path(path).read_text())
    pairs: dict[str, str] = {}
    if isinstance(data, Mapping) and isinstance(data.get("operations"), list):
        for op in data["operations"]:
            pairs[str(op["id"])] = str(op["body"])
    elif isinstance(data, Mapping):
        pairs = {str(k): str(v) for k, v in data.items()}
    else:
        raise ValueError(f"{path}: not a persisted-query manifest")
    for digest, query in pairs.items():
        if sha256_hex(query) != digest:
            raise ValueError(f"{path}: the hash {digest} does not match its query")
    return pairs


class Resolved(NamedTuple):
    """A request's query text, whether it came by hash, and a digest still to store."""

    query: str
    by_hash: bool
    #: APQ registration: stored (:meth:`PersistedQueries.register`) only once the
    #: document passed pre-flight, so refused documents never fill the store.
    register: str | None = None


class PersistedQueries:
    """Resolves a request's query text from its ``extensions.persistedQuery``."""

    def __init__(self, store: QueryStore, manifest: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.manifest = dict(manifest) if manifest is not None else None

    @property
    def allowlist(self) -> bool:
        return self.manifest is not None

    async def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None, *, register: bool = True
    ) -> Resolved:
        """The query to run and whether it came by hash; raises :class:`PersistedQueryError`.

        ``register=False`` (production GET) runs only operations already persisted, by
        the manifest or by an earlier registration over POST: a new document sent with
        its own hash is ``PERSISTED_QUERY_NOT_FOUND``, so GET (which a cross-site page
        can make a browser send) never stores or runs a document nobody persisted.
        """
        pq = (extensions or {}).get("persistedQuery")
        if pq is None:
            if query is None:
                raise PersistedQueryError(
                    "send `query` (or a persisted query hash)", ErrorCode.BAD_REQUEST
                )
            if self.manifest is not None:
                digest = sha256_hex(query)
                if digest not in self.manifest:
                    raise PersistedQueryError(
                        "only the operations of the persisted-query manifest may run",
                        ErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
                    )
            return Resolved(query, False)
        if not isinstance(pq, Mapping) or pq.get("version") != 1:
            raise PersistedQueryError(
                "unsupported persistedQuery version", ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED
            )
        raw = pq.get("sha256Hash")
        if not isinstance(raw, str) or len(raw) != 64:
            raise PersistedQueryError("`sha256Hash` must be 64 hex digits", ErrorCode.BAD_REQUEST)
        digest = raw.lower()
        if self.manifest is not None:
            known = self.manifest.get(digest)
            if known is None:
                raise PersistedQueryError(
                    "PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND
                )
            if query is not None and query != known:
                raise PersistedQueryError(
                    "the query does not match its hash", ErrorCode.BAD_REQUEST
                )
            return Resolved(known, True)
        if query is None or not register:
            stored = await self.store.get(digest)
            if stored is None:
                raise PersistedQueryError(
                    "PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND
                )
            if query is not None and query != stored:
                raise PersistedQueryError(
                    "the query does not match its hash", ErrorCode.BAD_REQUEST
                )
            return Resolved(stored, True)
        if sha256_hex(query) != digest:
            raise PersistedQueryError("provided sha does not match query", ErrorCode.BAD_REQUEST)
        return Resolved(query, True, register=digest)

    async def register(self, digest: str, query: str) -> None:
        """Store an APQ registration (after the document passed pre-flight)."""
        await self.store.put(digest, query)
