"""The ``/api/v1`` endpoints: argument parsing and answers (routing lives in ``app``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from starlette.datastructures import QueryParams
from starlette.requests import Request

from sandbox.errors import ApiError
from sandbox.model import EVENT_TYPES, Json
from sandbox.openapi import openapi_document
from sandbox.state import SandboxState
from sandbox.store import Filter

MAX_LIMIT = 100
MAX_IDS = 100


@dataclass
class Call:
    """One authenticated API call, as handlers see it."""

    state: SandboxState
    request: Request
    account: str
    params: dict[str, str]

    @property
    def query(self) -> QueryParams:
        return self.request.query_params


Handler = Callable[[Call], Awaitable[Json]]


# -- arguments ---------------------------------------------------------------------------


def _arg(query: QueryParams, name: str) -> str | None:
    """A query argument; an empty value counts as absent (``?starting_after=``)."""
    value = query.get(name)
    return value if value else None


def page_args(query: QueryParams) -> tuple[int, str | None, str | None]:
    raw = query.get("limit")
    limit = 20
    if raw is not None:
        if not (raw.strip().isascii() and raw.strip().isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            raise ApiError(400, f"limit must be an integer between 1 and {MAX_LIMIT}, got {raw!r}")
        limit = int(raw)
    after, before = _arg(query, "starting_after"), _arg(query, "starting_before")
    if after is not None and before is not None:
        raise ApiError(400, "starting_after and starting_before cannot be used together")
    return limit, after, before


def _values(call: Call, name: str, *, multi: bool) -> tuple[str, ...] | None:
    """A comma-separated filter argument, or None when absent."""
    raw = call.query.get(name)
    if raw is None:
        return None
    values = tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
    if not values:
        raise ApiError(400, f"{name} must not be empty")
    if len(values) > 1 and not multi:
        raise ApiError(400, f"multi-value filters not supported ({name})")
    if len(values) > MAX_IDS:
        raise ApiError(400, f"{name} accepts at most {MAX_IDS} values")
    return values


def _space_filter(call: Call) -> list[Filter]:
    raw = call.query.get("space")
    if raw is None:
        return []
    if not (raw.strip().isascii() and raw.strip().isdigit()):
        raise ApiError(400, f"space must be an integer Space id, got {raw!r}")
    return [Filter("space", (int(raw),))]


def _customer_filter(call: Call) -> list[Filter]:
    customers = _values(call, "customer", multi=call.state.config.multi_filters)
    return [] if customers is None else [Filter("customer", customers)]


def _envelope(call: Call, data: list[Json], has_more: bool) -> Json:
    return {
        "object": "list",
        "url": call.request.url.path,
        "count": len(data),
        "has_more": has_more,
        "data": data,
    }


def _list(call: Call, kind: str, filters: list[Filter], *, batch: bool = False) -> Json:
    limit, after, before = page_args(call.query)
    if batch and call.state.config.batch_ids and "ids" in call.query:
        ids = _values(call, "ids", multi=True)
        assert ids is not None
        return _envelope(call, call.state.store.batch(call.account, kind, ids, filters), False)
    data, has_more = call.state.store.page(call.account, kind, filters, limit, after, before)
    return _envelope(call, data, has_more)


def _found(obj: Json | None, what: str, id: str) -> Json:
    if obj is None:
        raise ApiError(404, f"No such {what}: {id}")
    return obj


# -- handlers ----------------------------------------------------------------------------


async def get_account(call: Call) -> Json:
    return _found(call.state.store.account(call.account), "account", "")


async def list_spaces(call: Call) -> Json:
    return _list(call, "space", [])


async def get_space(call: Call) -> Json:
    raw = call.params["id"]
    space = (
        call.state.store.get(call.account, "space", str(int(raw)))
        if raw.isascii() and raw.isdigit()
        else None
    )
    return _found(space, "space", raw)


async def list_customers(call: Call) -> Json:
    return _list(call, "customer", _space_filter(call), batch=True)


async def get_customer(call: Call) -> Json:
    return _found(
        call.state.store.get(call.account, "customer", call.params["id"]),
        "customer",
        call.params["id"],
    )


async def list_customer_subscriptions(call: Call) -> Json:
    await get_customer(call)
    return _list(call, "subscription", [Filter("customer", (call.params["id"],))])


async def get_customer_subscription(call: Call) -> Json:
    await get_customer(call)
    token = call.params["token"]
    sub = call.state.store.get(call.account, "subscription", token, customer=call.params["id"])
    return _found(sub, "subscription", token)


async def cancel_customer_subscription(call: Call) -> Json:
    return call.state.cancel_subscription(call.account, call.params["id"], call.params["token"])[0]


async def list_subscriptions(call: Call) -> Json:
    return _list(call, "subscription", _customer_filter(call))


async def list_invoices(call: Call) -> Json:
    filters = _customer_filter(call)
    subscription = _values(call, "subscription", multi=False)
    if subscription is not None:
        if not filters or len(filters[0].values) != 1:
            raise ApiError(400, "the subscription filter requires a single customer filter")
        filters.append(Filter("ref", subscription))
    return _list(call, "invoice", filters, batch=True)


async def get_invoice(call: Call) -> Json:
    return _found(
        call.state.store.get(call.account, "invoice", call.params["id"]),
        "invoice",
        call.params["id"],
    )


async def pay_invoice(call: Call) -> Json:
    return call.state.pay_invoice(call.account, call.params["id"])[0]


async def list_captured_emails(call: Call) -> Json:
    return _list(call, "captured_email", _space_filter(call))


async def list_events(call: Call) -> Json:
    types = _values(call, "type", multi=True)
    if types is not None:
        unknown = [t for t in types if t not in EVENT_TYPES]
        if unknown:
            raise ApiError(
                400, f"unknown event type {unknown[0]!r}; one of {', '.join(EVENT_TYPES)}"
            )
    return _list(call, "event", [] if types is None else [Filter("type", types)])


async def list_webhooks(call: Call) -> Json:
    return _list(call, "webhook", [])


async def list_resource_subscriptions(call: Call) -> Json:
    return _list(call, "resource_subscription", [])


async def read_body(request: Request) -> dict[str, object]:
    """A JSON object or form-encoded body, as a dict."""
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return body
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _absolute_http_url(value: str) -> bool:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        return False
    return url.scheme in ("http", "https") and bool(url.host)


async def create_resource_subscription(call: Call) -> Json:
    body = await read_body(call.request)
    event, target_url, api_version = (
        body.get("event"),
        body.get("target_url"),
        body.get("api_version"),
    )
    if event in (None, ""):
        raise ApiError(400, "event is required")
    if event not in EVENT_TYPES:
        raise ApiError(400, f"event must be one of {', '.join(EVENT_TYPES)}; got {event!r}")
    if target_url in (None, ""):
        raise ApiError(400, "target_url is required")
    if not isinstance(target_url, str) or not _absolute_http_url(target_url):
        raise ApiError(400, f"target_url must be an absolute http(s) URL; got {target_url!r}")
    if api_version is not None and not isinstance(api_version, str):
        raise ApiError(400, "api_version must be a string")
    assert isinstance(event, str)
    return call.state.create_resource_subscription(
        call.account, event, target_url, api_version or None
    )


async def delete_resource_subscription(call: Call) -> Json:
    return call.state.delete_resource_subscription(call.account, call.params["id"])


async def get_openapi(call: Call) -> Json:
    return openapi_document()


# (method, template under /api/v1, handler, public)
ROUTES: list[tuple[str, str, Handler, bool]] = [
    ("GET", "/openapi.json", get_openapi, True),
    ("GET", "/account", get_account, False),
    ("GET", "/spaces", list_spaces, False),
    ("GET", "/spaces/{id}", get_space, False),
    ("GET", "/customers", list_customers, False),
    ("GET", "/customers/{id}", get_customer, False),
    ("GET", "/customers/{id}/subscriptions", list_customer_subscriptions, False),
    ("GET", "/customers/{id}/subscriptions/{token}", get_customer_subscription, False),
    ("DELETE", "/customers/{id}/subscriptions/{token}", cancel_customer_subscription, False),
    ("GET", "/subscriptions", list_subscriptions, False),
    ("GET", "/invoices", list_invoices, False),
    ("GET", "/invoices/{id}", get_invoice, False),
    ("POST", "/invoices/{id}/pay", pay_invoice, False),
    ("GET", "/captured_emails", list_captured_emails, False),
    ("GET", "/events", list_events, False),
    ("GET", "/webhooks", list_webhooks, False),
    ("GET", "/resource_subscriptions", list_resource_subscriptions, False),
    ("POST", "/resource_subscriptions", create_resource_subscription, False),
    ("DELETE", "/resource_subscriptions/{id}", delete_resource_subscription, False),
]
