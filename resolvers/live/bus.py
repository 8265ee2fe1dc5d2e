"""How events and hook secrets are shared between facade processes.

Without Redis everything stays in this process (:class:`LocalBus`). With
Redis (:class:`RedisBus`), a webhook received by any process is published on
one channel and every process hands it to its own subscribers; the secrets
of live registrations and the "seen" marks that drop duplicate deliveries are
shared too, so any process can accept any registration's delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

log = logging.getLogger("spaces_graphql.live")

Deliver = Callable[[str, Mapping[str, Any]], object]
SEEN_TTL_SECONDS = 26 * 3600  # the upstream retries a delivery for 24 hours
SEEN_LOCAL_MAX = 50_000


@dataclass(frozen=True, slots=True)
class HookTarget:
    """What a live secret stands for: whose events, of which type."""

    account: str
    event_type: str


def secret_key(secret: str) -> str:
    """Secrets are stored hashed: a leaked store does not reveal hook URLs."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Bus(Protocol):
    async def start(self, deliver: Deliver) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, account: str, event: Mapping[str, Any]) -> None: ...
    async def first_sighting(self, account: str, event_id: str) -> bool: ...
    async def put_secret(
        self, secret: str, target: HookTarget, ttl: float | None = None
    ) -> None: ...
    async def get_secret(self, secret: str) -> HookTarget | None: ...
    async def drop_secret(self, secret: str) -> None: ...
    async def touch_secret(self, hashed: str, ttl: float) -> bool: ...
    async def drop_secret_hash(self, hashed: str) -> None: ...


class LocalBus:
    """Single-process bus."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._secrets: dict[str, HookTarget] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def close(self) -> None:
        self._deliver = None

    async def publish(self, account: str, event: Mapping[str, Any]) -> None:
        if self._deliver is not None:
            self._deliver(account, event)

    async def first_sighting(self, account: str, event_id: str) -> bool:
        key = f"{account}:{event_id}"
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > SEEN_LOCAL_MAX:
            self._seen.popitem(last=False)
        return True

    async def put_secret(self, secret: str, target: HookTarget, ttl: float | None = None) -> None:
        # One process: the secret lives exactly as long as its registration here.
        self._secrets[secret_key(secret)] = target

    async def get_secret(self, secret: str) -> HookTarget | None:
        return self._secrets.get(secret_key(secret))

    async def drop_secret(self, secret: str) -> None:
        self._secrets.pop(secret_key(secret), None)

    async def touch_secret(self, hashed: str, ttl: float) -> bool:
        return hashed in self._secrets

    async def drop_secret_hash(self, hashed: str) -> None:
        self._secrets.pop(hashed, None)


class RedisBus:
    """Redis pub/sub for events, Redis keys for secrets and duplicate marks.

    Every key and the channel live under ``namespace`` (one per deployment: the
    service derives it from the public hooks URL), so two deployments sharing a
    Redis neither hear each other's events nor drop each other's as duplicates.
    A secret expires unless its holders renew it (``touch_secret``): once every
    process that wanted a hook is gone, its deliveries get 410.
    """

    def __init__(self, redis: Any, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace
        self.channel = f"{namespace}:events"
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self, deliver: Deliver) -> None:
        await self._redis.ping()
        self._listener = asyncio.create_task(self._listen(deliver))
        await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def _listen(self, deliver: Deliver) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._ready.set()
        try:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                try:
                    envelope = json.loads(message["data"])
                    deliver(str(envelope["account"]), envelope["event"])
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("dropping a malformed bus message: %r", exc)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener

    async def publish(self, account: str, event: Mapping[str, Any]) -> None:
        await self._redis.publish(self.channel, json.dumps({"account": account, "event": event}))

    async def first_sighting(self, account: str, event_id: str) -> bool:
        key = f"{self._ns}:seen:{account}:{event_id}"
        return bool(await self._redis.set(key, "1", nx=True, ex=SEEN_TTL_SECONDS))

    def _secret(self, hashed: str) -> str:
        return f"{self._ns}:secret:{hashed}"

    async def put_secret(self, secret: str, target: HookTarget, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        await self._redis.set(self._secret(secret_key(secret)), json.dumps(asdict(target)), px=px)

    async def get_secret(self, secret: str) -> HookTarget | None:
        raw = await self._redis.get(self._secret(secret_key(secret)))
        if raw is None:
            return None
        data = json.loads(raw)
        return HookTarget(account=data["account"], event_type=data["event_type"])

    async def drop_secret(self, secret: str) -> None:
        await self.drop_secret_hash(secret_key(secret))

    async def touch_secret(self, hashed: str, ttl: float) -> bool:
        return bool(await self._redis.pexpire(self._secret(hashed), max(1, int(ttl * 1000))))

    async def drop_secret_hash(self, hashed: str) -> None:
        await self._redis.delete(self._secret(hashed))
