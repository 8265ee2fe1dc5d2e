"""Round trips are the budget: upstream request counts and waves for nested queries."""

from __future__ import annotations

from collections import Counter

from sandbox.app import SandboxConfig
from tests.support import Harness, harness

ISSUE_QUERY = """{ customers(first: 20) { nodes { name space { url }
  subscriptions(first: 5) { nodes { total { amount } invoices(first: 5) {
    nodes { paid customer { email } } } } } } } }"""


def _subscriptions(data: dict) -> int:  # type: ignore[type-arg]
    return sum(len(c["subscriptions"]["nodes"]) for c in data["customers"]["nodes"])


async def _nested_counts(config: SandboxConfig, batch_ids: str) -> tuple[Counter[str], int, int]:
    async with harness(config, batch_ids=batch_ids, max_concurrency=100) as h:
        data = await h.data(ISSUE_QUERY)
        return Counter(h.upstream.routes()), h.upstream.waves(), _subscriptions(data)


async def test_three_level_query_costs_three_waves_and_the_minimum_requests() -> None:
    for batch, mode in ((True, "on"), (False, "off")):
        routes, waves, subs = await _nested_counts(
            SandboxConfig(latency_ms=15, batch_ids=batch), mode
        )
        # 1 list of customers, one subscriptions page per customer, one invoices
        # page per subscription; Spaces and invoice customers come embedded.
        assert routes["GET customers"] == 1
        assert sum(n for r, n in routes.items() if r.endswith("/subscriptions")) == 20
        assert routes["GET invoices"] == subs
        assert sum(routes.values()) == 1 + 20 + subs
        assert waves == 3


async def test_embedded_objects_are_never_fetched(h: Harness) -> None:
    await h.data(
        """{ invoices(first: 50) { nodes { customer { email space { url } } } }
             subscriptions(first: 50) { nodes { customer { name space { url } } } } }"""
    )
    assert sorted(h.upstream.routes()) == ["GET invoices", "GET subscriptions"]


async def test_same_object_fetched_once_per_request(h: Harness) -> None:
    customer = (await h.rest("customers", limit=1))["data"][0]["id"]
    h.upstream.reset()
    await h.data(
        """query($c: ID!) { a: customer(id: $c) { name } b: customer(id: $c) { email }
           c: customer(id: $c) { space { url } } }""",
        {"c": customer},
    )
    assert len(h.upstream.calls) == 1


LOOKUPS = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Invoice { invoiceId
  customer { customerId } subscription { token customer { email } } } } }"""


async def test_lookups_with_and_without_batch_ids() -> None:
    counts = {}
    for batch, mode in ((True, "on"), (False, "off")):
        async with harness(SandboxConfig(batch_ids=batch), batch_ids=mode) as h:
            page = await h.data("{ invoices(first: 25) { nodes { id } } }")
            ids = [n["id"] for n in page["invoices"]["nodes"]]
            h.upstream.reset()
            data = await h.data(LOOKUPS, {"ids": ids})
            assert len(data["nodes"]) == 25
            subs = {
                (n["customer"]["customerId"], n["subscription"]["token"])
                for n in data["nodes"]
                if n["subscription"]
            }
            counts[mode] = (Counter(h.upstream.routes()), len(subs))
    on, subs_on = counts["on"]
    off, subs_off = counts["off"]
    assert on["GET invoices"] == 1  # one ?ids= request for 25 invoices
    assert sum(n for r, n in on.items() if r.startswith("GET invoices/")) == 0
    assert sum(n for r, n in off.items() if r.startswith("GET invoices/")) == 25
    # Subscriptions have no batch endpoint: one lookup each, either way.
    assert sum(n for r, n in on.items() if "/subscriptions/" in r) == subs_on
    assert sum(n for r, n in off.items() if "/subscriptions/" in r) == subs_off


async def test_batch_capability_is_detected_when_absent() -> None:
    async with harness(SandboxConfig(batch_ids=False), batch_ids="auto") as h:
        page = await h.data("{ customers(first: 10) { nodes { id customerId } } }")
        ids = [n["id"] for n in page["customers"]["nodes"][3:8]]
        data = await h.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
        assert [n["id"] for n in data["nodes"]] == ids
        h.upstream.reset()
        await h.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids[:2]})
        assert all(c.path.startswith("customers/") for c in h.upstream.calls)


async def test_priming_is_lazy_first_wins_and_clears() -> None:
    """A primed value costs a dict entry until loaded; loading it fetches nothing."""
    from resolvers.loaders import Loaders
    from resolvers.records import SpaceRecord
    from tests.support import ALICE
    from tests.upstream_support import upstream

    async with upstream() as up:
        loaders = Loaders(up.client.session(ALICE))
        first, second = SpaceRecord(7, 1, None), SpaceRecord(7, 2, "x")
        loaders.space.prime(7, first).prime(7, second)
        assert not loaders.space._cache  # no future until asked for
        assert await loaders.space.get(7) is first
        loaders.space.prime(7, second)  # already loaded: still the first
        assert await loaders.space.get(7) is first
        loaders.space.clear(7).prime(7, second)
        assert await loaders.space.get(7) is second
        assert up.recording.routes() == []
