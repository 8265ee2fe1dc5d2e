"""Pages of one wave are not held back by each other (``PageByQueryLoader``).

A page is one upstream request; when it arrives, its children's requests go out
at once, while the rest of its wave is still in flight. (A batching loader would
wait for the slowest page of the tick before any of its callers resumed.)
"""

from __future__ import annotations

import pytest

from tests.support import ALICE, harness
from tests.test_incremental import slow


@pytest.mark.parametrize("short_paths", [True, False], ids=["short-paths", "no-short-paths"])
async def test_a_slow_page_does_not_hold_back_its_siblings_children(short_paths: bool) -> None:
    async with harness(short_paths=short_paths) as h:
        customers = (await h.rest("customers", limit=10))["data"]
        with_subscriptions = [
            c for c in customers if (await h.rest(f"customers/{c['id']}/subscriptions"))["data"]
        ]
        fast, late = with_subscriptions[0]["id"], customers[-1]["id"]
        assert fast != late
        slow(h, f"customers/{late}/subscriptions", 0.5)
        query = """query($a: ID!, $b: ID!) {
          a: customer(id: $a) { subscriptions(first: 2) { nodes {
               invoices(first: 1) { nodes { id } } } } }
          b: customer(id: $b) { subscriptions(first: 2) { nodes { status } } } }"""
        h.upstream.reset()
        data = await h.data(query, {"a": fast, "b": late}, token=ALICE)
        assert data["a"]["subscriptions"]["nodes"]
        by_path = {c.path: c for c in h.upstream.calls}
        slow_page = by_path[f"customers/{late}/subscriptions"]
        invoices = [c for c in h.upstream.calls if c.path == "invoices"]
        assert invoices
        # The fast customer's invoices were asked for while the slow page was in flight.
        assert all(c.start < slow_page.end for c in invoices)


async def test_one_page_asked_twice_in_an_operation_is_one_request() -> None:
    async with harness() as h:
        h.upstream.reset()
        data = await h.data(
            "{ a: customers(first: 3) { nodes { id } } b: customers(first: 3) { nodes { name } } }"
        )
        assert len(data["a"]["nodes"]) == len(data["b"]["nodes"]) == 3
        assert h.upstream.routes() == ["GET customers"]
