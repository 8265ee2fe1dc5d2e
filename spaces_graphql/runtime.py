"""Per-process runtime: the schema, the upstream client and everything opened at start-up.

:meth:`Runtime.open` (the app's lifespan awaits it) opens the collaborators in
order (Redis when configured, the upstream client with its cache, the
live-events service) and then constructs the :class:`Runtime` with all of them:
a runtime is complete when it exists, and nothing in it is swapped later. Its
:meth:`Runtime.close` closes what ``open`` opened.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket

from graph.context import Caller, Context
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


def preflight_limits(settings: Settings) -> Limits:
    """Pre-flight's limits for this profile (introspection and suggestions in development)."""
    return Limits(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_directives=settings.max_directives,
        max_cost=settings.max_cost,
        introspection=settings.development,
        suggestions=settings.development,
        cache_bytes=settings.document_cache_bytes,
        cache_entry_bytes=settings.document_cache_entry_bytes,
    )


class Runtime:
    """One served app's schema, upstream client, live events, stores and observability.

    Built by :meth:`open`; the constructor takes every collaborator already
    opened, and derives only what needs no I/O (pre-flight, the graph's config).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        schema: strawberry.Schema,
        client: SpacesClient,
        live: LiveEvents,
        persisted: PersistedQueries,
        limiter: RateLimiter,
        metrics: Metrics,
        tracing: Tracing,
        resolve_host: HostResolver = system_resolver,
        redis: Any = None,
    ) -> None:
        self.settings = settings
        #: The schema this app executes (``create_app``'s, by default ``schema_for``).
        self.schema = schema
        self.client = client
        self.live = live
        self.persisted = persisted
        self.limiter = limiter
        self.metrics = metrics
        #: Operation spans (pipeline) and upstream request spans (the client).
        self.tracing = tracing
        self.resolve_host = resolve_host
        #: The Redis connection the stores share (None without ``redis_url``).
        self.redis = redis
        # The layers below get small config objects (and the tracer), built once:
        # they import nothing from this package (tests/test_layers.py).
        self.upstream_config = client.config
        self.graph_config = settings.graph_config()
        self.preflight = Preflight(schema._schema, preflight_limits(settings))
        metrics.watch(self._gauges)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        schema: strawberry.Schema,
        transport: httpx.AsyncBaseTransport | None = None,
        resolve_host: HostResolver = system_resolver,
    ) -> Runtime:
        """Open every collaborator, then build the runtime with them.

        ``transport`` routes upstream calls in-process (tests); ``resolve_host``
        answers REST Hook target names. If a step fails, what was opened before
        it is closed again.
        """
        s = settings
        manifest = load_manifest(s.persisted_query_manifest) if s.persisted_query_manifest else None
        metrics = Metrics()
        tracing = Tracing(s.otel)
        async with contextlib.AsyncExitStack() as opened:
            redis: Any = None
            store: QueryStore = LocalQueryStore()
            limiter: RateLimiter = LocalRateLimiter(s.rate_limit_points or 1, s.rate_limit_period)
            if s.redis_url:
                import redis.asyncio as redis_asyncio

                redis = redis_asyncio.from_url(s.redis_url, decode_responses=True)
                opened.push_async_callback(redis.aclose)
                store = RedisQueryStore(redis)
                limiter = RedisRateLimiter(redis, s.rate_limit_points or 1, s.rate_limit_period)
            client = SpacesClient(
                s.upstream_config(), transport, tracer=tracing, observer=metrics.observe_upstream
            )
            opened.push_async_callback(client.aclose)
            live = LiveEvents(
                client,
                public_url=s.hooks_public_url,
                redis_url=s.redis_url or None,
                state_path=Path(s.hook_state_path) if s.hook_state_path else None,
                state_key=s.hook_state_key or None,
                lease_seconds=s.live_lease_seconds,
                workers=s.workers,
            )
            await live.start()
            opened.push_async_callback(live.close)
            runtime = cls(
                settings,
                schema=schema,
                client=client,
                live=live,
                persisted=PersistedQueries(store, manifest),
                limiter=limiter,
                metrics=metrics,
                tracing=tracing,
                resolve_host=resolve_host,
                redis=redis,
            )
            opened.pop_all()  # the runtime owns them now: its close() closes them
        return runtime

    async def close(self) -> None:
        """Close what :meth:`open` opened: live events, then the client, then Redis."""
        async with contextlib.AsyncExitStack() as closing:  # last pushed, first closed
            if self.redis is not None:
                closing.push_async_callback(self.redis.aclose)
            closing.push_async_callback(self.client.aclose)
            closing.push_async_callback(self.live.close)

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
        client = self.client
        gauges = {
            "active_subscriptions": float(self.live.hub.count()),
            "upstream_requests_total_process": float(client.requests_total),
        }
        for name in ("cache_hits", "cache_misses", "cache_revalidated", "breaker_open"):
            value = getattr(client, name, None)
            if isinstance(value, int | float | bool):
                gauges[f"upstream_{name}"] = float(value)
        # Breakers per scope, bulkhead occupancy, rejections by reason (issue 12).
        gauges.update(client.gauges())
        return gauges
