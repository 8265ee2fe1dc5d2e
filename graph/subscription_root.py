"""``SubscriptionRoot``: live events, pushed as they happen.

(The root is not called ``Subscription``: that is the billing resource.)

Each event is resolved with a context of its own (:meth:`Context.for_event`):
the generator yields a :class:`PerEvent` pairing the event with that context,
and the schema's executor (``graph/schema.py``) resolves the event's selection
with it. The previous event's loaders are released when the next event is
pulled (graphql-core resolves one event completely before asking for the next),
so a long subscription holds at most one event's records.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import cast

import strawberry

from graph.context import Context, Info
from graph.event import Event
from graph.event_type import EventType
from resolvers.errors import Unauthenticated, UpstreamUnavailable

ALL_TYPES = frozenset(t.value for t in EventType)


@dataclass(frozen=True, slots=True)
class PerEvent:
    """One event and the fresh context its selection is resolved with."""

    context: Context
    value: Event


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
        current: Context | None = None
        try:
            async with context.live.subscribe(
                context.caller.key, context.caller.token, wanted
            ) as subscriber:
                async for record in subscriber.events():
                    if current is not None:
                        current.loaders.release()  # the previous event is resolved
                    current = context.for_event()
                    # The executor unwraps it (graph/schema.py); the field's type stays Event.
                    yield cast(Event, PerEvent(current, Event.from_record(record)))
        finally:
            if current is not None:
                current.loaders.release()
