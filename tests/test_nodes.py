"""``node``/``nodes`` round-trip every type, in batches."""

from __future__ import annotations

from tests.support import Harness

COLLECT = """{
  spaces(first: 2) { nodes { id } }
  customers(first: 2) { nodes { id subscriptions(first: 1) { nodes { id } } } }
  invoices(first: 2) { nodes { id } }
  subscriptions(first: 2) { nodes { id } }
  capturedEmails(first: 2) { nodes { id } }
  events(first: 2) { nodes { id } }
  webhooks(first: 2) { nodes { id } }
}"""

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Space { spaceId } ... on Customer { customerId } ... on Subscription { token }
  ... on Invoice { invoiceId } ... on CapturedEmail { email } ... on Event { type }
  ... on Webhook { url } ... on ResourceSubscription { targetUrl } } }"""


async def _all_ids(h: Harness) -> list[str]:
    data = await h.data(COLLECT)
    ids: list[str] = []
    for key in ("spaces", "invoices", "subscriptions", "capturedEmails", "events", "webhooks"):
        ids += [n["id"] for n in data[key]["nodes"]]
    for c in data["customers"]["nodes"]:
        ids.append(c["id"])
        ids += [s["id"] for s in c["subscriptions"]["nodes"]]
    created = await h.sandbox.post(
        "/api/v1/resource_subscriptions",
        json={"event": "customer.created", "target_url": "https://hooks.example.com/n"},
        auth=("demo-alice", ""),
    )
    assert created.status_code == 200
    hooks = await h.data("{ resourceSubscriptions(first: 1) { nodes { id } } }")
    ids.append(hooks["resourceSubscriptions"]["nodes"][0]["id"])
    return ids


async def test_node_round_trips_every_type(h: Harness) -> None:
    ids = await _all_ids(h)
    typenames = set()
    for gid in ids:
        node = (await h.data(NODE, {"id": gid}))["node"]
        assert node is not None and node["id"] == gid, gid
        typenames.add(node["__typename"])
    assert typenames == {
        "Space", "Customer", "Subscription", "Invoice", "CapturedEmail", "Event", "Webhook",
        "ResourceSubscription",
    }  # fmt: skip


async def test_nodes_batches_and_keeps_order(h: Harness) -> None:
    ids = await _all_ids(h)
    q = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    data = await h.data(q, {"ids": ids})
    assert [n["id"] for n in data["nodes"]] == ids


async def test_nodes_batch_customer_lookups_into_one_request(h: Harness) -> None:
    rest = await h.rest("customers", limit=30)
    gids = (await h.data("{ customers(first: 30) { nodes { id } } }"))["customers"]["nodes"]
    h.upstream.reset()
    data = await h.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { customerId } } }",
        {"ids": [g["id"] for g in gids]},
    )
    assert [n["customerId"] for n in data["nodes"]] == [c["id"] for c in rest["data"]]
    assert h.upstream.routes() == ["GET customers"]
    assert h.upstream.calls[0].params["ids"].count(",") == 29


async def test_unknown_ids_are_null_without_errors(h: Harness) -> None:
    from graph.node import to_global_id

    missing = [
        to_global_id("Customer", "cus_doesnotexist"),
        to_global_id("Invoice", "in_doesnotexist"),
        to_global_id("Space", 99999),
        to_global_id("Subscription", "cus_nope/sub_nope"),
        to_global_id("Event", "ev_nope"),
        to_global_id("Webhook", "wh_nope"),
        to_global_id("CapturedEmail", "ce_nope"),
        to_global_id("ResourceSubscription", "rs_nope"),
    ]
    result = await h.query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": missing})
    assert "errors" not in result, result["errors"]
    assert result["data"]["nodes"] == [None] * len(missing)
