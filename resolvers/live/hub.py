"""In-process fan-out of events to this process's subscribers.

Delivery never blocks: each subscriber has a bounded queue, and a subscriber
that falls behind loses its oldest undelivered event rather than slowing the
webhook receiver or other subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from resolvers.errors import MalformedPayload
from resolvers.records import EventRecord, parse_event

log = logging.getLogger("spaces_graphql.live")

QUEUE_SIZE = 100


class Subscriber:
    """One GraphQL subscription: the event types it wants and its queue."""

    def __init__(self, account: str, types: frozenset[str]) -> None:
        self.account = account
        self.types = types
        self.queue: asyncio.Queue[EventRecord] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0

    def offer(self, event: EventRecord) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def events(self) -> AsyncIterator[EventRecord]:
        while True:
            yield await self.queue.get()


class EventHub:
    """Subscribers of this process, by account key (a hash of the token)."""

    def __init__(
        self, translate: Callable[[str, Mapping[str, Any]], Mapping[str, Any]] | None = None
    ) -> None:
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        #: The upstream dialect's translation of a delivery (``DialectTransport.canonical_event``:
        #: launch27's local date-times); None: deliveries are canonical already.
        self.translate = translate

    def add(self, subscriber: Subscriber) -> None:
        self._subscribers[subscriber.account].add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        group = self._subscribers.get(subscriber.account)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._subscribers[subscriber.account]

    def count(self, account: str | None = None) -> int:
        if account is not None:
            return len(self._subscribers.get(account, ()))
        return sum(len(g) for g in self._subscribers.values())

    def deliver(self, account: str, payload: Mapping[str, Any]) -> int:
        """Hand an upstream event to the account's subscribers that want its type."""
        group = self._subscribers.get(account)
        if not group:
            return 0
        if self.translate is not None:
            payload = self.translate(account, payload)
        try:
            event = parse_event(payload)
        except MalformedPayload as exc:
            log.warning("dropping a malformed event: %s", exc)
            return 0
        delivered = 0
        for subscriber in tuple(group):
            if event.type in subscriber.types:
                subscriber.offer(event)
                delivered += 1
        return delivered
