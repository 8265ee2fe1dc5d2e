"""What the upstream client is given: its configuration and a tracer.

``resolvers/`` imports nothing from the layers above it (``tests/test_layers.py``
checks). The app builds an :class:`UpstreamConfig` once at start-up
(``Settings.upstream_config()``) and hands it, with its tracer, to
:class:`~resolvers.client.SpacesClient`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

BatchIds = Literal["auto", "on", "off"]
EngineName = Literal["httpcore", "aiohttp", "httptools"]
#: The upstream dialects (``resolvers/dialects/``, ``docs/dialects.md``).
UpstreamDialect = Literal["spaces", "spotcap", "launch27"]


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The settings the upstream client, its engine and its cache read (same names as there)."""

    upstream_url: str
    # --- pool, engine and timeouts (resolvers/engine.py, resolvers/bulkhead.py) ---
    connect_timeout: float
    read_timeout: float
    pool_timeout: float
    max_connections: int
    max_connections_per_token: int
    max_keepalive_connections: int
    keepalive_expiry: float
    upstream_engine: EngineName
    #: Upper bound on concurrent upstream requests of one operation (resolvers/session.py).
    max_concurrency: int
    batch_ids: BatchIds
    max_upstream_body_bytes: int
    # --- retries and breakers (resolvers/resilience.py, resolvers/breakers.py) ---
    upstream_retries: int
    upstream_retry_base_seconds: float
    upstream_retry_cap_seconds: float
    upstream_retry_budget: float
    breaker_failure_threshold: int
    breaker_open_seconds: float
    breaker_distinct_callers: int
    breaker_window_seconds: float
    breaker_max_tokens: int
    # --- ETag cache (resolvers/cache.py) ---
    upstream_cache_entries: int
    upstream_cache_bytes: int
    upstream_cache_entry_bytes: int
    upstream_cache_ttl_seconds: float
    upstream_cache_fresh_seconds: float
    #: Redis for the shared ETag cache; empty: in-process.
    redis_url: str
    # --- the upstream's dialect (resolvers/dialects/) ---
    #: How the upstream speaks: the transport under the client translates (docs/dialects.md).
    upstream_dialect: UpstreamDialect = "spaces"
    #: An integration credential the facade itself holds (launch27's ``X-API-Key``).
    upstream_api_key: str = field(default="", repr=False)
    #: Seconds a credential's upstream time zone is remembered (launch27).
    upstream_zone_ttl_seconds: float = 300.0


class UpstreamConfigSource(Protocol):
    """Anything that can produce an :class:`UpstreamConfig` (the app's ``Settings`` does)."""

    def upstream_config(self) -> UpstreamConfig: ...


def upstream_config_of(source: UpstreamConfig | UpstreamConfigSource) -> UpstreamConfig:
    """``source`` itself, or the configuration it builds."""
    return source if isinstance(source, UpstreamConfig) else source.upstream_config()


class UpstreamTracer(Protocol):
    """One client span per upstream request (``spaces_graphql/tracing.py`` implements it)."""

    def upstream(
        self, method: str, route: str, headers: MutableMapping[str, str]
    ) -> AbstractContextManager[Any]:
        """A span around one request; may add trace headers to ``headers``."""
        ...

    def finish(self, span: Any, status: int | None, error: BaseException | None = None) -> None:
        """Record the request's outcome on ``span`` (None when tracing is off)."""
        ...


class NoTracing:
    """The tracer of a client given none: no spans (``traceparent`` still propagates)."""

    @contextlib.contextmanager
    def upstream(self, method: str, route: str, headers: MutableMapping[str, str]) -> Iterator[Any]:
        """No span."""
        yield None

    def finish(self, span: Any, status: int | None, error: BaseException | None = None) -> None:
        """Nothing to record."""
