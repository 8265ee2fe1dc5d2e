"""The live-events service: what the app starts, the receiver calls, resolvers use.

With Redis, the deployment's processes (workers and hosts) share one upstream
hook per (account, event type), its holders' leases, its secret and the
duplicate marks (see store.py). Without Redis, one process is the whole
deployment: with several workers and no Redis, a delivery would reach a
worker that does not know its secret, so subscriptions are refused then.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from resolvers.client import SpacesClient
from resolvers.dialects.base import DialectTransport
from resolvers.errors import UpstreamUnavailable
from resolvers.live.bus import Bus, LocalBus, RedisBus
from resolvers.live.hub import EventHub, Subscriber
from resolvers.live.registry import HookRegistry
from resolvers.live.store import MemoryStore, RedisStore, Store

log = logging.getLogger("spaces_graphql.live")

NEEDS_REDIS = (
    "live events with several worker processes need Redis "
    "(set SPACES_GRAPHQL_REDIS_URL), or run one worker"
)


class LiveEvents:
    """Hub + bus + hook registry of one facade process.

    The app passes its settings (``hook_state_key``, ``live_lease_seconds``,
    ``workers``); the defaults are those settings' defaults.
    """

    def __init__(
        self,
        client: SpacesClient,
        *,
        public_url: str,
        redis_url: str | None = None,
        state_path: Path | None = None,
        state_key: str | None = None,
        lease_seconds: float = 10.0,
        workers: int = 1,
        redis_prefix: str = "spaces-graphql",
    ) -> None:
        hooks_base = public_url.rstrip("/") + "/hooks/"
        #: Why subscriptions are refused in this process, if they are.
        self.refused: str | None = NEEDS_REDIS if workers > 1 and not redis_url else None
        self._redis: Any = None
        store: Store
        if redis_url:
            import redis.asyncio as redis

            # One deployment = one public hooks URL: its keys and channel are its own.
            digest = hashlib.sha256(hooks_base.encode()).hexdigest()[:16]
            namespace = f"{redis_prefix}:live:{digest}"
            self._redis = redis.from_url(redis_url, decode_responses=True)
            self.bus: Bus = RedisBus(self._redis, namespace)
            store = RedisStore(self._redis, namespace, lease_seconds)
        else:
            self.bus = LocalBus()
            store = MemoryStore(state_path)
        wire = client.wire
        # A dialect transport translates deliveries too (launch27: local date-times).
        self.hub = EventHub(wire.canonical_event if isinstance(wire, DialectTransport) else None)
        self.registry = HookRegistry(
            client, self.bus, store, hooks_base, state_key=state_key, lease_seconds=lease_seconds
        )

    @property
    def instance(self) -> str:
        """This process's id among the deployment's hook holders."""
        return self.registry.instance

    async def start(self) -> None:
        await self.bus.start(self.hub.deliver)
        removed = await self.registry.start()
        if removed:
            log.info("removed %d REST Hooks left by an earlier run", removed)
        if self.refused:
            log.warning(self.refused)

    async def close(self) -> None:
        await self.registry.close()
        await self.bus.close()
        if self._redis is not None:
            await self._redis.aclose()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, account: str, token: str, types: frozenset[str]
    ) -> AsyncIterator[Subscriber]:
        """Register a subscriber (and the upstream hooks it needs) for the block's duration."""
        if self.refused:
            raise UpstreamUnavailable(self.refused)
        subscriber = Subscriber(account, types)
        self.hub.add(subscriber)
        acquired: list[str] = []
        try:
            for event_type in sorted(types):
                await self.registry.acquire(account, token, event_type)
                acquired.append(event_type)
            yield subscriber
        finally:
            self.hub.remove(subscriber)
            # Every count drops before the first await: a second cancellation while
            # waiting cannot leave a type counted (its hook would never be deleted).
            tasks = [self.registry.let_go(account, t) for t in acquired]
            pending = [t for t in tasks if t is not None]
            if pending:
                with contextlib.suppress(Exception):
                    await asyncio.shield(asyncio.gather(*pending, return_exceptions=True))

    async def receive(self, secret: str, payload: Any) -> tuple[int, str]:
        """A delivery to ``/hooks/<secret>``: (HTTP status, reason)."""
        target = await self.bus.get_secret(secret)
        if target is None:
            # REST Hooks: 410 tells the sender to drop a hook nobody wants (unknown,
            # or expired: every process that wanted it is gone).
            return 410, "unknown hook"
        if not isinstance(payload, Mapping) or not isinstance(payload.get("id"), str):
            return 400, "not an event"
        if payload.get("type") != target.event_type:
            return 400, "event type does not match the hook"
        if not await self.bus.first_sighting(target.account, payload["id"]):
            return 200, "duplicate"
        await self.bus.publish(target.account, payload)
        return 202, "accepted"
