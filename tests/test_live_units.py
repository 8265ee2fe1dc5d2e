"""The hub never blocks, and the receiver accepts only live secrets, once per event."""

from __future__ import annotations

from typing import Any

from resolvers.live.bus import HookTarget, LocalBus
from resolvers.live.hub import QUEUE_SIZE, EventHub, Subscriber
from resolvers.live.service import LiveEvents


def event(n: int, kind: str = "invoice.paid") -> dict[str, Any]:
    return {
        "object": "event",
        "id": f"ev_{n}",
        "created": n,
        "type": kind,
        "data": {"object": None},
    }


async def test_hub_filters_by_account_and_type_and_drops_oldest() -> None:
    hub = EventHub()
    paid = Subscriber("acct-a", frozenset({"invoice.paid"}))
    other = Subscriber("acct-b", frozenset({"invoice.paid"}))
    hub.add(paid)
    hub.add(other)
    assert hub.deliver("acct-a", event(1, "customer.created")) == 0
    for n in range(QUEUE_SIZE + 5):
        hub.deliver("acct-a", event(n))
    assert paid.queue.qsize() == QUEUE_SIZE and paid.dropped == 5
    assert (await paid.queue.get()).id == "ev_5"
    assert other.queue.empty()
    assert hub.deliver("acct-a", {"no": "event"}) == 0
    hub.remove(paid)
    assert hub.count("acct-a") == 0


async def test_receiver_checks_secret_type_and_duplicates() -> None:
    live = LiveEvents.__new__(LiveEvents)
    live.bus = LocalBus()
    live.hub = EventHub()
    await live.bus.start(live.hub.deliver)
    sub = Subscriber("acct", frozenset({"invoice.paid"}))
    live.hub.add(sub)
    await live.bus.put_secret("s3cret", HookTarget("acct", "invoice.paid"))
    assert await live.receive("nope", event(1)) == (410, "unknown hook")
    assert (await live.receive("s3cret", event(1, "customer.created")))[0] == 400
    assert (await live.receive("s3cret", ["not", "an", "event"]))[0] == 400
    assert await live.receive("s3cret", event(1)) == (202, "accepted")
    assert await live.receive("s3cret", event(1)) == (200, "duplicate")
    assert sub.queue.qsize() == 1
    await live.bus.drop_secret("s3cret")
    assert (await live.receive("s3cret", event(2)))[0] == 410
