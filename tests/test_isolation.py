"""Fault isolation per tenant (issue 12): one token's failures and hangs stay with it.

Breakers: one token's 5xx open that token's breaker only; failures spread over
several tokens, or connect failures, open the shared one. Bulkheads: one token
holds at most its share of the upstream connections, waiters are served
fewest-in-flight first, and a wait past ``pool_timeout`` fails only the waiter.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time
from typing import Any

import httpx
import pytest

from resolvers.bulkhead import AdmissionTimeout, Bulkhead
from resolvers.cache import token_hash
from resolvers.client import SpacesClient
from resolvers.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from resolvers.resilience import (
    BreakerScope,
    CircuitOpen,
    FailureKind,
    ScopedBreakers,
)
from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings, SettingsError
from tests.sandbox.conftest import serving
from tests.support import ALICE, BOB, RecordingTransport, harness
from tests.upstream_support import FAST_RETRIES, upstream

CAROL = "demo-carol"  # unknown to the sandbox: a fault answers before its 401 would


def calls_of(recording: RecordingTransport, token: str) -> int:
    """Upstream calls sent with ``token``."""
    auth = "Basic " + base64.b64encode(f"{token}:".encode()).decode()
    return sum(1 for c in recording.calls if c.headers.get("authorization") == auth)


def breakers(clock: list[float], **kw: Any) -> ScopedBreakers:
    options: dict[str, Any] = {"distinct_callers": 3, "window": 10.0, "max_tokens": 100, **kw}
    return ScopedBreakers(3, 30.0, clock=lambda: clock[0], **options)


def fail(b: ScopedBreakers, token: str, kind: FailureKind = FailureKind.REQUEST) -> None:
    b.failure(b.acquire(token), kind)


# -- the rule, on a fake clock ---------------------------------------------------------------


def test_one_tokens_failures_open_only_its_breaker() -> None:
    now = [0.0]
    b = breakers(now)
    for _ in range(10):
        try:
            fail(b, "a")
        except CircuitOpen as exc:
            assert exc.scope is BreakerScope.TOKEN
    assert b.token_state("a") == "open" and b.shared.state == "closed"
    b.success(b.acquire("b"))  # another token is let through
    assert b.gauges()["breaker_tokens_open"] == 1 and b.shared.opened_total == 0


def test_failures_spread_over_distinct_callers_open_the_shared_breaker() -> None:
    now = [0.0]
    b = breakers(now)
    fail(b, "a")
    fail(b, "a")
    fail(b, "b")
    assert b.shared.state == "closed"  # three failures, but two callers
    fail(b, "c")
    assert b.shared.state == "open"
    with pytest.raises(CircuitOpen) as refused:
        b.acquire("d")
    assert refused.value.scope is BreakerScope.SHARED
    # The callers were victims of the outage: no per-token breaker is left behind.
    assert b.gauges()["breaker_tokens_tracked"] == 0


def test_callers_outside_the_window_do_not_count_and_a_success_ends_the_run() -> None:
    now = [0.0]
    b = breakers(now)
    fail(b, "a")
    fail(b, "b")
    now[0] = 11.0  # a and b fell out of the 10 s window
    fail(b, "c")
    fail(b, "d")
    assert b.shared.state == "closed"
    b.success(b.acquire("e"))
    fail(b, "f")
    fail(b, "g")
    assert b.shared.state == "closed"  # the run restarted at e's success


def test_connect_failures_open_the_shared_breaker_from_one_caller() -> None:
    now = [0.0]
    b = breakers(now)
    for _ in range(3):
        fail(b, "a", FailureKind.HOST)
    assert b.shared.state == "open"
    assert b.token_state("a") == "closed"  # nothing held against the caller


def test_a_failing_probe_reopens_only_what_it_probed() -> None:
    now = [0.0]
    b = breakers(now)
    for _ in range(3):
        fail(b, "a")
    now[0] = 31.0
    probe = b.acquire("a")
    assert probe.token_probe and not probe.shared_probe
    b.failure(probe, FailureKind.REQUEST)
    assert b.token_state("a") == "open" and b.shared.state == "closed"
    # The shared breaker's probe: its failure re-opens the shared breaker only.
    for token in "xyz":
        fail(b, token, FailureKind.HOST)
    assert b.shared.state == "open"
    now[0] = 62.0
    probe = b.acquire("b")
    assert probe.shared_probe and not probe.token_probe
    b.failure(probe, FailureKind.HOST)
    assert b.shared.state == "open" and b.token_state("b") == "closed"
    now[0] = 93.0
    b.success(b.acquire("b"))
    assert b.shared.state == "closed"


def test_token_breakers_are_a_bounded_lru() -> None:
    now = [0.0]
    b = breakers(now, max_tokens=3, distinct_callers=1000)
    for token in ("t1", "t2", "t3", "t4"):
        fail(b, token)
    assert b.gauges()["breaker_tokens_tracked"] == 3
    assert b.token_state("t1") == "closed"  # the least recently used was dropped


# -- through the client, against the sandbox -----------------------------------------------------


async def test_one_tokens_5xx_leave_another_token_unaffected() -> None:
    async with upstream(upstream_retries=0, breaker_open_seconds=30) as up:
        await up.fault(prefix="/api/v1/", kind="status", status=500, token=ALICE)
        alice, bob = up.client.session(ALICE), up.client.session(BOB)
        codes = []
        for i in range(10):
            with pytest.raises(UpstreamError) as caught:
                await alice.get("customers", {"limit": i + 1})
            codes.append(caught.value.code)
            assert (await bob.get("customers", {"limit": i + 1}))["object"] == "list"
        assert codes == ["UPSTREAM_ERROR"] * 5 + ["UPSTREAM_UNAVAILABLE"] * 5
        assert calls_of(up.recording, ALICE) == 5  # refused without reaching the upstream
        assert calls_of(up.recording, BOB) == 10  # every one of Bob's reached it
        assert not up.client.breaker_open and up.client.breaker.opened_total == 0
        assert up.client.breakers.token_state(token_hash(ALICE)) == "open"
        gauges = up.client.gauges()
        assert gauges["upstream_breaker_tokens_open"] == 1
        assert gauges["upstream_rejections_breaker_token"] == 5
        assert gauges["upstream_rejections_breaker_shared"] == 0


async def test_one_tokens_5xx_reach_graphql_as_its_own_outage_only() -> None:
    async with harness(upstream_retries=0) as h:
        await h.sandbox.post(
            "/_sandbox/faults",
            json={"prefix": "/api/v1/", "kind": "status", "status": 502, "token": ALICE},
        )
        codes = []
        for _ in range(8):
            alice = await h.query("{ viewer { name } }", token=ALICE)
            codes.append(alice["errors"][0]["extensions"]["code"])
            bob = await h.query("{ viewer { name } }", token=BOB)
            assert "errors" not in bob and bob["data"]["viewer"]["name"]
        assert codes == ["UPSTREAM_ERROR"] * 5 + ["UPSTREAM_UNAVAILABLE"] * 3
        assert calls_of(h.upstream, BOB) >= 8 and calls_of(h.upstream, ALICE) == 5


async def test_resets_for_every_caller_open_the_shared_breaker() -> None:
    async with upstream(upstream_retries=0) as up:
        await up.fault(prefix="/api/v1/", kind="reset")
        for token in (ALICE, BOB, CAROL, ALICE, BOB):
            with pytest.raises(UpstreamUnavailable):
                await up.client.session(token).get("account")
        assert up.client.breaker_open
        sent = len(up.recording.calls)
        with pytest.raises(UpstreamUnavailable, match="circuit open"):
            await up.client.session("demo-dave").get("account")
        assert len(up.recording.calls) == sent


async def test_an_unreachable_upstream_opens_the_shared_breaker_fast() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recording = RecordingTransport(httpx.MockTransport(refuse))
    settings = Settings(upstream_url="http://127.0.0.1/api/v1", upstream_retries=0)
    client = SpacesClient(settings, recording)
    try:
        for _ in range(5):  # one caller is enough: no request was even sent
            with pytest.raises(UpstreamUnavailable, match="unreachable"):
                await client.session(ALICE).get("account")
        assert client.breaker_open
        with pytest.raises(UpstreamUnavailable, match="circuit open"):
            await client.session(BOB).get("account")
        assert len(recording.calls) == 5
        assert client.breakers.token_state(token_hash(ALICE)) == "closed"
    finally:
        await client.aclose()


async def test_a_failing_token_probe_reopens_only_that_token() -> None:
    async with upstream(upstream_retries=0, breaker_open_seconds=0.2) as up:
        await up.fault(prefix="/api/v1/", kind="status", status=503, token=ALICE)
        alice, bob = up.client.session(ALICE), up.client.session(BOB)
        for _ in range(5):
            with pytest.raises(UpstreamError):
                await alice.get("account")
        await asyncio.sleep(0.25)
        with pytest.raises(UpstreamError) as probe:
            await alice.get("account")  # the probe reaches the upstream and fails
        assert probe.value.code == "UPSTREAM_ERROR" and calls_of(up.recording, ALICE) == 6
        with pytest.raises(UpstreamUnavailable):
            await alice.get("account")
        assert calls_of(up.recording, ALICE) == 6
        assert (await bob.get("account"))["object"] == "account"
        assert up.client.breaker.opened_total == 0
        await up.sandbox.delete("/_sandbox/faults")
        await asyncio.sleep(0.25)
        assert (await alice.get("account"))["object"] == "account"


# -- bulkhead ----------------------------------------------------------------------------------


async def test_bulkhead_serves_the_token_with_fewer_in_flight_first() -> None:
    bulkhead = Bulkhead(capacity=3, per_key=3)
    for _ in range(3):
        await bulkhead.acquire("a", None)
    order: list[str] = []

    async def wait(key: str) -> None:
        await bulkhead.acquire(key, 5)
        order.append(key)

    tasks = [asyncio.ensure_future(wait(k)) for k in ("a", "a", "b")]
    await asyncio.sleep(0)
    gauges = bulkhead.gauges()
    assert (gauges["pool_waiters"], gauges["pool_waiters_at_token_limit"]) == (3, 2)
    bulkhead.release("a")  # a: 2 in flight, b: 0 -> b goes first though it came last
    await asyncio.sleep(0)
    assert order == ["b"]
    bulkhead.release("a")
    bulkhead.release("a")
    await asyncio.gather(*tasks)
    assert order == ["b", "a", "a"]


async def test_a_token_at_its_share_does_not_block_others() -> None:
    bulkhead = Bulkhead(capacity=10, per_key=2)
    await bulkhead.acquire("a", None)
    await bulkhead.acquire("a", None)
    waiting = asyncio.ensure_future(bulkhead.acquire("a", 5))
    await asyncio.sleep(0)
    await asyncio.wait_for(bulkhead.acquire("b", 5), 0.1)  # admitted at once
    gauges = bulkhead.gauges()
    assert gauges["pool_waiters_at_token_limit"] == 1 and gauges["pool_max_token_in_flight"] == 2
    bulkhead.release("a")
    await waiting
    assert bulkhead.in_flight_of("a") == 2 and bulkhead.waiting_of("a") == 0


async def test_bulkhead_wait_timeout_and_cancellation_leave_no_trace() -> None:
    bulkhead = Bulkhead(capacity=1, per_key=1)
    await bulkhead.acquire("a", None)
    with pytest.raises(AdmissionTimeout) as caught:
        await bulkhead.acquire("a", 0.05)
    assert caught.value.at_key_limit
    cancelled = asyncio.ensure_future(bulkhead.acquire("b", None))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert bulkhead.gauges()["pool_waiters"] == 0
    bulkhead.release("a")
    assert bulkhead.in_flight == 0 and bulkhead.gauges()["pool_wait_timeouts_total"] == 1


async def test_the_pool_wait_timeout_fails_only_the_waiting_caller() -> None:
    async with upstream(max_connections=4, max_connections_per_token=2, pool_timeout=0.2) as up:
        await up.fault(prefix="/api/v1/customers", kind="hang", delay=10, token=ALICE)
        alice = up.client.session(ALICE)
        hung = [asyncio.ensure_future(alice.get("customers", {"limit": n})) for n in (1, 2)]
        for _ in range(100):
            if (await up.hangs())["started"] == 2:
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout, match="no free upstream connection"):
            await up.client.session(ALICE).get("customers", {"limit": 3})
        assert 0.15 < time.monotonic() - started < 2.0
        assert (await up.client.session(BOB).get("customers"))["object"] == "list"
        assert not any(t.done() for t in hung)  # the hung calls are untouched
        assert calls_of(up.recording, ALICE) == 2  # the refused one never went out
        assert up.client.gauges()["upstream_rejections_pool_wait"] == 1
        assert up.client.breakers.token_state(token_hash(ALICE)) == "closed"
        for task in hung:
            task.cancel()
        await asyncio.gather(*hung, return_exceptions=True)
        assert up.client.bulkhead.in_flight == 0


# -- one token's hangs over real sockets: another token's latency ----------------------------

#: ``%d`` differs per operation: identical child GETs of one token would share a flight.
FAN_OUT = "{ customers(first: 60) { nodes { subscriptions(first: %d) { nodes { token } } } } }"


async def _median_viewer_ms(facade: httpx.AsyncClient, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        r = await facade.post(
            "/graphql",
            json={"query": "{ viewer { name } }"},
            headers={"Authorization": f"Bearer {BOB}"},
        )
        times.append((time.perf_counter() - started) * 1000)
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, body
        assert body["data"]["viewer"]["name"]
    return statistics.median(times)


async def _hang_alice(
    facade: httpx.AsyncClient, sandbox_base: str, runtime: Any, hung: int, queued: int
) -> list[asyncio.Task[httpx.Response]]:
    async with httpx.AsyncClient(base_url=sandbox_base) as sandbox:
        r = await sandbox.post(
            "/_sandbox/faults",
            json={"prefix": "/api/v1/customers/", "kind": "hang", "delay": 120, "token": ALICE},
        )
        assert r.status_code == 201, r.text
        # Two operations of 60 children each: 120 hung calls of one token.
        tasks = [
            asyncio.create_task(
                facade.post(
                    "/graphql",
                    json={"query": FAN_OUT % (n + 1)},
                    headers={"Authorization": f"Bearer {ALICE}"},
                )
            )
            for n in range(2)
        ]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            hangs = (await sandbox.get("/_sandbox/faults")).json()["hangs"]
            bulkhead = runtime.client.bulkhead
            if hangs["started"] >= hung and bulkhead.waiting_of(token_hash(ALICE)) >= queued:
                return tasks
            await asyncio.sleep(0.02)
        done = [t.result().text[:300] for t in tasks if t.done()]
        raise AssertionError(f"alice's calls did not hang: {hangs} {done}")


async def _stop(tasks: list[asyncio.Task[httpx.Response]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("upstream_ms", [0, 20])
async def test_another_tokens_query_keeps_its_latency_while_one_token_hangs(
    upstream_ms: int,
) -> None:
    # 0 ms: the facade's own overhead is all there is (the harshest ratio); 20 ms: an
    # upstream as far away as a real one. The residual is httpcore's pool, which scans
    # every connection (Alice's 100 hung ones too) on each request: about 1-2 ms.
    sandbox_app = create_sandbox(SandboxConfig(latency_ms=upstream_ms))
    async with serving(sandbox_app) as base:
        config = Settings(
            upstream_url=base + "/api/v1", profile="development", pool_timeout=20.0, **FAST_RETRIES
        )
        app = create_app(config)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://facade.test", timeout=60
            ) as facade,
        ):
            runtime = app.state.runtime
            await _median_viewer_ms(facade, 5)  # warm up the pool and the code paths
            before = await _median_viewer_ms(facade, 25)
            # Alice holds her share (100 connections); her other 20 calls queue behind it.
            tasks = await _hang_alice(facade, base, runtime, hung=100, queued=20)
            try:
                gauges = runtime.client.gauges()
                assert gauges["upstream_pool_max_token_in_flight"] == 100
                assert gauges["upstream_pool_waiters_at_token_limit"] == 20
                during = await _median_viewer_ms(facade, 25)
                text = runtime.metrics.render().decode()
                assert "spaces_graphql_upstream_pool_waiters_at_token_limit 20.0" in text
            finally:
                await _stop(tasks)
                async with httpx.AsyncClient(base_url=base) as sandbox:
                    await sandbox.delete("/_sandbox/faults")
            after = await _median_viewer_ms(facade, 25)
            # Before and after, averaged: this machine's background load drifts.
            normal = (before + after) / 2
            ratio = during / normal
            print(
                f"\nupstream {upstream_ms} ms: bob's viewer median {normal:.2f} ms normally "
                f"({before:.2f} before, {after:.2f} after), {during:.2f} ms during alice's "
                f"hang: x{ratio:.2f}"
            )
            # Generous: a loaded CI box moves a 2 ms median by a few ms either way.
            assert during < 1000 and (ratio < 5 or during - normal < 25), (normal, during)
            assert runtime.client.breaker.opened_total == 0


async def test_without_a_token_share_the_hang_starves_others_until_the_wait_timeout() -> None:
    # The control: the old shape (the share is the whole 100-connection pool). Bob now
    # waits behind Alice's hung calls and his wait, only his, ends in UPSTREAM_TIMEOUT.
    sandbox_app = create_sandbox(SandboxConfig())
    async with serving(sandbox_app) as base:
        config = Settings(
            upstream_url=base + "/api/v1",
            profile="development",
            max_connections=100,
            max_connections_per_token=100,
            pool_timeout=0.3,
            **FAST_RETRIES,
        )
        app = create_app(config)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://facade.test", timeout=60
            ) as facade,
        ):
            runtime = app.state.runtime
            # Alice's 20 calls beyond the pool time out in the queue (0.3 s), hers only.
            tasks = await _hang_alice(facade, base, runtime, hung=100, queued=0)
            try:
                r = await facade.post(
                    "/graphql",
                    json={"query": "{ viewer { name } }"},
                    headers={"Authorization": f"Bearer {BOB}"},
                )
                (error,) = r.json()["errors"]
                assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"
                assert "no free upstream connection" in error["message"]
                async with httpx.AsyncClient(base_url=base) as sandbox:
                    hangs = (await sandbox.get("/_sandbox/faults")).json()["hangs"]
                assert hangs["cancelled"] == 0  # Alice's hung calls were not failed for Bob
            finally:
                await _stop(tasks)
                async with httpx.AsyncClient(base_url=base) as sandbox:
                    await sandbox.delete("/_sandbox/faults")


# -- settings ------------------------------------------------------------------------------------


def test_isolation_settings_and_defaults() -> None:
    s = Settings()
    assert (s.max_concurrency, s.max_connections, s.max_connections_per_token) == (100, 300, 100)
    assert (s.breaker_distinct_callers, s.breaker_window_seconds) == (3, 10.0)
    assert s.max_connections_per_token < s.max_connections and s.pool_timeout < 30
    env = Settings.load(
        environ={
            "SPACES_GRAPHQL_BREAKER_DISTINCT_CALLERS": "2",
            "SPACES_GRAPHQL_BREAKER_WINDOW_SECONDS": "5",
            "SPACES_GRAPHQL_BREAKER_MAX_TOKENS": "50",
            "SPACES_GRAPHQL_MAX_CONNECTIONS_PER_TOKEN": "40",
        }
    )
    assert (env.breaker_distinct_callers, env.breaker_window_seconds) == (2, 5.0)
    assert (env.breaker_max_tokens, env.max_connections_per_token) == (50, 40)
    bads: list[dict[str, Any]] = [
        {"breaker_distinct_callers": 0},
        {"breaker_window_seconds": 0},
        {"max_connections_per_token": 0},
        {"pool_timeout": 0},
    ]
    for bad in bads:
        with pytest.raises(SettingsError):
            Settings(**bad)


async def test_a_share_above_the_pool_is_the_pool() -> None:
    client = SpacesClient(Settings(max_connections=10))
    try:
        assert (client.bulkhead.capacity, client.bulkhead.per_key) == (10, 10)
    finally:
        await client.aclose()
