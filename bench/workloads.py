"""The seven workloads: the GraphQL query, the optimal plan and the hand-written aggregator.

Each workload is built from the sandbox's data (discovered with plain REST
reads before anything is measured), so that its optimal request count is
computed from the data rather than assumed. ``optimal`` follows the
definition in ``bench/README.md``; the aggregator implements exactly that
plan with asyncio + httpx, and the benchmark checks that it issues exactly
the optimal number of requests.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from graph.node import to_global_id

TOKEN = "demo-alice"
BATCH_MAX = 100  # the upstream's page size limit, and the most IDs per ``?ids=`` request

Json = dict[str, Any]
Aggregate = Callable[[httpx.AsyncClient, bool], Awaitable[bytes]]


@dataclass
class Workload:
    key: str
    title: str
    #: How deep the query's lists (and lookups) nest: the wave budget.
    depth: int
    query: str
    variables: Json | None
    #: Optimal upstream requests, by whether the upstream batches by IDs.
    optimal: dict[bool, int]
    #: How the optimum is made up, for the README and the JSON.
    plan: str
    aggregate: Aggregate
    facts: Json = field(default_factory=dict)

    def body(self) -> bytes:
        payload: Json = {"query": self.query}
        if self.variables:
            payload["variables"] = self.variables
        return orjson.dumps(payload)


def count_fields(value: Any) -> int:
    """Resolved fields in a GraphQL result: every key of every object, at any depth."""
    if isinstance(value, dict):
        return len(value) + sum(count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_fields(v) for v in value)
    return 0


async def _get(c: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await c.get(path, params=params or None)
    response.raise_for_status()
    return orjson.loads(response.content)


def _money(amount: int, currency: str) -> Json:
    return {"amount": amount, "currency": currency}


def _iso(ts: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# --- W1 viewer -----------------------------------------------------------------------

W1_QUERY = "{ viewer { name email avatarImageUrl referralCode createdAt } }"


async def _w1(c: httpx.AsyncClient, batch: bool) -> bytes:
    a = await _get(c, "account")
    viewer = {"name": a["name"], "email": a["email"], "avatarImageUrl": a["avatar_image_url"],
              "referralCode": a["referral_code"], "createdAt": _iso(a["created"])}  # fmt: skip
    return orjson.dumps({"data": {"viewer": viewer}})


# --- W2 one customer with its Space ------------------------------------------------------

W2_QUERY = """query($id: ID!) { customer(id: $id) { id name email createdAt
  space { id spaceId url createdAt } } }"""


def _customer_out(o: Json) -> Json:
    sp = o["space"]
    return {"id": to_global_id("Customer", o["id"]), "name": o["name"], "email": o["email"],
            "createdAt": _iso(o["created"]),
            "space": {"id": to_global_id("Space", sp["id"]), "spaceId": sp["id"], "url": sp["url"],
                      "createdAt": _iso(sp["created"])}}  # fmt: skip


def _w2(customer_id: str) -> Aggregate:
    async def run(c: httpx.AsyncClient, batch: bool) -> bytes:
        o = await _get(c, f"customers/{customer_id}")
        return orjson.dumps({"data": {"customer": _customer_out(o)}})

    return run


# --- W3 10 customers x 5 subscriptions x 5 invoices, with items -------------------------

W3_QUERY = """{ customers(first: 10) { nodes { name email space { url }
  subscriptions(first: 5) { nodes { status createdAt total { amount currency }
    items { itemId description quantity totalAmount { amount currency } }
    invoices(first: 5) { nodes { orderNumber createdAt paid total { amount currency }
      items { itemId description quantity unitAmount { amount currency }
              totalAmount { amount currency } } } } } } } } }"""


def _items(items: list[Json], currency: str, unit: bool) -> list[Json]:
    out = []
    for i in items:
        item: Json = {"itemId": str(i["item_id"]), "description": i.get("description"),
                      "quantity": i["quantity"]}  # fmt: skip
        if unit:
            item["unitAmount"] = _money(i["unit_amount"], i.get("currency") or currency)
        item["totalAmount"] = _money(i["total_amount"], i.get("currency") or currency)
        out.append(item)
    return out


async def _w3(c: httpx.AsyncClient, batch: bool) -> bytes:
    customers = (await _get(c, "customers", limit=10))["data"]
    pages = await asyncio.gather(
        *(_get(c, f"customers/{cu['id']}/subscriptions", limit=5) for cu in customers)
    )
    subs = [(cu, s) for cu, page in zip(customers, pages, strict=True) for s in page["data"]]
    invoices = await asyncio.gather(
        *(_get(c, "invoices", customer=cu["id"], subscription=s["token"], limit=5)
          for cu, s in subs)
    )  # fmt: skip
    by_sub = {id(s): inv["data"] for (_, s), inv in zip(subs, invoices, strict=True)}
    nodes = []
    for cu, page in zip(customers, pages, strict=True):
        sub_nodes = []
        for s in page["data"]:
            inv_nodes = [
                {"orderNumber": i["order_number"], "createdAt": _iso(i["created"]),
                 "paid": i["paid"], "total": _money(i["total"], i["currency"]),
                 "items": _items(i["items"]["data"], i["currency"], True)}
                for i in by_sub[id(s)]
            ]  # fmt: skip
            sub_nodes.append(
                {"status": s["status"], "createdAt": _iso(s["created"]),
                 "total": _money(s["total"], s["currency"]),
                 "items": _items(s["items"]["data"], s["currency"], False),
                 "invoices": {"nodes": inv_nodes}}
            )  # fmt: skip
        nodes.append({"name": cu["name"], "email": cu["email"], "space": {"url": cu["space"]["url"]},
                      "subscriptions": {"nodes": sub_nodes}})  # fmt: skip
    return orjson.dumps({"data": {"customers": {"nodes": nodes}}})


# --- W4 nodes(ids:) with 100 mixed IDs ---------------------------------------------------

W4_QUERY = """query($ids: [ID!]!) { nodes(ids: $ids) { id
  ... on Customer { name email }
  ... on Invoice { orderNumber paid total { amount currency } }
  ... on Subscription { status total { amount currency } } } }"""


def _w4(customers: list[str], invoices: list[str], subs: list[tuple[str, str]]) -> Aggregate:
    async def run(c: httpx.AsyncClient, batch: bool) -> bytes:
        if batch:
            found = await asyncio.gather(
                _get(c, "customers", ids=",".join(customers), limit=len(customers)),
                _get(c, "invoices", ids=",".join(invoices), limit=len(invoices)),
                *(_get(c, f"customers/{cid}/subscriptions/{tok}") for cid, tok in subs),
            )
            cus = {o["id"]: o for o in found[0]["data"]}
            inv = {o["id"]: o for o in found[1]["data"]}
            sub_objs = list(found[2:])
        else:
            found = await asyncio.gather(
                *(_get(c, f"customers/{i}") for i in customers),
                *(_get(c, f"invoices/{i}") for i in invoices),
                *(_get(c, f"customers/{cid}/subscriptions/{tok}") for cid, tok in subs),
            )
            cus = {o["id"]: o for o in found[: len(customers)]}
            inv = {o["id"]: o for o in found[len(customers) : len(customers) + len(invoices)]}
            sub_objs = list(found[len(customers) + len(invoices) :])
        out: list[Json] = []
        out += [{"id": to_global_id("Customer", k), "name": cus[k]["name"],
                 "email": cus[k]["email"]} for k in customers]  # fmt: skip
        out += [{"id": to_global_id("Invoice", k), "orderNumber": inv[k]["order_number"],
                 "paid": inv[k]["paid"], "total": _money(inv[k]["total"], inv[k]["currency"])}
                for k in invoices]  # fmt: skip
        out += [{"id": to_global_id("Subscription", f"{cid}/{s['token']}"), "status": s["status"],
                 "total": _money(s["total"], s["currency"])}
                for (cid, _), s in zip(subs, sub_objs, strict=True)]  # fmt: skip
        return orjson.dumps({"data": {"nodes": out}})

    return run


# --- W5 customers(first: 100), 10 fields each --------------------------------------------

W5_QUERY = """{ customers(first: 100) { nodes { id customerId name email createdAt
  space { id spaceId url createdAt } } } }"""


async def _w5(c: httpx.AsyncClient, batch: bool) -> bytes:
    customers = (await _get(c, "customers", limit=100))["data"]
    nodes = []
    for o in customers:
        out = _customer_out(o)
        out["customerId"] = o["id"]
        nodes.append(out)
    return orjson.dumps({"data": {"customers": {"nodes": nodes}}})


# --- W6 100 customers x 10 subscriptions --------------------------------------------------

W6_QUERY = """{ customers(first: 100) { nodes { name
  subscriptions(first: 10) { nodes { token status total { amount currency } } } } } }"""


async def _w6(c: httpx.AsyncClient, batch: bool) -> bytes:
    customers = (await _get(c, "customers", limit=100))["data"]
    pages = await asyncio.gather(
        *(_get(c, f"customers/{cu['id']}/subscriptions", limit=10) for cu in customers)
    )
    nodes = [
        {"name": cu["name"], "subscriptions": {"nodes": [
            {"token": s["token"], "status": s["status"], "total": _money(s["total"], s["currency"])}
            for s in page["data"]]}}
        for cu, page in zip(customers, pages, strict=True)
    ]  # fmt: skip
    return orjson.dumps({"data": {"customers": {"nodes": nodes}}})


# --- W7 50 events with their resources ---------------------------------------------------

W7_QUERY = """{ events(first: 50) { nodes { id type createdAt resource { __typename
  ... on Customer { name email }
  ... on Invoice { orderNumber paid total { amount currency } }
  ... on Subscription { status total { amount currency } }
  ... on CapturedEmail { capturedEmail: email } } } } }"""


def _resource(obj: Json | None) -> Json | None:
    if not obj:
        return None
    kind = obj.get("object")
    if kind == "customer":
        return {"__typename": "Customer", "name": obj.get("name"), "email": obj.get("email")}
    if kind == "invoice":
        return {"__typename": "Invoice", "orderNumber": obj["order_number"], "paid": obj["paid"],
                "total": _money(obj["total"], obj["currency"])}  # fmt: skip
    if kind == "subscription":
        return {"__typename": "Subscription", "status": obj["status"],
                "total": _money(obj["total"], obj["currency"])}  # fmt: skip
    return {"__typename": "CapturedEmail", "capturedEmail": obj.get("email")}


async def _w7(c: httpx.AsyncClient, batch: bool) -> bytes:
    events = (await _get(c, "events", limit=50))["data"]
    nodes = [{"id": to_global_id("Event", e["id"]), "type": e["type"].upper().replace(".", "_"),
              "createdAt": _iso(e["created"]), "resource": _resource(e["data"].get("object"))}
             for e in events]  # fmt: skip
    return orjson.dumps({"data": {"events": {"nodes": nodes}}})


# --- building them from the data ----------------------------------------------------------


async def discover(c: httpx.AsyncClient) -> list[Workload]:
    """Read what the workloads need from the upstream, and compute each optimum."""
    customers10 = (await _get(c, "customers", limit=10))["data"]
    subs10 = await asyncio.gather(
        *(_get(c, f"customers/{cu['id']}/subscriptions", limit=5) for cu in customers10)
    )
    s3 = sum(len(p["data"]) for p in subs10)
    customers100 = (await _get(c, "customers", limit=100))["data"]
    # Every other object of the newest 100: a lookup must find exactly these (the newest
    # page would also be what an upstream that ignores ``ids`` answers).
    mixed_c = [o["id"] for o in customers100[::2][:40]]
    mixed_i = [o["id"] for o in (await _get(c, "invoices", limit=100))["data"][::2][:40]]
    subs = (await _get(c, "subscriptions", limit=40))["data"][::2]
    mixed_s = [(s["customer"]["id"], s["token"]) for s in subs]
    ids = ([to_global_id("Customer", k) for k in mixed_c]
           + [to_global_id("Invoice", k) for k in mixed_i]
           + [to_global_id("Subscription", f"{cid}/{tok}") for cid, tok in mixed_s])  # fmt: skip
    n_c, n_i, n_s = len(mixed_c), len(mixed_i), len(mixed_s)
    w4_batch = math.ceil(n_c / BATCH_MAX) + math.ceil(n_i / BATCH_MAX) + n_s
    return [
        Workload("W1", "viewer", 1, W1_QUERY, None, {True: 1, False: 1},
                 "GET /account", _w1),
        Workload("W2", "one customer with its Space", 1, W2_QUERY, {"id": customers10[0]["id"]},
                 {True: 1, False: 1}, "GET /customers/{id} (the Space is embedded)",
                 _w2(customers10[0]["id"])),
        Workload("W3", "10 customers x 5 subscriptions x 5 invoices, with items", 3, W3_QUERY,
                 None, {True: 1 + 10 + s3, False: 1 + 10 + s3},
                 f"1 customers page + 10 subscription pages + {s3} invoice pages "
                 "(one per subscription that exists; items and Spaces are embedded)",
                 _w3, {"subscriptions": s3}),
        Workload("W4", "nodes(ids:) with 100 mixed IDs", 1, W4_QUERY, {"ids": ids},
                 {True: w4_batch, False: n_c + n_i + n_s},
                 f"{n_c} customers + {n_i} invoices: one ?ids= request per {BATCH_MAX} of each "
                 f"kind with batch-by-ids, else one lookup each; {n_s} subscriptions: one lookup "
                 "each (no batch endpoint)",
                 _w4(mixed_c, mixed_i, mixed_s), {"customers": n_c, "invoices": n_i,
                                                  "subscriptions": n_s}),
        Workload("W5", "customers(first: 100), 10 fields each", 1, W5_QUERY, None,
                 {True: 1, False: 1}, "1 customers page (Spaces embedded)", _w5),
        Workload("W6", "100 customers x 10 subscriptions", 2, W6_QUERY, None,
                 {True: 101, False: 101}, "1 customers page + 100 subscription pages", _w6),
        Workload("W7", "50 events with their resources", 1, W7_QUERY, None,
                 {True: 1, False: 1}, "1 events page (resources are embedded snapshots)", _w7),
    ]  # fmt: skip
