"""Every upstream request: the deadline, the 429 gate, breakers, bulkhead, retries, the exchange.

The send half of :class:`resolvers.client.SpacesClient` (a base class of it, so
``client._send`` is one method lookup as before): the policy the client's
docstring states, applied to one request. The client builds the state these
methods read (declared below); the mechanisms live in ``resolvers/resilience.py``,
``resolvers/bulkhead.py`` and ``resolvers/transfer.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from resolvers.bulkhead import AdmissionTimeout, Bulkhead
from resolvers.config import UpstreamConfig, UpstreamTracer
from resolvers.errors import RateLimited, UpstreamTimeout, UpstreamUnavailable
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
from resolvers.transfer import exchange
from resolvers.upstream import (
    HOST_ERRORS,
    RETRY_ERRORS,
    RETRY_STATUSES,
    Rejection,
    error_for_status,
    route_template,
    transport_error,
)


class Sending:
    """Sends one request under the client's resilience state (built by ``SpacesClient``)."""

    config: UpstreamConfig
    http: httpx.AsyncClient
    breakers: ScopedBreakers
    bulkhead: Bulkhead
    rejections: Counter[Rejection]
    budget: RetryBudget
    gate: RetryAfterGate
    tracing: UpstreamTracer
    #: Called with (method, route template, status or 0, seconds) after each request.
    observer: Callable[[str, str, int, float], None] | None
    requests_total: int
    retries_total: int

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
