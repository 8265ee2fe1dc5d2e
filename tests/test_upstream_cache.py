"""The upstream ETag cache: revalidation, freshness, bounds, token isolation, Redis sharing."""

from __future__ import annotations

import time
import uuid

import pytest

from resolvers.cache import (
    REDIS_PREFIX,
    CachedResponse,
    MemoryEtagCache,
    ParsedBodies,
    RedisEtagCache,
    cache_key,
    token_hash,
)
from resolvers.client import SpacesClient
from resolvers.errors import UpstreamError
from sandbox.app import SandboxConfig
from spaces_graphql.settings import Settings
from tests.processes import need_redis
from tests.support import ALICE, BOB
from tests.upstream_support import upstream

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_second_get_revalidates_and_reuses_the_body_on_304() -> None:
    async with upstream() as up:
        session = up.client.session(ALICE)
        first = await session.get("customers", {"limit": 3})
        second = await session.get("customers", {"limit": 3})
        assert first == second
        calls = up.recording.calls
        assert "if-none-match" not in calls[0].headers
        assert calls[1].headers["if-none-match"] and calls[1].status == 304
        c = up.client
        assert (c.cache_misses, c.cache_revalidated, c.cache_hits) == (1, 1, 0)


async def test_errors_never_replace_the_cached_body_and_urls_are_distinct() -> None:
    async with upstream(upstream_retries=0) as up:
        session = up.client.session(ALICE)
        await session.get("account")
        await up.fault(route="GET /api/v1/account", kind="status", status=500, count=1)
        with pytest.raises(UpstreamError):
            await session.get("account")
        assert (await session.get("account"))["object"] == "account"
        assert up.recording.calls[-1].status == 304
        # A different URL (other parameters) is a different entry.
        await session.get("customers", {"limit": 1})
        await session.get("customers", {"limit": 2})
        assert [c.status for c in up.recording.calls[-2:]] == [200, 200]


async def test_entries_are_per_token() -> None:
    async with upstream() as up:
        alice = await up.client.session(ALICE).get("account")
        bob = await up.client.session(BOB).get("account")
        assert "if-none-match" not in up.recording.calls[-1].headers
        assert up.recording.calls[-1].status == 200
        assert bob["email"] != alice["email"]


async def test_freshness_answers_without_asking() -> None:
    async with upstream(upstream_cache_fresh_seconds=60) as up:
        session = up.client.session(ALICE)
        await session.get("account")
        await session.get("account")
        assert len(up.recording.calls) == 1
        assert up.client.cache_hits == 1


async def test_zero_freshness_always_revalidates() -> None:
    async with upstream() as up:
        session = up.client.session(ALICE)
        for _ in range(3):
            await session.get("account")
        assert [c.status for c in up.recording.calls] == [200, 304, 304]


async def test_without_upstream_etags_nothing_is_revalidated() -> None:
    async with upstream(SandboxConfig(etag=False)) as up:
        session = up.client.session(ALICE)
        await session.get("account")
        await session.get("account")
        assert all("if-none-match" not in c.headers for c in up.recording.calls)
        assert up.client.cache_misses == 2


async def test_cache_can_be_turned_off() -> None:
    async with upstream(upstream_cache_entries=0) as up:
        assert up.client.cache is None
        await up.client.session(ALICE).get("account")
        await up.client.session(ALICE).get("account")
        assert [c.status for c in up.recording.calls] == [200, 200]


def _entry(size: int, etag: str = '"e"') -> CachedResponse:
    return CachedResponse(etag, b"x" * size, time.time())


async def test_memory_cache_is_lru_by_entries() -> None:
    cache = MemoryEtagCache(max_entries=2, max_bytes=10_000, max_entry_bytes=10_000, ttl=60)
    await cache.put("a", _entry(1))
    await cache.put("b", _entry(1))
    assert await cache.get("a") is not None  # a is now the most recent
    await cache.put("c", _entry(1))
    assert await cache.get("b") is None
    assert await cache.get("a") is not None and await cache.get("c") is not None


async def test_memory_cache_is_bounded_by_bytes() -> None:
    cache = MemoryEtagCache(max_entries=100, max_bytes=1000, max_entry_bytes=600, ttl=60)
    await cache.put("a", _entry(400))
    await cache.put("b", _entry(400))
    await cache.put("c", _entry(400))
    assert cache.bytes <= 1000 and len(cache) == 2 and await cache.get("a") is None
    await cache.put("big", _entry(700))  # larger than one entry may be: not kept
    assert await cache.get("big") is None and cache.bytes == 800
    await cache.put("b", _entry(10))  # replacing an entry releases its bytes
    assert cache.bytes == 410


async def test_memory_entries_expire() -> None:
    cache = MemoryEtagCache(max_entries=10, max_bytes=1000, max_entry_bytes=1000, ttl=60)
    await cache.put("old", CachedResponse('"e"', b"x", time.time() - 61))
    assert await cache.get("old") is None and cache.bytes == 0


def test_keys_never_contain_the_token() -> None:
    key = cache_key(token_hash(ALICE), "http://127.0.0.1/api/v1/account")
    assert ALICE not in key and len(key) == 64
    assert key != cache_key(token_hash(BOB), "http://127.0.0.1/api/v1/account")


async def test_client_cache_keys_hide_the_token() -> None:
    cache = MemoryEtagCache(max_entries=10, max_bytes=10**6, max_entry_bytes=10**6, ttl=60)
    async with upstream(cache=cache) as up:
        await up.client.session(ALICE).get("account")
        (key,) = cache._entries
        assert ALICE not in key
        assert key == cache_key(token_hash(ALICE), "http://127.0.0.1/api/v1/account")


async def test_settings_choose_the_cache() -> None:
    with_redis = SpacesClient(Settings(redis_url=REDIS_URL))
    local = SpacesClient(Settings())
    try:
        assert isinstance(with_redis.cache, RedisEtagCache)
        assert isinstance(local.cache, MemoryEtagCache)
    finally:
        await with_redis.aclose()
        await local.aclose()


@pytest.fixture
def redis_url() -> str:
    need_redis()
    return REDIS_URL


@pytest.mark.redis
async def test_two_clients_share_etags_through_redis(redis_url: str) -> None:
    prefix = f"{REDIS_PREFIX}test-{uuid.uuid4().hex}:"
    first = RedisEtagCache(redis_url, ttl=30, max_entry_bytes=10**6, prefix=prefix)
    second = RedisEtagCache(redis_url, ttl=30, max_entry_bytes=10**6, prefix=prefix)
    janitor = RedisEtagCache(redis_url, ttl=1, max_entry_bytes=1, prefix=prefix)
    try:
        async with upstream(cache=first) as a, upstream(cache=second) as b:
            await a.client.session(ALICE).get("account")
            assert a.client.cache_misses == 1
            # Another process (its own client and pool) revalidates with the first one's ETag.
            account = await b.client.session(ALICE).get("account")
            assert account["object"] == "account"
            assert b.recording.calls[0].headers.get("if-none-match")
            assert b.recording.calls[0].status == 304
            assert (b.client.cache_misses, b.client.cache_revalidated) == (0, 1)
            # Bob's view is not Alice's, in Redis either.
            await b.client.session(BOB).get("account")
            assert b.recording.calls[-1].status == 200
            keys = [k.decode() async for k in janitor._redis.scan_iter(match=prefix + "*")]
            assert len(keys) == 2 and all(ALICE not in k and BOB not in k for k in keys)
            ttls = [await janitor._redis.ttl(k) for k in keys]
            assert all(0 < t <= 30 for t in ttls)
    finally:
        async for key in janitor._redis.scan_iter(match=prefix + "*"):
            await janitor._redis.delete(key)
        await janitor.aclose()


async def test_redis_failure_is_a_miss_not_an_error() -> None:
    # Nothing listens on port 1: every cache call fails, the request still succeeds.
    broken = RedisEtagCache("redis://127.0.0.1:1/0", ttl=30, max_entry_bytes=10**6)
    async with upstream(cache=broken) as up:
        assert (await up.client.session(ALICE).get("account"))["object"] == "account"
        assert (await up.client.session(ALICE).get("account"))["object"] == "account"
        assert [c.status for c in up.recording.calls] == [200, 200]


async def test_a_revalidated_page_is_parsed_once() -> None:
    """A 304 hands back the cached body itself: the page parsed from it is reused
    (same records), a changed body is parsed anew, and other tokens never share it."""
    from resolvers import records as r

    async with upstream() as up:
        alice = up.client.session(ALICE)
        first = await alice.get_page("customers", {"limit": 3}, r.parse_customer)
        second = await alice.get_page("customers", {"limit": 3}, r.parse_customer)
        assert up.recording.calls[-1].status == 304
        assert second is first and up.client.parsed.hits == 1
        other = await up.client.session(BOB).get_page("customers", {"limit": 3}, r.parse_customer)
        assert other is not first and up.client.parsed.hits == 1
        assert [c.id for c in first.items] == [c.id for c in (await alice.get_page(
            "customers", {"limit": 3}, r.parse_customer)).items]  # fmt: skip


def test_parsed_bodies_are_bounded_and_keyed_by_identity() -> None:
    memo = ParsedBodies(max_entries=2, max_bytes=10)
    a, b, c = b"aaaa", b"bbbb", b"cccc"
    memo.put(a, len, 4)
    memo.put(b, len, 4)
    assert memo.get(a, len) == 4 and memo.get(a, str) is None
    memo.put(c, len, 4)  # a third entry: the least recently used (b) goes
    assert memo.get(b, len) is None and memo.get(c, len) == 4 and len(memo) == 2
    assert memo.get(bytes(bytearray(b"aaaa")), len) is None  # equal bytes, another object
    memo.put(b"x" * 11, len, 11)  # larger than the byte bound: not remembered
    assert len(memo) == 2
    memo.put(b"y" * 8, len, 8)  # the byte bound evicts until it fits
    assert len(memo) == 1
