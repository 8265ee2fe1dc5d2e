"""Upstream resilience: deadline, retries and their budget, circuit breaker, 429, bad bodies,
single flight and cancellation (design.md's error table)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from resolvers.cache import token_hash
from resolvers.client import SpacesClient
from resolvers.errors import (
    MalformedPayload,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from resolvers.resilience import (
    CircuitBreaker,
    CircuitOpen,
    RetryBudget,
    backoff_delay,
    operation_scope,
)
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings, SettingsError
from tests.sandbox.conftest import serving
from tests.support import ALICE, BOB, RecordingTransport, harness
from tests.upstream_support import FAST_RETRIES, upstream

# -- deadline ------------------------------------------------------------------------------


async def test_call_after_the_deadline_fails_fast_without_a_request() -> None:
    async with upstream() as up:
        with operation_scope(0.05):
            await asyncio.sleep(0.06)
            with pytest.raises(UpstreamTimeout, match="deadline"):
                await up.client.session(ALICE).get("account")
        assert up.recording.calls == []


async def test_remaining_time_bounds_the_request() -> None:
    # read_timeout is long; the operation's deadline is what stops the hung call.
    async with upstream(read_timeout=30.0) as up:
        await up.fault(route="GET /api/v1/account", kind="hang", delay=10)
        started = time.monotonic()
        with operation_scope(0.2), pytest.raises(UpstreamTimeout):
            await up.client.session(ALICE).get("account")
        assert time.monotonic() - started < 1.0
        assert (await up.hangs())["cancelled"] == 1


async def test_deadline_reaches_graphql_as_upstream_timeout() -> None:
    async with harness(operation_deadline_seconds=0.2, read_timeout=30.0) as h:
        await h.sandbox.post(
            "/_sandbox/faults", json={"route": "GET /api/v1/customers", "kind": "hang", "delay": 10}
        )
        started = time.monotonic()
        result = await h.query("{ viewer { name } customers(first: 2) { nodes { name } } }")
        assert time.monotonic() - started < 1.5
        assert result["data"]["viewer"]["name"]  # the rest of the answer is kept
        assert result["data"]["customers"] is None
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_on_gets_are_retried(status: int) -> None:
    async with upstream() as up:
        await up.fault(route="GET /api/v1/account", kind="status", status=status, count=2)
        account = await up.client.session(ALICE).get("account")
        assert account["object"] == "account"
        assert up.calls("GET account") == 3
        assert up.client.retries_total == 2


async def test_reset_connections_are_retried() -> None:
    async with upstream() as up:
        await up.fault(route="GET /api/v1/account", kind="reset", count=1)
        assert (await up.client.session(ALICE).get("account"))["object"] == "account"
        assert up.calls("GET account") == 2


async def test_at_most_two_retries_then_upstream_error() -> None:
    async with upstream() as up:
        await up.fault(route="GET /api/v1/account", kind="status", status=503)
        with pytest.raises(UpstreamError) as caught:
            await up.client.session(ALICE).get("account")
        assert caught.value.code == "UPSTREAM_ERROR"
        assert up.calls("GET account") == 3


async def test_500_is_not_retried() -> None:
    async with upstream() as up:
        await up.fault(route="GET /api/v1/account", kind="status", status=500, count=1)
        with pytest.raises(UpstreamError):
            await up.client.session(ALICE).get("account")
        assert up.calls("GET account") == 1


async def test_timeouts_are_not_retried() -> None:
    # A slow upstream asked again gets slower: only failed connections are retried.
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ReadTimeout("slow", request=request)

    client = SpacesClient(
        Settings(upstream_url="http://127.0.0.1/api/v1", **FAST_RETRIES),
        httpx.MockTransport(answer),
    )
    try:
        with pytest.raises(UpstreamTimeout):
            await client.session(ALICE).get("account")
        assert calls == ["/api/v1/account"]
    finally:
        await client.aclose()


async def test_writes_are_never_retried() -> None:
    async with upstream() as up:
        await up.fault(prefix="/api/v1/invoices/", method="POST", kind="status", status=503)
        await up.fault(route="DELETE /api/v1/resource_subscriptions/{id}", kind="reset")
        session = up.client.session(ALICE)
        with pytest.raises(UpstreamError):
            await session.request("POST", "invoices/in_x/pay")
        with pytest.raises(UpstreamUnavailable):
            await session.request("DELETE", "resource_subscriptions/rs_x")
        assert up.calls("POST invoices/in_x/pay") == 1
        assert up.calls("DELETE resource_subscriptions/rs_x") == 1
        assert up.client.retries_total == 0


async def test_retry_budget_limits_retries_to_a_fifth_of_traffic() -> None:
    # The breaker is kept out of the way: this is about the budget alone.
    async with upstream(breaker_failure_threshold=1000) as up:
        await up.fault(route="GET /api/v1/account", kind="status", status=503)
        session = up.client.session(ALICE)
        for _ in range(30):
            with pytest.raises(UpstreamError):
                await session.get("account")
        # Without a budget: 30 x 3 attempts. With it: 20% of 30, plus the idle floor of 2.
        assert up.client.retries_total <= 0.2 * 30 + 2
        assert up.calls("GET account") == 30 + up.client.retries_total


def test_retry_budget_window_slides() -> None:
    now = [100.0]
    budget = RetryBudget(0.2, window=10, floor=0, clock=lambda: now[0])
    for _ in range(10):
        budget.record_request()
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()
    now[0] += 11  # the old requests (and retries) leave the window
    budget.record_request()
    assert not budget.try_spend()  # 20% of one request is not a retry
    for _ in range(4):
        budget.record_request()
    assert budget.try_spend()


def test_backoff_is_jittered_exponential_and_capped() -> None:
    assert backoff_delay(0, 0.025, 0.25, rand=lambda: 0.999) < 0.025
    assert 0.09 < backoff_delay(2, 0.025, 0.25, rand=lambda: 0.999) < 0.1
    assert backoff_delay(8, 0.025, 0.25, rand=lambda: 0.999) <= 0.25
    assert backoff_delay(3, 0.025, 0.25, rand=lambda: 0.0) == 0.0
    delays = {backoff_delay(1, 0.025, 0.25) for _ in range(20)}
    assert len(delays) > 1 and all(0 <= d < 0.05 for d in delays)


# -- circuit breaker -----------------------------------------------------------------------------


async def test_breaker_opens_after_five_failures_and_fails_fast() -> None:
    async with upstream(upstream_retries=0, breaker_open_seconds=0.3) as up:
        await up.fault(prefix="/api/v1/", kind="status", status=500)
        session = up.client.session(ALICE)
        for _ in range(5):
            with pytest.raises(UpstreamError) as caught:
                await session.get("account")
            assert caught.value.code == "UPSTREAM_ERROR"
        with pytest.raises(UpstreamUnavailable) as opened:
            await session.get("spaces")
        assert up.recording.calls.__len__() == 5  # refused without reaching the upstream
        assert opened.value.extensions["code"] == "UPSTREAM_UNAVAILABLE"
        assert opened.value.retry_after == 1 and opened.value.extensions["retryAfter"] == 1
        # One token's 5xx open that token's breaker; the shared one stays closed
        # (tests/test_isolation.py has the rule).
        assert up.client.breakers.token_state(token_hash(ALICE)) == "open"
        assert not up.client.breaker_open

        # Half-open after the pause: one probe; it fails, so the circuit opens again.
        await asyncio.sleep(0.35)
        with pytest.raises(UpstreamError):
            await session.get("account")
        assert len(up.recording.calls) == 6
        with pytest.raises(UpstreamUnavailable):
            await session.get("account")
        assert len(up.recording.calls) == 6

        # Next probe succeeds: closed again, calls flow.
        await up.sandbox.delete("/_sandbox/faults")
        await asyncio.sleep(0.35)
        assert (await session.get("account"))["object"] == "account"
        assert (await session.get("spaces"))["object"] == "list"
        assert up.client.breakers.token_state(token_hash(ALICE)) == "closed"


async def test_breaker_counts_only_consecutive_failures() -> None:
    async with upstream(upstream_retries=0) as up:
        session = up.client.session(ALICE)
        for _ in range(3):
            await up.fault(route="GET /api/v1/account", kind="status", status=503, count=4)
            for _ in range(4):
                with pytest.raises(UpstreamError):
                    await session.get("account")
            await session.get("account")  # a success resets the count
        assert not up.client.breaker_open
        assert up.calls("GET account") == 15


def test_half_open_lets_one_probe_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, open_seconds=30, clock=lambda: now[0])
    breaker.failure(breaker.acquire())
    assert breaker.state == "closed"
    breaker.failure(breaker.acquire())
    with pytest.raises(CircuitOpen) as caught:
        breaker.acquire()
    assert caught.value.retry_after == 30
    now[0] = 31
    probe = breaker.acquire()
    assert probe and breaker.state == "half-open"
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # a second caller while the probe is out
    breaker.release(probe)  # the probe was cancelled: another may try
    probe = breaker.acquire()
    breaker.success(probe)
    assert breaker.state == "closed" and breaker.acquire() is False


async def test_open_circuit_reaches_graphql_with_retry_after() -> None:
    async with harness(upstream_retries=0, breaker_failure_threshold=1) as h:
        h.upstream.faults.append(("GET", "account", 503))
        await h.query("{ viewer { name } }")
        result = await h.query("{ viewer { name } }")
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert 1 <= error["extensions"]["retryAfter"] <= 30
        assert len(h.upstream.calls) == 1


# -- 429 ---------------------------------------------------------------------------------------


async def test_429_is_rate_limited_and_honoured_per_token() -> None:
    async with upstream() as up:
        await up.fault(route="GET /api/v1/account", kind="rate_limit", retry_after=2, count=1)
        alice = up.client.session(ALICE)
        with pytest.raises(RateLimited) as caught:
            await alice.get("account")
        assert caught.value.extensions == {
            "code": "RATE_LIMITED",
            "retryAfter": 2,
            "upstream_status": 429,
        }
        # Alice waits without calling the upstream; Bob is not held back.
        with pytest.raises(RateLimited) as again:
            await alice.get("spaces")
        assert again.value.retry_after in (1, 2)
        assert (await up.client.session(BOB).get("account"))["object"] == "account"
        assert len(up.recording.calls) == 2


async def test_429_reaches_graphql_as_rate_limited() -> None:
    async with harness() as h:
        await h.sandbox.post(
            "/_sandbox/faults",
            json={"route": "GET /api/v1/customers", "kind": "rate_limit", "retry_after": 5},
        )
        result = await h.query("{ customers(first: 1) { nodes { name } } }")
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == 5


# -- bodies --------------------------------------------------------------------------------------


async def test_malformed_body_is_an_upstream_error_for_that_field_only() -> None:
    async with harness() as h:
        await h.sandbox.post(
            "/_sandbox/faults", json={"route": "GET /api/v1/customers", "kind": "malformed"}
        )
        result = await h.query("{ viewer { name } customers(first: 2) { nodes { name } } }")
        assert result["_status"] == 200
        assert result["data"]["viewer"]["name"] and result["data"]["customers"] is None
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_ERROR"
        assert error["path"] == ["customers"]


async def test_non_json_body_is_malformed_payload() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    client = SpacesClient(
        Settings(upstream_url="http://127.0.0.1/api/v1"), httpx.MockTransport(answer)
    )
    try:
        with pytest.raises(MalformedPayload):
            await client.session(ALICE).get("account")
    finally:
        await client.aclose()


class _Endless(httpx.AsyncByteStream):
    """A chunked body that counts how much of it was read."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"padding": "'
        while True:
            self.sent += 16_384
            yield b"x" * 16_384


async def test_oversized_body_is_refused_without_reading_it_all() -> None:
    stream = _Endless()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream, headers={"Content-Type": "application/json"})

    client = SpacesClient(
        Settings(upstream_url="http://127.0.0.1/api/v1", max_upstream_body_bytes=100_000),
        httpx.MockTransport(answer),
    )
    try:
        # The body never ends: only the limit can stop the read (the timeout fails the test).
        async with asyncio.timeout(5):
            with pytest.raises(UpstreamError, match="more than 100000 bytes") as caught:
                await client.session(ALICE).get("account")
        assert caught.value.code == "UPSTREAM_ERROR"
        assert stream.sent < 150_000
    finally:
        await client.aclose()


async def test_oversized_body_keeps_the_rest_of_the_answer() -> None:
    async with harness(max_upstream_body_bytes=200_000) as h:
        await h.sandbox.post(
            "/_sandbox/faults",
            json={"route": "GET /api/v1/customers", "kind": "huge", "size": 2_000_000},
        )
        result = await h.query("{ viewer { name } customers(first: 2) { nodes { name } } }")
        assert result["_status"] == 200 and result["data"]["viewer"]["name"]
        assert result["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"


# -- single flight ---------------------------------------------------------------------------


async def test_identical_concurrent_gets_of_one_token_share_a_request() -> None:
    async with upstream() as up:
        await up.fault(route="GET /api/v1/account", kind="hang", delay=0.1)
        sessions = [up.client.session(ALICE) for _ in range(5)]
        answers = await asyncio.gather(*(s.get("account") for s in sessions))
        assert len({a["email"] for a in answers}) == 1
        assert up.calls("GET account") == 1
        assert up.client.flights_shared == 4
        # Another token never shares Alice's flight.
        await asyncio.gather(
            up.client.session(ALICE).get("account"), up.client.session(BOB).get("account")
        )
        assert up.calls("GET account") == 3


async def test_a_cancelled_caller_does_not_cancel_the_shared_request() -> None:
    async with upstream() as up:
        await up.fault(route="GET /api/v1/account", kind="hang", delay=0.15)
        first = asyncio.ensure_future(up.client.session(ALICE).get("account"))
        await asyncio.sleep(0.02)
        second = asyncio.ensure_future(up.client.session(ALICE).get("account"))
        await asyncio.sleep(0.02)
        first.cancel()
        assert (await second)["object"] == "account"
        assert up.calls("GET account") == 1
        assert (await up.hangs())["cancelled"] == 0


# -- cancellation -------------------------------------------------------------------------------


async def test_cancelled_operation_cancels_its_loader_reads() -> None:
    async with harness() as h:
        await h.sandbox.post(
            "/_sandbox/faults", json={"route": "GET /api/v1/customers", "kind": "hang", "delay": 10}
        )
        query = asyncio.ensure_future(h.query("{ customers(first: 2) { nodes { name } } }"))
        await asyncio.sleep(0.1)
        query.cancel()
        for _ in range(50):
            hangs = (await h.sandbox.get("/_sandbox/faults")).json()["hangs"]
            if hangs["cancelled"]:
                break
            await asyncio.sleep(0.01)
        assert hangs == {"started": 1, "completed": 0, "cancelled": 1}


async def test_client_disconnect_over_a_socket_cancels_upstream_requests() -> None:
    from sandbox.app import SandboxConfig
    from sandbox.app import create_app as create_sandbox

    sandbox_app = create_sandbox(SandboxConfig())
    settings = Settings(
        upstream_url="http://127.0.0.1/api/v1", profile="development", **FAST_RETRIES
    )
    facade = create_app(
        settings, transport=RecordingTransport(httpx.ASGITransport(app=sandbox_app))
    )
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox_app), base_url="http://127.0.0.1"
        ) as sandbox,
        serving(facade) as base,
    ):
        await sandbox.post(
            "/_sandbox/faults", json={"route": "GET /api/v1/customers", "kind": "hang", "delay": 10}
        )
        async with httpx.AsyncClient(base_url=base) as client:
            with pytest.raises(httpx.ReadTimeout):
                # The client gives up after 0.3 s and closes its connection.
                await client.post(
                    "/graphql",
                    json={"query": "{ customers(first: 2) { nodes { name } } }"},
                    headers={"Authorization": f"Bearer {ALICE}"},
                    timeout=0.3,
                )
        for _ in range(100):
            hangs = (await sandbox.get("/_sandbox/faults")).json()["hangs"]
            if hangs["cancelled"]:
                break
            await asyncio.sleep(0.02)
        assert hangs == {"started": 1, "completed": 0, "cancelled": 1}


# -- settings ---------------------------------------------------------------------------------


def test_resilience_settings_come_from_the_environment() -> None:
    s = Settings.load(
        environ={
            "SPACES_GRAPHQL_OPERATION_DEADLINE_SECONDS": "2.5",
            "SPACES_GRAPHQL_UPSTREAM_RETRIES": "1",
            "SPACES_GRAPHQL_BREAKER_OPEN_SECONDS": "4",
            "SPACES_GRAPHQL_MAX_UPSTREAM_BODY_BYTES": "1000",
            "SPACES_GRAPHQL_UPSTREAM_CACHE_FRESH_SECONDS": "3",
        }
    )
    assert (s.operation_deadline_seconds, s.upstream_retries, s.breaker_open_seconds) == (2.5, 1, 4)
    assert (s.max_upstream_body_bytes, s.upstream_cache_fresh_seconds) == (1000, 3)
    defaults = Settings()
    assert (defaults.operation_deadline_seconds, defaults.upstream_retries) == (30.0, 2)
    assert (defaults.breaker_failure_threshold, defaults.breaker_open_seconds) == (5, 30.0)
    assert defaults.max_upstream_body_bytes == 10 * 1024 * 1024
    bads: list[dict[str, Any]] = [
        {"upstream_retries": 9},
        {"operation_deadline_seconds": 0},
        {"upstream_retry_budget": -1},
    ]
    for bad in bads:
        with pytest.raises(SettingsError):
            Settings(**bad)
