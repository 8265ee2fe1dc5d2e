"""``SubscriptionRoot``: live events, pushed as they happen.

(The root is not called ``Subscription``: that is the billing resource.)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from graph.context import Info
from graph.event import Event
from graph.event_type import EventType
from resolvers.errors import Unauthenticated, UpstreamUnavailable

ALL_TYPES = frozenset(t.value for t in EventType)


@strawberry.type(name="SubscriptionRoot", description="Live events of the caller's account.")
class SubscriptionRoot:
    @strawberry.subscription(
        description=(
            "Every new event of the caller's account, as it happens; `types` keeps only those "
            "kinds. Backed by REST Hooks the facade registers upstream while anyone listens."
        )
    )
    async def event_created(
        self, info: Info, types: list[EventType] | None = None
    ) -> AsyncGenerator[Event, None]:
        context = info.context
        if not context.caller.token:
            raise Unauthenticated("send your Spaces access token to subscribe")
        if context.live is None:
            raise UpstreamUnavailable("live events are not running in this process")
        wanted = frozenset(t.value for t in types) if types else ALL_TYPES
        async with context.live.subscribe(
            context.caller.key, context.caller.token, wanted
        ) as subscriber:
            async for record in subscriber.events():
                context.fresh_loaders()
                yield Event.from_record(record)
