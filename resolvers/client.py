"""The upstream client: the one place that decides auth, timeouts, retries and error mapping.

One :class:`SpacesClient` (one pooled ``httpx.AsyncClient``) lives per process,
opened and closed in the app's lifespan. Each GraphQL operation gets an
:class:`UpstreamSession` bound to the caller's token, which bounds that
operation's concurrency and counts its upstream requests.

Policy, all of it decided here (the mechanisms live in ``resolvers/resilience.py``,
``resolvers/cache.py`` and ``resolvers/bulkhead.py``; the HTTP engine under httpx in
``resolvers/engine.py``, the per-operation session in ``resolvers/session.py``, statuses
as errors in ``resolvers/upstream.py``):

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

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from resolvers.bulkhead import AdmissionTimeout, Bulkhead
from resolvers.cache import (
    CachedResponse,
    EtagCache,
    SingleFlight,
    cache_key,
    etag_cache_for,
)
from resolvers.config import (
    NoTracing,
    UpstreamConfig,
    UpstreamConfigSource,
    UpstreamTracer,
    upstream_config_of,
)
from resolvers.engine import network_transport
from resolvers.errors import (
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from resolvers.resilience import (
    BreakerScope,
    CircuitOpen,
    FailureKind,
    RateLimited429,
    RetryAfterGate,
    RetryBudget,
    ScopedBreakers,
    backoff_delay,
    current_scope,
)
from resolvers.session import UpstreamSession
from resolvers.transfer import BodyTooLarge, Params, exchange
from resolvers.upstream import (
    HOST_ERRORS,
    RETRY_ERRORS,
    RETRY_STATUSES,
    Rejection,
    basic_auth,
    error_for_status,
    route_template,
    segment,
    transport_error,
    valid_upstream_id,
)


class SpacesClient:
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
    ):
        # ``Settings`` is accepted as it is (it builds the config): tests and benches pass it.
        self.config = cfg = upstream_config_of(config)
        base = cfg.upstream_url.rstrip("/") + "/"
        self._base = base
        self.http = httpx.AsyncClient(
            base_url=base,
            # Tests inject theirs (ASGI/Mock); real sockets go through the chosen engine.
            transport=transport if transport is not None else network_transport(cfg),
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout,
                read=cfg.read_timeout,
                write=cfg.read_timeout,
                pool=cfg.pool_timeout,
            ),
            headers={"Accept": "application/json", "User-Agent": "spaces-graphql/0.1"},
            follow_redirects=False,
        )
        #: ``None`` until known: whether ``?ids=`` batches lookups on this upstream.
        self.batch_ids: bool | None = {"on": True, "off": False}.get(cfg.batch_ids)
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
        self.requests_total = 0
        #: Called with (method, route template, status or 0, seconds) after each request.
        self.observer: Callable[[str, str, int, float], None] | None = None
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
            url += "?" + urlencode(list(params.items()))
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

    # -- every request -----------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        url: str,
        headers: dict[str, str],
        json_body: Any,
        token_digest: str,
    ) -> httpx.Response:
        """Send to ``url`` (:meth:`url` of ``path``, which names the route in metrics and
        traces) with the deadline, breakers, bulkhead, 429 gate and (GETs only) retries."""
        idempotent = method == "GET"
        self.budget.record_request()
        attempt = 0
        while True:
            remaining = self._remaining()
            try:
                self.gate.check(token_digest)
            except RateLimited429 as exc:
                self.rejections[Rejection.RATE_LIMITED] += 1
                raise RateLimited(
                    "the Spaces API is rate limiting this token", retry_after=exc.retry_after
                ) from None
            try:
                call = self.breakers.acquire(token_digest)
            except CircuitOpen as exc:
                raise self._refused(exc) from None
            try:
                await self._admit(token_digest, remaining)
                try:
                    response = await self._once(
                        method, path, url, headers, json_body, self._remaining()
                    )
                finally:
                    self.bulkhead.release(token_digest)
            except httpx.PoolTimeout as exc:
                # Our own pool, not the upstream (the bulkhead should make it impossible).
                self.breakers.release(call)
                raise transport_error(exc) from exc
            except (httpx.TransportError, TimeoutError) as exc:
                host = isinstance(exc, HOST_ERRORS)
                self.breakers.failure(call, FailureKind.HOST if host else FailureKind.REQUEST)
                if idempotent and isinstance(exc, RETRY_ERRORS) and await self._backoff(attempt):
                    attempt += 1
                    continue
                raise transport_error(exc) from exc
            except BaseException:
                # Cancelled, refused by the bulkhead, or a body too large: no verdict.
                self.breakers.release(call)
                raise
            if response.status_code >= 500:
                self.breakers.failure(call, FailureKind.REQUEST)
            else:
                self.breakers.success(call)
            if (
                idempotent
                and response.status_code in RETRY_STATUSES
                and await self._backoff(attempt)
            ):
                attempt += 1
                continue
            if response.status_code == 429:
                error = error_for_status(response)
                assert isinstance(error, RateLimited)
                self.gate.block(token_digest, error.retry_after)
                raise error
            return response

    def _remaining(self) -> float | None:
        scope = current_scope()
        remaining = None if scope is None else scope.remaining()
        if remaining is not None and remaining <= 0:
            self.rejections[Rejection.DEADLINE] += 1
            raise UpstreamTimeout("the operation's deadline passed before this upstream call")
        return remaining

    def _refused(self, exc: CircuitOpen) -> UpstreamUnavailable:
        if exc.scope is BreakerScope.TOKEN:
            self.rejections[Rejection.BREAKER_TOKEN] += 1
            return UpstreamUnavailable(
                "the Spaces API keeps failing this account's requests; "
                "they are paused (circuit open)",
                retry_after=exc.retry_after,
            )
        self.rejections[Rejection.BREAKER_SHARED] += 1
        return UpstreamUnavailable(
            "the Spaces API is failing; calls are paused (circuit open)",
            retry_after=exc.retry_after,
        )

    async def _admit(self, token_digest: str, remaining: float | None) -> None:
        """Wait for this token's turn at a connection, at most ``pool_timeout`` (or the
        deadline); the caller must release the slot."""
        wait = self.config.pool_timeout
        if remaining is not None:
            wait = min(wait, remaining)
        try:
            await self.bulkhead.acquire(token_digest, wait)
        except AdmissionTimeout as exc:
            self.rejections[Rejection.POOL_WAIT] += 1
            raise UpstreamTimeout(
                f"the facade found no free upstream connection for this call: {exc}"
            ) from None

    async def _backoff(self, attempt: int) -> bool:
        """Wait before retry ``attempt`` (0-based); False when no retry may be made."""
        s = self.config
        if attempt >= s.upstream_retries:
            return False
        delay = backoff_delay(attempt, s.upstream_retry_base_seconds, s.upstream_retry_cap_seconds)
        scope = current_scope()
        remaining = None if scope is None else scope.remaining()
        if remaining is not None and remaining <= delay:
            return False
        if not self.budget.try_spend():
            return False
        self.retries_total += 1
        await asyncio.sleep(delay)
        return True

    async def _once(
        self,
        method: str,
        path: str,
        url: str,
        headers: dict[str, str],
        json_body: Any,
        remaining: float | None,
    ) -> httpx.Response:
        self.requests_total += 1
        route = route_template(path)
        started = time.perf_counter()
        with self.tracing.upstream(method, route, headers) as span:
            try:
                response = await exchange(
                    self.http,
                    method,
                    url,
                    headers=headers,
                    json_body=json_body,
                    limit=self.config.max_upstream_body_bytes,
                    within=remaining,
                )
            except BaseException as exc:
                self._observe(method, route, 0, time.perf_counter() - started)
                self.tracing.finish(span, None, exc)
                raise
        self._observe(method, route, response.status_code, time.perf_counter() - started)
        self.tracing.finish(span, response.status_code)
        return response

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if self.observer is not None:
            self.observer(method, route, status, seconds)


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
