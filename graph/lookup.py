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
#: Longest ID argument accepted (global or upstream): a global ID of a subscription
#: with 128-character IDs is under 360 characters, but real ones are ~30.
MAX_ID_LENGTH = 512
#: The longest integer Space ID (upstream integers are 64-bit).
_MAX_SPACE_DIGITS = 18

#: A parsed node key: the type's name and what its loader takes.
NodeKey = tuple[str, object]


def _invalid(argument: str, what: str = "ID") -> BadUserInput:
    # The message names the argument, never the value: IDs are caller text.
    return BadUserInput(f"`{argument}` is not a valid {what}", argument=argument)


def _checked(key: str, argument: str) -> str:
    # isprintable(): see upstream_key.
    if not (valid_upstream_id(key) and key.isprintable()):
        raise _invalid(argument)
    return key


def _space_id(key: str, argument: str) -> int:
    # isascii(): str.isdigit() and int() also take "³" (then fail) and "٣" (Space 3).
    if not (key.isascii() and key.isdigit()) or len(key) > _MAX_SPACE_DIGITS:
        raise _invalid(argument, "Space ID")
    return int(key)


def upstream_key(value: str, type_name: str, argument: str = "id") -> str:
    """The upstream key behind ``value``: a global ID of ``type_name`` or a raw upstream ID."""
    # isprintable(): a control character is never part of an ID (the upstream-ID pattern's
    # ``$`` lets a trailing newline through, and mutations check keys with that pattern).
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise _invalid(argument)
    decoded = from_global_id(value)
    if decoded is not None:
        if decoded[0] != type_name:
            raise BadUserInput(
                f"`{argument}` is the ID of a {decoded[0]}, not of a {type_name}",
                argument=argument,
            )
        return decoded[1]
    return value


def node_key(value: str, argument: str = "id") -> NodeKey:
    """``(type name, loader key)`` for a global ID; raises ``BadUserInput``.

    Pure: pre-flight (``spaces_graphql/arguments.py``) and :func:`resolve_node`
    judge IDs with this one function.
    """
    decoded = None if len(value) > MAX_ID_LENGTH else from_global_id(value)
    if decoded is None:
        raise _invalid(argument)
    type_name, key = decoded
    if type_name == "Space":
        return type_name, _space_id(key, argument)
    if type_name == "Subscription":
        customer_id, _, token = key.partition("/")
        return type_name, (_checked(customer_id, argument), _checked(token, argument))
    return type_name, _checked(key, argument)


def space_key(value: str, argument: str = "id") -> int:
    """``space(id:)``'s upstream integer ID (from a global or a raw ID); raises ``BadUserInput``."""
    return _space_id(upstream_key(value, "Space", argument), argument)


def customer_key(value: str, argument: str = "id") -> str:
    """``customer(id:)``'s upstream ID (from a global or a raw ID); raises ``BadUserInput``."""
    return _checked(upstream_key(value, "Customer", argument), argument)


def invoice_key(value: str, argument: str = "id") -> str:
    """``invoice(id:)``'s upstream ID (from a global or a raw ID); raises ``BadUserInput``."""
    return _checked(upstream_key(value, "Invoice", argument), argument)


async def resolve_node(info: Info, value: str, argument: str = "id") -> Node | None:
    """The node behind a global ID; ``None`` when the upstream does not know it."""
    type_name, parsed = node_key(value, argument)
    loaders = info.context.loaders
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
    space = await info.context.loaders.space.get(space_key(value))
    return None if space is None else Space.from_record(space)


async def customer_by_any_id(info: Info, value: str) -> Customer | None:
    """``customer(id:)``: a global ID or the upstream's customer ID."""
    customer = await info.context.loaders.customer.get(customer_key(value))
    return None if customer is None else Customer.from_record(customer)


async def invoice_by_any_id(info: Info, value: str) -> Invoice | None:
    """``invoice(id:)``: a global ID or the upstream's invoice ID."""
    invoice = await info.context.loaders.invoice.get(invoice_key(value))
    return None if invoice is None else Invoice.from_record(invoice)
