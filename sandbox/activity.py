"""``POST /_sandbox/activity``: act like a Spaces end user and emit the event."""

from __future__ import annotations

import time

from sandbox import data
from sandbox.errors import ApiError
from sandbox.fakes import address, invoice_item, line_item, person_email
from sandbox.model import EVENT_TYPES, Json, new_id
from sandbox.state import SandboxState
from sandbox.store import row


def _space_ids(state: SandboxState, account: str) -> list[int]:
    return [int(i) for i in state.store.ids(account, "space")]


def _currency(state: SandboxState, account: str, space_id: int) -> str:
    # A Space's currency is that of its existing objects; an empty Space uses EUR.
    for kind in ("subscription", "invoice"):
        ids = state.store.ids(account, kind, "space=?", [space_id])
        if ids:
            body = state.store.raw(account, kind, ids[-1])
            if body is not None:
                return str(body["currency"])
    return "EUR"


def _pick_customer(state: SandboxState, account: str) -> Json:
    ids = state.store.ids(account, "customer")
    if not ids:
        return new_customer(state, account)[0]
    customer = state.store.get(account, "customer", state.rng.choice(ids))
    assert customer is not None
    return customer


def new_customer(state: SandboxState, account: str) -> tuple[Json, Json]:
    rng, now = state.rng, int(time.time())
    space_id = rng.choice(_space_ids(state, account))
    first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)
    body: Json = {
        "object": "customer",
        "id": new_id(rng, "customer"),
        "name": f"{first} {last}",
        "email": person_email(rng, first, last),
        "created": now,
        "space": None,
    }
    state.store.insert([row(account, "customer", body["id"], now, body, space=space_id)])
    customer = state.store.get(account, "customer", body["id"])
    assert customer is not None
    return customer, state.emit(account, "customer.created", customer)


def new_captured_email(state: SandboxState, account: str) -> tuple[Json, Json]:
    rng, now = state.rng, int(time.time())
    space_id = rng.choice(_space_ids(state, account))
    first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)
    body: Json = {
        "object": "captured_email",
        "id": new_id(rng, "captured_email"),
        "email": person_email(rng, first, last),
        "created": now,
        "space": None,
    }
    state.store.insert([row(account, "captured_email", body["id"], now, body, space=space_id)])
    email = state.store.get(account, "captured_email", body["id"])
    assert email is not None
    return email, state.emit(account, "captured_email.created", email)


def new_subscription(state: SandboxState, account: str) -> tuple[Json, Json]:
    rng, now = state.rng, int(time.time())
    customer = _pick_customer(state, account)
    space_id = int(customer["space"]["id"])
    currency = _currency(state, account, space_id)
    items = [line_item(rng, currency) for _ in range(rng.randint(1, 3))]
    body: Json = {
        "object": "subscription",
        "token": new_id(rng, "subscription"),
        "serial_number": state.store.next_num(account, "subscription", space_id),
        "created": now,
        "status": "active",
        "items": {"object": "list", "data": items, "count": len(items)},
        "total": sum(i["total_amount"] for i in items),
        "currency": currency,
        "customer": None,
    }
    state.store.insert(
        [
            row(
                account,
                "subscription",
                body["token"],
                now,
                body,
                space=space_id,
                customer=customer["id"],
                num=body["serial_number"],
            )
        ]
    )
    sub = state.store.get(account, "subscription", body["token"], customer=customer["id"])
    assert sub is not None
    return sub, state.emit(account, "subscription.created", sub)


def new_invoice(state: SandboxState, account: str) -> tuple[Json, Json]:
    """A new unpaid invoice, billing one of the customer's active subscriptions if any."""
    rng, now = state.rng, int(time.time())
    customer = _pick_customer(state, account)
    space_id = int(customer["space"]["id"])
    active = state.store.ids(
        account,
        "subscription",
        "customer=? AND json_extract(body, '$.status')='active'",
        [customer["id"]],
    )
    sub = (
        state.store.raw(account, "subscription", rng.choice(active), customer["id"])
        if active
        else None
    )
    if sub is not None:
        currency = str(sub["currency"])
        items = [invoice_item(i, currency, now, now + 30 * 86_400) for i in sub["items"]["data"]]
    else:
        currency = _currency(state, account, space_id)
        items = [
            invoice_item(line_item(rng, currency), currency, None, None)
            for _ in range(rng.randint(1, 4))
        ]
    home = address(rng)
    body: Json = {
        "object": "invoice",
        "id": new_id(rng, "invoice"),
        "created": now,
        "order_number": state.store.next_num(account, "invoice", space_id),
        "billing_address": home,
        "shipping_address": rng.choice((None, home)),
        "paid": False,
        "shipped": False,
        "shipping_details": None,
        "total": sum(i["total_amount"] for i in items),
        "currency": currency,
        "items": {"object": "list", "data": items, "count": len(items)},
        "customer": None,
        "subscription": sub["token"] if sub else None,
    }
    state.store.insert(
        [
            row(
                account,
                "invoice",
                body["id"],
                now,
                body,
                space=space_id,
                customer=customer["id"],
                ref=body["subscription"],
                num=body["order_number"],
            )
        ]
    )
    invoice = state.store.get(account, "invoice", body["id"])
    assert invoice is not None
    return invoice, state.emit(account, "invoice.created", invoice)


def pay_some_invoice(state: SandboxState, account: str) -> tuple[Json, Json]:
    unpaid = state.store.ids(account, "invoice", "json_extract(body, '$.paid')=0")
    invoice_id = state.rng.choice(unpaid) if unpaid else new_invoice(state, account)[0]["id"]
    return state.pay_invoice(account, invoice_id)


def cancel_some_subscription(state: SandboxState, account: str) -> tuple[Json, Json]:
    active = state.store.ids(account, "subscription", "json_extract(body, '$.status')='active'")
    if active:
        sub = state.store.get(account, "subscription", state.rng.choice(active))
        assert sub is not None
    else:
        sub = new_subscription(state, account)[0]
    return state.cancel_subscription(account, str(sub["customer"]["id"]), str(sub["token"]))


ACTIONS = {
    "customer.created": new_customer,
    "captured_email.created": new_captured_email,
    "subscription.created": new_subscription,
    "invoice.created": new_invoice,
    "invoice.paid": pay_some_invoice,
    "subscription.cancelled": cancel_some_subscription,
}
assert set(ACTIONS) == set(EVENT_TYPES)


def perform(state: SandboxState, account: str, type_: object) -> Json:
    """Perform the end-user action that produces an event of ``type_``; return the event."""
    if not isinstance(type_, str) or type_ not in ACTIONS:
        raise ApiError(400, f"type must be one of: {', '.join(EVENT_TYPES)}")
    with state.store.lock:
        return ACTIONS[type_](state, account)[1]
