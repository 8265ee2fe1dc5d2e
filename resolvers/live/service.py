"""The live-events service: what the app starts, the receiver calls, resolvers use."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from resolvers.client import SpacesClient
from resolvers.live.bus import Bus, LocalBus, RedisBus
from resolvers.live.hub import EventHub, Subscriber
from resolvers.live.registry import HookRegistry

log = logging.getLogger("spaces_graphql.live")


class LiveEvents:
    """Hub + bus + hook registry of one facade process."""

    def __init__(
        self,
        client: SpacesClient,
        *,
        public_url: str,
        redis_url: str | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.bus: Bus = RedisBus(redis_url) if redis_url else LocalBus()
        self.hub = EventHub()
        self.registry = HookRegistry(
            client, self.bus, public_url.rstrip("/") + "/hooks/", state_path
        )

    async def start(self) -> None:
        await self.bus.start(self.hub.deliver)
        removed = await self.registry.cleanup_on_start()
        if removed:
            log.info("removed %d REST Hooks left by an earlier run", removed)

    async def close(self) -> None:
        await self.registry.close()
        await self.bus.close()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, account: str, token: str, types: frozenset[str]
    ) -> AsyncIterator[Subscriber]:
        """Register a subscriber (and the upstream hooks it needs) for the block's duration."""
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
            for event_type in acquired:
                with contextlib.suppress(Exception):
                    await self.registry.release(account, event_type)

    async def receive(self, secret: str, payload: Any) -> tuple[int, str]:
        """A delivery to ``/hooks/<secret>``: (HTTP status, reason)."""
        target = await self.bus.get_secret(secret)
        if target is None:
            # REST Hooks: 410 tells the sender to drop a hook nobody wants.
            return 410, "unknown hook"
        if not isinstance(payload, Mapping) or not isinstance(payload.get("id"), str):
            return 400, "not an event"
        if payload.get("type") != target.event_type:
            return 400, "event type does not match the hook"
        if not await self.bus.first_sighting(target.account, payload["id"]):
            return 200, "duplicate"
        await self.bus.publish(target.account, payload)
        return 202, "accepted"
