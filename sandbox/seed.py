"""Deterministic seeded data: the same seed gives the same database, byte for byte.

Everything is drawn from one ``random.Random(seed)`` in a fixed order and timed from
fixed base timestamps (never the clock), so two sandboxes with one seed serve identical
answers. The generator first builds plain objects, then numbers them per Space in
creation order, then derives the events (snapshots at event time) and webhooks.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from sandbox import data
from sandbox.fakes import address, ascii_slug, invoice_item, line_item, person_email
from sandbox.model import Json, new_id, quirky_event, rename_customer_id
from sandbox.store import RowValues, row

BASE = 1_672_531_200  # 2023-01-01T00:00:00Z; seeded history runs to about mid 2024
HOUR = 3600
DAY = 86_400


@dataclass(frozen=True)
class Plan:
    """How much data one account gets."""

    token: str
    name: str
    email: str
    spaces: tuple[tuple[str | None, str], ...]  # (public url or None, currency)
    customers: int
    subscription_counts: tuple[int, ...]  # cycled over the customers, then shuffled
    invoices_per_subscription: tuple[int, int]
    one_off_invoices: tuple[int, int]
    captured_emails: int
    webhooks: int
    # The account's IANA time zone: launch27 serves date-times in it (docs/dialects.md).
    time_zone: str = "UTC"


PLANS = (
    Plan(
        "demo-alice",
        "Alice Andersson",
        "alice@example.com",
        (
            ("https://spaces.pe/s/alices-coffee", "USD"),
            (None, "EUR"),
            ("https://spaces.pe/s/alices-books", "SEK"),
        ),
        customers=250,
        subscription_counts=(0, 1, 2, 3, 4),
        invoices_per_subscription=(4, 6),
        one_off_invoices=(1, 2),
        captured_emails=160,
        webhooks=120,
        time_zone="America/New_York",  # daylight saving time
    ),
    Plan(
        "demo-bob",
        "Bob Berg",
        "bob@example.org",
        (("https://spaces.pe/s/bobs-bikes", "EUR"),),
        customers=8,
        subscription_counts=(1, 2, 1, 3, 0, 2, 1, 2),
        invoices_per_subscription=(2, 3),
        one_off_invoices=(0, 1),
        captured_emails=10,
        webhooks=10,
        time_zone="Asia/Tokyo",
    ),
)

# Zones for accounts without a plan (a --db file of another origin), picked by token.
_OTHER_ZONES = ("Europe/Stockholm", "America/Los_Angeles", "Australia/Sydney", "UTC")


def time_zone_of(token: str) -> str:
    """The IANA time zone of the account whose access token is ``token`` (deterministic)."""
    for plan in PLANS:
        if plan.token == token:
            return plan.time_zone
    digest = hashlib.sha256(token.encode()).digest()
    return _OTHER_ZONES[digest[0] % len(_OTHER_ZONES)]


@dataclass
class _Acc:
    """Objects generated for one account, before they become rows."""

    plan: Plan
    spaces: list[Json] = field(default_factory=list)
    currency: dict[int, str] = field(default_factory=dict)
    customers: list[Json] = field(default_factory=list)
    subscriptions: list[Json] = field(default_factory=list)
    invoices: list[Json] = field(default_factory=list)
    emails: list[Json] = field(default_factory=list)
    # (created, kind of snapshot source, object, snapshot overrides, type)
    events: list[tuple[int, str, Json, Json]] = field(default_factory=list)


def build_rows(seed: int) -> list[RowValues]:
    """All rows of a freshly seeded database, in insertion order."""
    rng = random.Random(seed)
    accs = [_Acc(plan) for plan in PLANS]
    rows: list[RowValues] = []
    space_id = 0
    for acc in accs:
        plan = acc.plan
        created = BASE - 30 * DAY + rng.randint(0, DAY)
        account: Json = {
            "object": "account",
            "created": created,
            "name": plan.name,
            "email": plan.email,
            "avatar_image_url": f"https://spaces.pe/avatars/{ascii_slug(plan.name)}.png",
            "referral_code": ascii_slug(plan.name.split()[0]).upper()
            + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=6)),
        }
        rows.append(row(plan.token, "account", plan.token, created, account))
        for i, (url, currency) in enumerate(plan.spaces):
            space_id += 1
            space_created = created + (i + 1) * 2 * DAY
            space = {"object": "space", "id": space_id, "created": space_created, "url": url}
            acc.spaces.append(space)
            acc.currency[space_id] = currency
            rows.append(
                row(plan.token, "space", str(space_id), space_created, space,
                    space=space_id, num=space_id)
            )  # fmt: skip
        _people(rng, acc)
    for acc in accs:
        _number(acc)
        rows += _object_rows(acc)
    for acc in accs:
        events = _event_rows(rng, acc)
        rows += events
        rows += _webhook_rows(rng, acc, events)
    return rows


def _people(rng: random.Random, acc: _Acc) -> None:
    """Customers with their subscriptions and invoices, and captured e-mails."""
    plan = acc.plan
    counts = [
        plan.subscription_counts[i % len(plan.subscription_counts)] for i in range(plan.customers)
    ]
    rng.shuffle(counts)
    for n_subs in counts:
        space = rng.choice(acc.spaces)
        currency = acc.currency[space["id"]]
        first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)
        customer = {
            "object": "customer",
            "id": new_id(rng, "customer"),
            "name": f"{first} {last}",
            "email": person_email(rng, first, last),
            "created": BASE + 10 * DAY + rng.randint(0, 290 * DAY),
            "space": space["id"],
        }
        acc.customers.append(customer)
        home = address(rng)
        for _ in range(n_subs):
            _subscription(rng, acc, customer, currency, home)
        for _ in range(rng.randint(*plan.one_off_invoices)):
            created = customer["created"] + rng.randint(DAY, 200 * DAY)
            items = [
                invoice_item(line_item(rng, currency), currency, None, None)
                for _ in range(rng.randint(1, 4))
            ]
            _invoice(rng, acc, customer, None, created, items, home)
    for _ in range(plan.captured_emails):
        first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)
        acc.emails.append(
            {
                "object": "captured_email",
                "id": new_id(rng, "captured_email"),
                "email": person_email(rng, first, last),
                "created": BASE + 5 * DAY + rng.randint(0, 500 * DAY),
                "space": rng.choice(acc.spaces)["id"],
            }
        )


def _subscription(rng: random.Random, acc: _Acc, customer: Json, currency: str, home: Json) -> None:
    created = customer["created"] + rng.randint(HOUR, 30 * DAY)
    items = [line_item(rng, currency) for _ in range(rng.randint(1, 3))]
    sub = {
        "object": "subscription",
        "token": new_id(rng, "subscription"),
        "serial_number": 0,
        "created": created,
        "status": "active",
        "items": {"object": "list", "data": items, "count": len(items)},
        "total": sum(i["total_amount"] for i in items),
        "currency": currency,
        "customer": customer["id"],
        "_space": customer["space"],
    }
    acc.subscriptions.append(sub)
    last = created
    for k in range(rng.randint(*acc.plan.invoices_per_subscription)):
        start = created + k * 30 * DAY
        billed = [invoice_item(i, currency, start, start + 30 * DAY) for i in items]
        if rng.random() < 0.15:
            billed.append(invoice_item(line_item(rng, currency), currency, None, None))
        last = start + rng.randint(0, HOUR)
        _invoice(rng, acc, customer, sub, last, billed[:4], home)
    # The first subscription of every account is cancelled so that each shows both states.
    if rng.random() < 0.2 or len(acc.subscriptions) == 1:
        sub["status"] = "cancelled"
        sub["_cancelled"] = last + rng.randint(DAY, 20 * DAY)


def _invoice(
    rng: random.Random,
    acc: _Acc,
    customer: Json,
    sub: Json | None,
    created: int,
    items: list[Json],
    home: Json,
) -> None:
    currency = acc.currency[customer["space"]]
    paid = rng.random() < 0.85
    shipped = paid and rng.random() < 0.5
    shipping = rng.choice((None, home, home, address(rng)))
    invoice = {
        "object": "invoice",
        "id": new_id(rng, "invoice"),
        "created": created,
        "order_number": 0,
        "billing_address": rng.choice((None, home, home)),
        "shipping_address": shipping,
        "paid": paid,
        "shipped": shipped,
        "shipping_details": (
            f"Shipped with {rng.choice(data.CARRIERS)}, tracking {rng.randint(10**9, 10**10 - 1)}"
        )
        if shipped
        else None,
        "total": sum(i["total_amount"] for i in items),
        "currency": currency,
        "items": {"object": "list", "data": items, "count": len(items)},
        "customer": customer["id"],
        "subscription": sub["token"] if sub else None,
        "_space": customer["space"],
        "_paid": created + rng.randint(60, 5 * DAY) if paid else None,
    }
    acc.invoices.append(invoice)


def _number(acc: _Acc) -> None:
    """Serial and order numbers run per Space in creation order."""
    for objs, key in ((acc.subscriptions, "serial_number"), (acc.invoices, "order_number")):
        objs.sort(key=lambda o: o["created"])
        counters: dict[int, int] = {}
        for obj in objs:
            counters[obj["_space"]] = counters.get(obj["_space"], 0) + 1
            obj[key] = counters[obj["_space"]]
    acc.customers.sort(key=lambda o: o["created"])
    acc.emails.sort(key=lambda o: o["created"])


def _public(obj: Json) -> Json:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _object_rows(acc: _Acc) -> list[RowValues]:
    """Rows of customers, subscriptions, invoices and e-mails; queues their events."""
    token = acc.plan.token
    rows: list[RowValues] = []
    spaces = {s["id"]: s for s in acc.spaces}
    customers: dict[str, Json] = {}
    for c in acc.customers:
        rows.append(row(token, "customer", c["id"], c["created"], {**c, "space": None},
                        space=c["space"]))  # fmt: skip
        customers[c["id"]] = {**c, "space": spaces[c["space"]]}
        acc.events.append((c["created"], "customer.created", customers[c["id"]], {}))
    for s in acc.subscriptions:
        body = _public(s)
        rows.append(row(token, "subscription", s["token"], s["created"],
                        {**body, "customer": None}, space=s["_space"], customer=s["customer"],
                        num=s["serial_number"]))  # fmt: skip
        full = {**body, "customer": customers[s["customer"]]}
        acc.events.append((s["created"], "subscription.created", full, {"status": "active"}))
        if "_cancelled" in s:
            acc.events.append((s["_cancelled"], "subscription.cancelled", full, {}))
    for i in acc.invoices:
        body = _public(i)
        rows.append(row(token, "invoice", i["id"], i["created"], {**body, "customer": None},
                        space=i["_space"], customer=i["customer"], ref=i["subscription"],
                        num=i["order_number"]))  # fmt: skip
        full = {**body, "customer": customers[i["customer"]]}
        unpaid = {"paid": False, "shipped": False, "shipping_details": None}
        acc.events.append((i["created"], "invoice.created", full, unpaid))
        if i["_paid"] is not None:
            unshipped = {"shipped": False, "shipping_details": None}
            acc.events.append((i["_paid"], "invoice.paid", full, unshipped))
    for e in acc.emails:
        rows.append(row(token, "captured_email", e["id"], e["created"], {**e, "space": None},
                        space=e["space"]))  # fmt: skip
        snapshot = {**e, "space": spaces[e["space"]]}
        acc.events.append((e["created"], "captured_email.created", snapshot, {}))
    return rows


def _event_rows(rng: random.Random, acc: _Acc) -> list[RowValues]:
    """Events in creation order; every third one spells the customer id ``token``."""
    rows: list[RowValues] = []
    ordered = sorted(enumerate(acc.events), key=lambda p: (p[1][0], p[0]))
    for ordinal, (_, (created, type_, obj, overrides)) in enumerate(ordered, start=1):
        snapshot: Json = {**obj, **overrides}
        if quirky_event(ordinal):
            snapshot = rename_customer_id(snapshot)
        event_id = new_id(rng, "event")
        event = {"object": "event", "id": event_id, "created": created, "type": type_,
                 "data": {"object": snapshot}}  # fmt: skip
        rows.append(row(acc.plan.token, "event", event_id, created, event, type=type_))
    return rows


def _webhook_rows(rng: random.Random, acc: _Acc, events: list[RowValues]) -> list[RowValues]:
    """Historical deliveries of some events to made-up (never contacted) URLs."""
    hooks: list[RowValues] = []
    picked = sorted(rng.sample(range(len(events)), acc.plan.webhooks))
    for index in picked:
        _, _, event_id, event_created, _, _, _, type_, _, _ = events[index]
        hook_id = new_id(rng, "webhook")
        created = event_created + rng.randint(1, 5)
        hook = {"object": "webhook", "id": hook_id, "created": created,
                "url": rng.choice(data.HOOK_URLS), "event": None,
                # every account shows at least one undelivered webhook (the newest of its sample)
                "pending": rng.random() < 0.15 or index == max(picked)}  # fmt: skip
        hooks.append(row(acc.plan.token, "webhook", hook_id, created, hook, ref=event_id,
                         type=type_))  # fmt: skip
    return sorted(hooks, key=lambda h: h[3])


def seeded_counts(rows: list[RowValues]) -> dict[str, dict[str, int]]:
    """Objects per account and kind, for reports and tests."""
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        per = counts.setdefault(r[0], {})
        per[r[1]] = per.get(r[1], 0) + 1
    return counts
