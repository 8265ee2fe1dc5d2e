"""Turning IDs (global, or the upstream's own) into nodes.

Which graph type wraps which declared resource (``resolvers/resources.py``) is
:data:`NODE_BINDINGS`, checked at import: a declared resource without a graph
type, a graph type bound to no declared resource, or a graph type whose
GraphQL name is not its resource's ``node`` stops the import (and so every
test). ``node(id:)``/``nodes(ids:)`` dispatch through it, and the key shape of
each global ID follows its resource's ``identity``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
from resolvers import resources as res
from resolvers.client import valid_upstream_id
from resolvers.errors import BadUserInput
from resolvers.resources import BY_KIND, BY_NODE, Identity, Resource

R = TypeVar("R")
K = TypeVar("K")
N = TypeVar("N", bound=Node)

MAX_NODES = 100
#: Longest ID argument accepted (global or upstream): a global ID of a subscription
#: with 128-character IDs is under 360 characters, but real ones are ~30.
MAX_ID_LENGTH = 512
#: The longest integer ID (upstream integers are 64-bit).
_MAX_INTEGER_DIGITS = 18

#: A parsed node key: the type's name and what its loader takes.
NodeKey = tuple[str, object]


@dataclass(frozen=True, slots=True)
class NodeBinding(Generic[R, K]):
    """A declared resource and the graph type that wraps its records."""

    resource: Resource[R, K]
    wrapper: type[Node]
    wrap: Callable[[R], Node]


def bind(resource: Resource[R, K], wrapper: type[N], wrap: Callable[[R], N]) -> NodeBinding[R, K]:
    """Bind ``resource`` to ``wrapper`` (``wrap`` must take its record and make a ``wrapper``)."""
    return NodeBinding(resource, wrapper, wrap)


#: kind -> its graph type, for every declared resource (and nothing else).
NODE_BINDINGS: Mapping[str, NodeBinding[Any, Any]] = {
    b.resource.kind: b
    for b in (
        bind(res.SPACE, Space, Space.from_record),
        bind(res.CUSTOMER, Customer, Customer.from_record),
        bind(res.SUBSCRIPTION, Subscription, Subscription.from_record),
        bind(res.INVOICE, Invoice, Invoice.from_record),
        bind(res.CAPTURED_EMAIL, CapturedEmail, CapturedEmail.from_record),
        bind(res.EVENT, Event, Event.from_record),
        bind(res.WEBHOOK, Webhook, Webhook.from_record),
        bind(res.RESOURCE_SUBSCRIPTION, ResourceSubscription, ResourceSubscription.from_record),
    )
}


def binding_problems(bindings: Mapping[str, NodeBinding[Any, Any]] = NODE_BINDINGS) -> list[str]:
    """What does not match between the declared resources and their graph types."""
    problems = [f"resource {k!r} has no graph type" for k in BY_KIND if k not in bindings]
    problems += [f"graph type for undeclared kind {k!r}" for k in bindings if k not in BY_KIND]
    for kind, binding in bindings.items():
        definition = getattr(binding.wrapper, "__strawberry_definition__", None)
        name = getattr(definition, "name", None)
        if binding.resource is not BY_KIND.get(kind) or name != binding.resource.node:
            problems.append(f"{kind!r} is bound to GraphQL type {name!r}")
        if not issubclass(binding.wrapper, Node):
            problems.append(f"{kind!r}'s graph type does not implement Node")
    return problems


if _problems := binding_problems():
    raise TypeError("graph/lookup.py: " + "; ".join(_problems))

#: node (GraphQL type name) -> its binding: what a global ID dispatches on.
_BY_NODE: Mapping[str, NodeBinding[Any, Any]] = {b.resource.node: b for b in NODE_BINDINGS.values()}


def _invalid(argument: str, what: str = "ID") -> BadUserInput:
    # The message names the argument, never the value: IDs are caller text.
    return BadUserInput(f"`{argument}` is not a valid {what}", argument=argument)


def _checked(key: str, argument: str) -> str:
    # isprintable(): see upstream_key.
    if not (valid_upstream_id(key) and key.isprintable()):
        raise _invalid(argument)
    return key


def _integer_id(key: str, argument: str, type_name: str) -> int:
    # isascii(): str.isdigit() and int() also take "³" (then fail) and "٣" (Space 3).
    if not (key.isascii() and key.isdigit()) or len(key) > _MAX_INTEGER_DIGITS:
        raise _invalid(argument, f"{type_name} ID")
    return int(key)


def loader_key(resource: Resource[Any, Any], key: str, argument: str) -> object:
    """The loader key of ``resource`` behind a global ID's ``key`` (its identity's shape)."""
    identity = resource.identity
    if identity is Identity.INTEGER:
        return _integer_id(key, argument, resource.node)
    if identity is Identity.TOKEN_IN_PARENT:
        parent_key, _, token = key.partition("/")
        return (_checked(parent_key, argument), _checked(token, argument))
    return _checked(key, argument)


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
    return type_name, loader_key(BY_NODE[type_name], key, argument)


def space_key(value: str, argument: str = "id") -> int | str:
    """``space(id:)``'s key: the upstream integer ID (from a global or a raw ID), or a
    Space's name (the last path segment of its public URL); raises ``BadUserInput``.

    Digits are an ID, never a name; a name is shaped like an upstream ID (a URL slug).
    """
    node = res.SPACE.node
    key = upstream_key(value, node, argument)
    if (key.isascii() and key.isdigit()) or from_global_id(value) is not None:
        return _integer_id(key, argument, node)
    if not (valid_upstream_id(key) and key.isprintable()):
        raise _invalid(argument, f"{node} ID")
    return key


def customer_key(value: str, argument: str = "id") -> str:
    """``customer(id:)``'s upstream ID (from a global or a raw ID); raises ``BadUserInput``."""
    return _checked(upstream_key(value, res.CUSTOMER.node, argument), argument)


def invoice_key(value: str, argument: str = "id") -> str:
    """``invoice(id:)``'s upstream ID (from a global or a raw ID); raises ``BadUserInput``."""
    return _checked(upstream_key(value, res.INVOICE.node, argument), argument)


async def resolve_node(info: Info, value: str, argument: str = "id") -> Node | None:
    """The node behind a global ID; ``None`` when the upstream does not know it."""
    type_name, parsed = node_key(value, argument)
    binding = _BY_NODE[type_name]
    record = await info.context.loaders.of(binding.resource).get(parsed)
    return None if record is None else binding.wrap(record)


async def space_by_any_id(info: Info, value: str) -> Space | None:
    """``space(id:)``: a global ID, the upstream's integer ID, or the Space's name."""
    key = space_key(value)
    loaders = info.context.loaders
    space = await (loaders.space.get(key) if isinstance(key, int) else loaders.space_named(key))
    return None if space is None else Space.from_record(space)


async def customer_by_any_id(info: Info, value: str) -> Customer | None:
    """``customer(id:)``: a global ID or the upstream's customer ID."""
    customer = await info.context.loaders.customer.get(customer_key(value))
    return None if customer is None else Customer.from_record(customer)


async def invoice_by_any_id(info: Info, value: str) -> Invoice | None:
    """``invoice(id:)``: a global ID or the upstream's invoice ID."""
    invoice = await info.context.loaders.invoice.get(invoice_key(value))
    return None if invoice is None else Invoice.from_record(invoice)
