"""The upstream client: the one place that decides auth, timeouts, retries and error mapping.

One :class:`SpacesClient` (one pooled ``httpx.AsyncClient``) lives per process,
opened and closed in the app's lifespan. Each GraphQL operation gets an
:class:`UpstreamSession` bound to the caller's token, which bounds that
operation's concurrency and counts its upstream requests.

Policy, all of it decided here (the mechanisms live in ``resolvers/resilience.py``,
``resolvers/cache.py`` and ``resolvers/bulkhead.py``; the HTTP engine under httpx in
``resolvers/engine.py``, the per-operation session in ``resolvers/session.py``, statuses
as errors in ``resolvers/upstream.py``; this module builds the client and reads through
the cache, ``resolvers/sending.py`` sends every request):

* every request has httpx's per-phase timeouts, and inside a GraphQL operation
  also the operation's deadline: a call that would start after it fails fast
  with ``UPSTREAM_TIMEOUT``, and the time left bounds the call;
* only GETs are retried, only after a connection error/reset or a 502/503/504,
  at most ``upstream_retries`` times with jittered exponential backoff, and only
  while the process's retry budget allows; writes are sent once;
* circuit breakers scoped by who fails (:class:`ScopedBreakers`):
  ``breaker_failure_threshold`` consecutive failures make calls fail fast with
  ``UPSTREAM_UNAVAILABLE`` and ``retryAfter`` for ``breaker_open_seconds``, then
  one probe decides; connect failures, or 5xx/resets/timeouts of at least
  ``breaker_distinct_callers`` tokens, open the shared breaker (everyone), while
  one token's 5xx/resets/timeouts open only that token's breaker;
* bulkheads (:class:`Bulkhead`, in front of httpx's pool): at most
  ``max_connections`` exchanges in flight, ``max_connections_per_token`` per
  token, waiters served fewest-in-flight first, and a wait longer than
  ``pool_timeout`` (or the deadline) fails only that call (``UPSTREAM_TIMEOUT``);
* a 429 blocks that token's calls until its ``Retry-After`` (``RATE_LIMITED``);
* bodies are streamed and refused past ``max_upstream_body_bytes``; bodies that
  are not JSON are ``UPSTREAM_ERROR`` for the field that needed them;
* GETs revalidate with the ETag cache (``If-None-Match``, body reused on 304),
  and identical concurrent GETs of one token share one request (single flight);
* reads still running when their operation ends are cancelled (a client that
  disconnects stops its upstream work).
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

import httpx

from resolvers.bulkhead import Bulkhead
from resolvers.cache import (
    CachedResponse,
    EtagCache,
    ParsedBodies,
    SingleFlight,
    cache_key,
    etag_cache_for,
)
from resolvers.capabilities import BatchCapability
from resolvers.config import (
    NoTracing,
    UpstreamConfig,
    UpstreamConfigSource,
    UpstreamTracer,
    upstream_config_of,
)
from resolvers.dialects import Dialect, dialect
from resolvers.dialects.base import DialectConfig
from resolvers.engine import UpstreamClient, network_transport
from resolvers.errors import UpstreamError
from resolvers.resilience import RetryAfterGate, RetryBudget, ScopedBreakers
from resolvers.sending import Sending
from resolvers.session import UpstreamSession
from resolvers.transfer import BodyTooLarge, Params
from resolvers.upstream import (
    Rejection,
    basic_auth,
    error_for_status,
    route_template,
    segment,
    valid_upstream_id,
)


class SpacesClient(Sending):
    """The process-wide upstream client (one connection pool) and its resilience state.

    Counters for metrics: ``requests_total`` (requests sent), ``retries_total``,
    ``cache_hits`` (answered from a fresh entry, nothing sent), ``cache_revalidated``
    (a 304 reused the cached body), ``cache_misses`` (a body was downloaded),
    ``flights_shared`` (GETs that joined an identical one in flight) and
    ``breaker_open`` (whether the shared circuit currently refuses calls), and
    :meth:`gauges` (breakers per scope, bulkhead occupancy, rejections by reason).
    """

    def __init__(
        self,
        config: UpstreamConfig | UpstreamConfigSource,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        cache: EtagCache | None = None,
        tracer: UpstreamTracer | None = None,
        observer: Callable[[str, str, int, float], None] | None = None,
    ):
        # ``Settings`` is accepted as it is (it builds the config): tests and benches pass it.
        self.config = cfg = upstream_config_of(config)
        base = cfg.upstream_url.rstrip("/") + "/"
        self._base = base
        #: How the upstream speaks (``resolvers/dialects/``): everything above the transport
        #: speaks the canonical (Spaces) dialect; the login mutation asks it for its flow.
        self.dialect: Dialect = dialect(cfg.upstream_dialect)
        # Tests inject theirs (ASGI/Mock); real sockets go through the chosen engine. The
        # dialect's transport translates around either (``spaces``: none, the inner itself).
        inner = transport if transport is not None else network_transport(cfg)
        wire = self.dialect.wrap(
            inner,
            DialectConfig(
                api_key=cfg.upstream_api_key,
                max_upstream_body_bytes=cfg.max_upstream_body_bytes,
                zone_ttl_seconds=cfg.upstream_zone_ttl_seconds,
                base_url=base,
            ),
        )
        #: The dialect's transport (what translates REST Hook deliveries too: live events).
        self.wire = wire
        self.http = UpstreamClient(
            base_url=base,
            transport=wire,
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout,
                read=cfg.read_timeout,
                write=cfg.read_timeout,
                pool=cfg.pool_timeout,
            ),
            headers={"Accept": "application/json", "User-Agent": "spaces-graphql/0.1"},
            follow_redirects=False,
        )
        #: Whether ``?ids=`` batches lookups on this upstream (``resolvers/capabilities.py``).
        self.batch_capability = BatchCapability(cfg.batch_ids)
        # This client talks to one base URL, so "the shared breaker" is the upstream's.
        self.breakers = ScopedBreakers(
            cfg.breaker_failure_threshold,
            cfg.breaker_open_seconds,
            distinct_callers=cfg.breaker_distinct_callers,
            window=cfg.breaker_window_seconds,
            max_tokens=cfg.breaker_max_tokens,
        )
        self.breaker = self.breakers.shared
        self.bulkhead = Bulkhead(
            cfg.max_connections,
            min(cfg.max_connections_per_token, cfg.max_connections),
        )
        self.rejections: Counter[Rejection] = Counter()
        self.budget = RetryBudget(cfg.upstream_retry_budget)
        self.gate = RetryAfterGate()
        self.cache = cache if cache is not None else etag_cache_for(cfg)
        self.flights: SingleFlight[tuple[bytes, bool]] = SingleFlight()
        #: Pages parsed from cached bodies, reused when a GET revalidates (cache.py).
        self.parsed = ParsedBodies()
        self.requests_total = 0
        #: Called with (method, route template, status or 0, seconds) after each request.
        self.observer = observer
        #: The app's tracer (``spaces_graphql/tracing.py``); no spans without one.
        self.tracing: UpstreamTracer = tracer if tracer is not None else NoTracing()
        self.retries_total = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.cache_revalidated = 0

    @property
    def breaker_open(self) -> bool:
        """Whether calls are currently refused without reaching the upstream."""
        return self.breaker.state == "open"

    @property
    def flights_shared(self) -> int:
        return self.flights.shared

    def gauges(self) -> dict[str, float]:
        """Isolation state for ``/metrics``: breakers per scope, bulkhead, rejections."""
        out = {"upstream_breaker_open": float(self.breaker_open)}
        for name, value in {**self.breakers.gauges(), **self.bulkhead.gauges()}.items():
            out[f"upstream_{name}"] = value
        for reason in Rejection:
            out[f"upstream_rejections_{reason}"] = float(self.rejections[reason])
        return out

    async def aclose(self) -> None:
        """Close the connection pool (and the cache's Redis connection)."""
        await self.http.aclose()
        if self.cache is not None:
            await self.cache.aclose()

    def session(self, token: str, traceparent: str | None = None) -> UpstreamSession:
        """A per-operation view of the client, bound to the caller's token."""
        return UpstreamSession(self, token, traceparent)

    def url(self, path: str, params: Params | None = None) -> str:
        """The absolute upstream URL of ``path`` with ``params`` (also the cache's name for it)."""
        url = self._base + path.lstrip("/")
        if params:
            url += "?" + _query_string(tuple(params.items()))
        return url

    # -- reads -------------------------------------------------------------------------

    async def get_body(
        self,
        token_digest: str,
        auth: str,
        path: str,
        params: Params | None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[bytes, bool]:
        """A GET's body and whether the cache answered it (fresh, or revalidated by a 304).

        From the ETag cache, a shared in-flight request, or the upstream.
        """
        url = self.url(path, params)
        key = cache_key(token_digest, url)
        # Joiners share the first caller's request, hence its deadline too; all
        # operations have the same deadline setting, so they differ by their age only.
        return await self.flights.do(
            key,
            lambda: self._revalidating_get(key, token_digest, auth, path, url, extra_headers),
        )

    async def _revalidating_get(
        self,
        key: str,
        token_digest: str,
        auth: str,
        path: str,
        url: str,
        extra_headers: Mapping[str, str] | None,
    ) -> tuple[bytes, bool]:
        cache = self.cache
        entry = await cache.get(key) if cache is not None else None
        fresh = self.config.upstream_cache_fresh_seconds
        if entry is not None and fresh > 0 and entry.age() < fresh:
            self.cache_hits += 1
            return entry.body, True
        headers = {**(extra_headers or {}), "Authorization": auth}
        if entry is not None:
            headers["If-None-Match"] = entry.etag
        response = await self._send("GET", path, url, headers, None, token_digest)
        if response.status_code == 304 and entry is not None:
            self.cache_revalidated += 1
            if cache is not None and fresh > 0:
                # Restart the freshness window: the upstream just vouched for the body.
                await cache.put(key, CachedResponse(entry.etag, entry.body, time.time()))
            return entry.body, True
        if response.status_code >= 300:
            raise error_for_status(response)
        self.cache_misses += 1
        etag = response.headers.get("etag")
        if cache is not None and etag:
            await cache.put(key, CachedResponse(etag, response.content, time.time()))
        return response.content, False


@functools.lru_cache(maxsize=8192)
def _query_string(params: tuple[tuple[str, str | int], ...]) -> str:
    # The same pages are asked for operation after operation (each cursor names one),
    # and quoting each parameter costs more than remembering the answer.
    return urlencode(params)


__all__ = [
    "BodyTooLarge",
    "Rejection",
    "SpacesClient",
    "UpstreamError",
    "UpstreamSession",
    "basic_auth",
    "error_for_status",
    "route_template",
    "segment",
    "valid_upstream_id",
]
