"""Per-token rate limit: a bucket of cost points refilled continuously.

The bucket holds ``capacity`` points and refills ``capacity`` per ``period``
seconds; an operation takes its cost (at least one point). Keyed by a hash of
the caller's token (and, for tokens the upstream has not accepted yet, by
client address: see :class:`Admission`). With Redis, the buckets live there (one atomic script per
operation), so every facade process draws from the same bucket.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of taking points from a bucket."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the bucket is full again
    retry_after: int  # seconds until this cost would fit (0 when allowed)


class RateLimiter(Protocol):
    async def take(self, key: str, cost: int) -> Decision: ...


def _decide(
    tokens: float, cost: int, capacity: int, rate: float, now: float
) -> tuple[Decision, float]:
    allowed = tokens >= cost
    if allowed:
        tokens -= cost
    retry_after = 0 if allowed else math.ceil((cost - tokens) / rate)
    reset_at = math.ceil(now + (capacity - tokens) / rate)
    return Decision(allowed, capacity, math.floor(tokens), reset_at, retry_after), tokens


class LocalRateLimiter:
    """In-process buckets (bounded: idle buckets are refilled anyway, so the oldest go)."""

    def __init__(self, capacity: int, period: float, max_keys: int = 100_000) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str, cost: int) -> Decision:
        now = time.time()
        tokens, stamp = self._buckets.get(key, (float(self.capacity), now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
        decision, tokens = _decide(tokens, cost, self.capacity, self.rate, now)
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return decision


_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter:
    """Buckets in Redis, updated atomically by a Lua script."""

    def __init__(
        self, redis: Any, capacity: int, period: float, prefix: str = "spaces-graphql:rl:"
    ):
        self.redis = redis
        self.capacity = capacity
        self.rate = capacity / period
        self.prefix = prefix
        self._script = redis.register_script(_SCRIPT)

    async def take(self, key: str, cost: int) -> Decision:
        now = time.time()
        allowed, tokens = await self._script(
            keys=[self.prefix + key], args=[self.capacity, self.rate, now, cost]
        )
        left = float(tokens)
        retry_after = 0 if allowed else math.ceil((cost - left) / self.rate)
        reset_at = math.ceil(now + (self.capacity - left) / self.rate)
        return Decision(bool(allowed), self.capacity, math.floor(left), reset_at, retry_after)


class Admission:
    """Who pays for an operation: its token's bucket, and its client address's while unproven.

    A token is *proven* once the upstream accepted it (an operation without an
    upstream 401, or a WebSocket's ``GET account``). An unproven token is admitted
    only while its client address's bucket still holds the operation's cost, and
    an operation the upstream refuses with 401 is charged to that address bucket:
    a fresh random token per request draws from one bucket, not a new full one.
    Refusals before execution cost ``REFUSAL_POINTS`` too (to the token's bucket
    when proven, else to the address's), so malformed traffic also runs dry.
    ``limiter`` is read on every call: the runtime swaps in Redis at start-up.
    """

    REFUSAL_POINTS = 1

    def __init__(self, limiter: Callable[[], RateLimiter], max_proven: int = 100_000) -> None:
        self._limiter = limiter
        self._proven: OrderedDict[str, None] = OrderedDict()
        self.max_proven = max_proven

    @staticmethod
    def address_key(client: str) -> str:
        return "addr:" + client

    def is_proven(self, token_key: str) -> bool:
        if token_key in self._proven:
            self._proven.move_to_end(token_key)
            return True
        return False

    def proven(self, token_key: str) -> None:
        """The upstream accepted this token."""
        self._proven[token_key] = None
        self._proven.move_to_end(token_key)
        while len(self._proven) > self.max_proven:
            self._proven.popitem(last=False)

    async def take(self, token_key: str, client: str, cost: int) -> Decision:
        """Take ``cost`` from the token's bucket; an unproven token needs address points too."""
        limiter = self._limiter()
        decision = await limiter.take(token_key, cost)
        if not decision.allowed or self.is_proven(token_key):
            return decision
        # Peek (cost 0): the address pays only when the upstream refuses the token.
        address = await limiter.take(self.address_key(client), 0)
        if address.remaining < cost:
            # By the time the address bucket is full again the cost fits (it is <= capacity).
            retry = max(1, address.reset_at - math.floor(time.time()))
            return Decision(False, address.limit, address.remaining, address.reset_at, retry)
        return decision

    async def refused_upstream(self, token_key: str, client: str, cost: int) -> None:
        """The upstream refused the token (401): charge the address, forget the proof."""
        self._proven.pop(token_key, None)
        await self._limiter().take(self.address_key(client), cost)

    async def refused_early(self, token_key: str, client: str) -> Decision:
        """A refusal before execution costs points; a denied decision means: rate limited."""
        key = token_key if self.is_proven(token_key) else self.address_key(client)
        return await self._limiter().take(key, self.REFUSAL_POINTS)
