"""Per-process runtime: the upstream client and everything built once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.websockets import WebSocket

from graph.context import Caller, Context
from graph.schema import Schema, schema_for
from resolvers.client import SpacesClient
from resolvers.live.service import LiveEvents
from resolvers.loaders import Loaders
from resolvers.targets import HostResolver, system_resolver
from spaces_graphql.observability import Metrics
from spaces_graphql.persisted import (
    LocalQueryStore,
    PersistedQueries,
    QueryStore,
    RedisQueryStore,
    load_manifest,
)
from spaces_graphql.preflight import Limits, Preflight
from spaces_graphql.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from spaces_graphql.settings import Settings
from spaces_graphql.tracing import Tracing


class Runtime:
    """Holds the process's one upstream client (opened by the lifespan) and its peers."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        resolve_host: HostResolver = system_resolver,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.resolve_host = resolve_host
        self.metrics = Metrics()
        # The layers below get small config objects (and the tracer) built here, once:
        # they import nothing from this package (tests/test_layers.py).
        self.upstream_config = settings.upstream_config()
        self.graph_config = settings.graph_config()
        #: Operation spans (pipeline) and upstream request spans (the client).
        self.tracing = Tracing(settings.otel)
        #: The schema this process executes (with or without the short paths).
        self.schema: Schema = schema_for(settings.short_paths)
        self.preflight = Preflight(
            self.schema._schema,
            Limits(
                max_depth=settings.max_depth,
                max_aliases=settings.max_aliases,
                max_tokens=settings.max_tokens,
                max_directives=settings.max_directives,
                max_cost=settings.max_cost,
                introspection=settings.development,
                suggestions=settings.development,
                cache_bytes=settings.document_cache_bytes,
                cache_entry_bytes=settings.document_cache_entry_bytes,
            ),
        )
        manifest = (
            load_manifest(settings.persisted_query_manifest)
            if settings.persisted_query_manifest
            else None
        )
        self._manifest = manifest
        self.redis: Any = None
        self.persisted = PersistedQueries(LocalQueryStore(), manifest)
        self.limiter: RateLimiter = LocalRateLimiter(
            settings.rate_limit_points or 1, settings.rate_limit_period
        )
        self._client: SpacesClient | None = None
        self.live: LiveEvents | None = None
        self.metrics.watch(self._gauges)

    @property
    def client(self) -> SpacesClient:
        if self._client is None:
            raise RuntimeError("the upstream client is opened by the app's lifespan")
        return self._client

    async def open(self) -> None:
        s = self.settings
        self._client = SpacesClient(self.upstream_config, self.transport, tracer=self.tracing)
        self._client.observer = self.metrics.observe_upstream
        if s.redis_url:
            import redis.asyncio as redis

            self.redis = redis.from_url(s.redis_url, decode_responses=True)
            store: QueryStore = RedisQueryStore(self.redis)
            self.persisted = PersistedQueries(store, self._manifest)
            self.limiter = RedisRateLimiter(
                self.redis, s.rate_limit_points or 1, s.rate_limit_period
            )
        self.live = LiveEvents(
            self._client,
            public_url=s.hooks_public_url,
            redis_url=s.redis_url or None,
            state_path=Path(s.hook_state_path) if s.hook_state_path else None,
            state_key=s.hook_state_key or None,
            lease_seconds=s.live_lease_seconds,
            workers=s.workers,
        )
        await self.live.start()

    async def close(self) -> None:
        if self.live is not None:
            await self.live.close()
            self.live = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    def context(
        self,
        request: Request | WebSocket,
        response: Any,
        caller: Caller,
        traceparent: str | None = None,
    ) -> Context:
        """A fresh per-operation context: the caller's upstream session and new loaders."""
        upstream = self.client.session(caller.token, traceparent)
        return Context(
            request=request,
            response=response,
            config=self.graph_config,
            caller=caller,
            upstream=upstream,
            loaders=Loaders(upstream),
            memo={},
            live=self.live,
            resolve_host=self.resolve_host,
        )

    def _gauges(self) -> dict[str, float]:
        gauges: dict[str, float] = {}
        if self.live is not None:
            gauges["active_subscriptions"] = float(self.live.hub.count())
        client = self._client
        if client is not None:
            gauges["upstream_requests_total_process"] = float(client.requests_total)
            for name in ("cache_hits", "cache_misses", "cache_revalidated", "breaker_open"):
                value = getattr(client, name, None)
                if isinstance(value, int | float | bool):
                    gauges[f"upstream_{name}"] = float(value)
            # Breakers per scope, bulkhead occupancy, rejections by reason (issue 12).
            gauges.update(client.gauges())
        return gauges
