"""The read API against the sandbox in-process: every type, relation and page walk."""

from __future__ import annotations

from typing import Any

from tests.support import BOB, Harness

CUSTOMER_FIELDS = "id customerId name email createdAt space { id spaceId url createdAt }"


async def test_viewer_is_the_callers_account(h: Harness) -> None:
    data = await h.data("{ viewer { name email avatarImageUrl referralCode createdAt } }")
    account = await h.rest("account")
    assert data["viewer"]["name"] == account["name"]
    assert data["viewer"]["email"] == account["email"]
    assert data["viewer"]["createdAt"].endswith("Z")


async def test_first_page_matches_rest(h: Harness) -> None:
    data = await h.data(f"{{ customers(first: 7) {{ nodes {{ {CUSTOMER_FIELDS} }} }} }}")
    rest = await h.rest("customers", limit=7)
    got = data["customers"]["nodes"]
    assert [c["customerId"] for c in got] == [c["id"] for c in rest["data"]]
    assert [c["space"]["spaceId"] for c in got] == [c["space"]["id"] for c in rest["data"]]
    assert [c["email"] for c in got] == [c["email"] for c in rest["data"]]


PAGE = """query($first: Int, $after: String, $last: Int, $before: String) {
  customers(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { customerId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def _walk_forward(h: Harness, size: int) -> tuple[list[str], list[dict[str, Any]]]:
    ids: list[str] = []
    infos: list[dict[str, Any]] = []
    after = None
    while True:
        conn = (await h.data(PAGE, {"first": size, "after": after}))["customers"]
        ids += [e["node"]["customerId"] for e in conn["edges"]]
        infos.append(conn["pageInfo"])
        if not conn["pageInfo"]["hasNextPage"]:
            return ids, infos
        after = conn["pageInfo"]["endCursor"]


async def test_walks_both_ways_equal_the_rest_list(h: Harness) -> None:
    rest_ids = [c["id"] for c in await h.rest_all("customers")]
    assert len(rest_ids) >= 200
    forward, infos = await _walk_forward(h, 100)
    assert forward == rest_ids
    assert infos[0]["hasPreviousPage"] is False and all(i["hasPreviousPage"] for i in infos[1:])

    # Backward from the oldest object: `last`/`before` pages towards the newest.
    oldest = await h.data(PAGE, {"first": 1, "after": None})  # a cursor to start from
    tail = (await h.data(PAGE, {"first": 100, "after": infos[-2]["endCursor"]}))["customers"]
    before = tail["edges"][-1]["cursor"]
    backward: list[str] = [tail["edges"][-1]["node"]["customerId"]]
    while True:
        conn = (await h.data(PAGE, {"last": 37, "before": before}))["customers"]
        backward = [e["node"]["customerId"] for e in conn["edges"]] + backward
        assert conn["pageInfo"]["hasNextPage"] is True
        if not conn["pageInfo"]["hasPreviousPage"]:
            break
        before = conn["pageInfo"]["startCursor"]
    assert backward == rest_ids
    assert oldest["customers"]["pageInfo"]["hasNextPage"] is True


async def test_last_page_boundaries(h: Harness) -> None:
    rest_ids = [c["id"] for c in await h.rest_all("customers")]
    first = (await h.data(PAGE, {"first": 1}))["customers"]
    newest_cursor = first["edges"][0]["cursor"]
    empty = (await h.data(PAGE, {"last": 5, "before": newest_cursor}))["customers"]
    assert empty["edges"] == []
    assert empty["pageInfo"]["hasPreviousPage"] is False
    assert empty["pageInfo"]["startCursor"] is None
    # A page that ends exactly at the end of the list says there is nothing after it.
    forward, infos = await _walk_forward(h, 50)
    assert forward == rest_ids and infos[-1]["hasNextPage"] is False


NESTED = """{
  customers(first: 4) {
    nodes {
      id customerId name space { id url customers(first: 2) { nodes { customerId } } }
      subscriptions(first: 3) {
        nodes {
          id token serialNumber status createdAt total { amount currency }
          items { itemId description quantity discount { amount } unitAmount { amount currency } totalAmount { amount } }
          customer { customerId }
          invoices(first: 2) {
            nodes {
              id invoiceId orderNumber paid shipped shippingDetails total { amount currency }
              billingAddress { line1 line2 line3 zipCode locality region country }
              shippingAddress { line1 country }
              items { itemId quantity dateRangeStart dateRangeEnd totalAmount { amount currency } }
              customer { customerId email }
              subscription { token customer { customerId } }
            }
          }
        }
      }
      invoices(first: 3) { nodes { invoiceId customer { customerId } } }
    }
  }
}"""


async def test_relations_both_ways(h: Harness) -> None:
    data = await h.data(NESTED)
    customers = data["customers"]["nodes"]
    assert len(customers) == 4
    seen_sub = seen_invoice = 0
    for c in customers:
        assert c["space"]["customers"]["nodes"]
        rest_subs = await h.rest(f"customers/{c['customerId']}/subscriptions", limit=3)
        assert [s["token"] for s in c["subscriptions"]["nodes"]] == [
            s["token"] for s in rest_subs["data"]
        ]
        for s in c["subscriptions"]["nodes"]:
            seen_sub += 1
            assert s["customer"]["customerId"] == c["customerId"]
            assert all(isinstance(i["itemId"], str) for i in s["items"])
            assert s["total"]["amount"] == sum(i["totalAmount"]["amount"] for i in s["items"])
            for inv in s["invoices"]["nodes"]:
                seen_invoice += 1
                assert inv["customer"]["customerId"] == c["customerId"]
                assert inv["subscription"]["token"] == s["token"]
        for inv in c["invoices"]["nodes"]:
            assert inv["customer"]["customerId"] == c["customerId"]
    assert seen_sub and seen_invoice


async def test_spaces_and_captured_emails(h: Harness) -> None:
    data = await h.data(
        """{ spaces(first: 10) { nodes { spaceId url createdAt
              capturedEmails(first: 3) { nodes { id email createdAt space { spaceId } } } } }
           capturedEmails(first: 5) { nodes { email space { spaceId } } } }"""
    )
    spaces = data["spaces"]["nodes"]
    assert len(spaces) == 3 and any(s["url"] is None for s in spaces)
    for s in spaces:
        for e in s["capturedEmails"]["nodes"]:
            assert e["space"]["spaceId"] == s["spaceId"]
    rest = await h.rest("captured_emails", limit=5)
    assert [e["email"] for e in data["capturedEmails"]["nodes"]] == [
        e["email"] for e in rest["data"]
    ]


EVENTS = """query($types: [EventType!]) {
  events(first: 100, types: $types) {
    nodes { id type createdAt resource {
      __typename
      ... on Customer { customerId email }
      ... on Invoice { invoiceId paid customer { customerId } }
      ... on Subscription { token status customer { customerId } }
      ... on CapturedEmail { capturedEmail: email space { spaceId } }
    } }
  }
}"""


async def test_events_typed_resources_and_filters(h: Harness) -> None:
    data = await h.data(EVENTS)
    nodes = data["events"]["nodes"]
    assert len(nodes) == 100
    rest = await h.rest("events", limit=100)
    assert [n["type"].lower() for n in nodes] == [e["type"].replace(".", "_") for e in rest["data"]]
    for n in nodes:
        expected = {
            "CUSTOMER_CREATED": "Customer",
            "INVOICE_CREATED": "Invoice",
            "INVOICE_PAID": "Invoice",
            "SUBSCRIPTION_CREATED": "Subscription",
            "SUBSCRIPTION_CANCELLED": "Subscription",
            "CAPTURED_EMAIL_CREATED": "CapturedEmail",
        }[n["type"]]
        assert n["resource"]["__typename"] == expected
    paid = await h.data(EVENTS, {"types": ["INVOICE_PAID"]})
    assert {n["type"] for n in paid["events"]["nodes"]} == {"INVOICE_PAID"}


async def test_webhooks_embed_their_event(h: Harness) -> None:
    data = await h.data(
        "{ webhooks(first: 20) { nodes { id url pending createdAt event { id type } } } }"
    )
    rest = await h.rest("webhooks", limit=20)
    hooks = data["webhooks"]["nodes"]
    assert [w["url"] for w in hooks] == [w["url"] for w in rest["data"]]
    assert [w["pending"] for w in hooks] == [w["pending"] for w in rest["data"]]
    assert all(w["event"]["id"] for w in hooks)


async def test_resource_subscriptions_list(h: Harness) -> None:
    created = await h.sandbox.post(
        "/api/v1/resource_subscriptions",
        data={"event": "invoice.paid", "target_url": "https://hooks.example.com/x"},
        auth=("demo-alice", ""),
    )
    assert created.status_code == 200, created.text
    data = await h.data(
        "{ resourceSubscriptions { nodes { id event targetUrl apiVersion createdAt } } }"
    )
    nodes = data["resourceSubscriptions"]["nodes"]
    assert nodes[0]["event"] == "INVOICE_PAID"
    assert nodes[0]["targetUrl"] == "https://hooks.example.com/x"


async def test_lookups_take_global_or_upstream_ids(h: Harness) -> None:
    first = (await h.rest("customers", limit=1))["data"][0]
    invoice = (await h.rest("invoices", limit=1))["data"][0]
    q = """query($c: ID!, $i: ID!, $s: ID!) {
      customer(id: $c) { id customerId } invoice(id: $i) { id invoiceId } space(id: $s) { id spaceId }
    }"""
    data = await h.data(q, {"c": first["id"], "i": invoice["id"], "s": str(first["space"]["id"])})
    assert data["customer"]["customerId"] == first["id"]
    again = await h.data(
        q, {"c": data["customer"]["id"], "i": data["invoice"]["id"], "s": data["space"]["id"]}
    )
    assert again == data


async def test_isolation_between_tokens(h: Harness) -> None:
    alice_customer = (await h.rest("customers", limit=1))["data"][0]
    alice_invoice = (await h.rest("invoices", limit=1))["data"][0]
    q = """query($c: ID!, $i: ID!) { customer(id: $c) { name } invoice(id: $i) { paid }
             space(id: "1") { url } customers(first: 100) { nodes { customerId } } }"""
    data = await h.data(q, {"c": alice_customer["id"], "i": alice_invoice["id"]}, token=BOB)
    assert data["customer"] is None and data["invoice"] is None and data["space"] is None
    bob_ids = {c["customerId"] for c in data["customers"]["nodes"]}
    alice_ids = {c["id"] for c in await h.rest_all("customers")}
    assert bob_ids and not bob_ids & alice_ids
