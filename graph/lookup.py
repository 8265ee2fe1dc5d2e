"""Turning IDs (global, or the upstream's own) into nodes."""

from __future__ import annotations

from typing import Any

from graph.captured_email import CapturedEmail
from graph.context import Info
from graph.customer import Customer
from graph.event import Event
from graph.invoice import Invoice
from graph.node import Node, from_global_id
from graph.resource_subscription import ResourceSubscription
from graph.space import Space
from graph.subscription import Subscription
from graph.webhook import Webhook
from resolvers.client import valid_upstream_id
from resolvers.errors import BadUserInput

MAX_NODES = 100


def _checked(key: str, argument: str) -> str:
    if not valid_upstream_id(key):
        raise BadUserInput(f"`{argument}` is not a valid ID", argument=argument)
    return key


def _space_id(key: str, argument: str) -> int:
    if not key.isdigit() or len(key) > 18:
        raise BadUserInput(f"`{argument}` is not a valid Space ID", argument=argument)
    return int(key)


def upstream_key(value: str, type_name: str, argument: str = "id") -> str:
    """The upstream key behind ``value``: a global ID of ``type_name`` or a raw upstream ID."""
    decoded = from_global_id(value)
    if decoded is not None:
        if decoded[0] != type_name:
            raise BadUserInput(
                f"`{argument}` is the ID of a {decoded[0]}, not of a {type_name}",
                argument=argument,
            )
        return decoded[1]
    return value


async def resolve_node(info: Info, value: str, argument: str = "id") -> Node | None:
    """The node behind a global ID; ``None`` when the upstream does not know it."""
    decoded = from_global_id(value)
    if decoded is None:
        raise BadUserInput(f"`{argument}` is not a valid ID", argument=argument)
    type_name, key = decoded
    loaders = info.context.loaders
    parsed: object
    if type_name == "Space":
        parsed = _space_id(key, argument)
    elif type_name == "Subscription":
        customer_id, _, token = key.partition("/")
        parsed = (_checked(customer_id, argument), _checked(token, argument))
    else:
        parsed = _checked(key, argument)
    loader, wrap = {
        "Space": (loaders.space, Space.from_record),
        "Customer": (loaders.customer, Customer.from_record),
        "Invoice": (loaders.invoice, Invoice.from_record),
        "Subscription": (loaders.subscription, Subscription.from_record),
        "Event": (loaders.event, Event.from_record),
        "Webhook": (loaders.webhook, Webhook.from_record),
        "CapturedEmail": (loaders.captured_email, CapturedEmail.from_record),
        "ResourceSubscription": (loaders.resource_subscription, ResourceSubscription.from_record),
    }[type_name]
    record: Any = await loader.get(parsed)  # type: ignore[attr-defined]
    node: Node | None = None if record is None else wrap(record)  # type: ignore[operator]
    return node


async def space_by_any_id(info: Info, value: str) -> Space | None:
    """``space(id:)``: a global ID or the upstream's integer ID."""
    space = await info.context.loaders.space.get(_space_id(upstream_key(value, "Space"), "id"))
    return None if space is None else Space.from_record(space)


async def customer_by_any_id(info: Info, value: str) -> Customer | None:
    """``customer(id:)``: a global ID or the upstream's customer ID."""
    key = _checked(upstream_key(value, "Customer"), "id")
    customer = await info.context.loaders.customer.get(key)
    return None if customer is None else Customer.from_record(customer)


async def invoice_by_any_id(info: Info, value: str) -> Invoice | None:
    """``invoice(id:)``: a global ID or the upstream's invoice ID."""
    key = _checked(upstream_key(value, "Invoice"), "id")
    invoice = await info.context.loaders.invoice.get(key)
    return None if invoice is None else Invoice.from_record(invoice)
