"""The ``/api/v1`` endpoints: argument parsing and answers (routing lives in ``app``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from starlette.datastructures import QueryParams
from starlette.requests import Request

from sandbox.errors import ApiError
from sandbox.front import url_path
from sandbox.model import EVENT_TYPES, Json
from sandbox.openapi import openapi_document
from sandbox.paging import Paging, query_window
from sandbox.state import SandboxState
from sandbox.store import Filter, Window

MAX_IDS = 100


@dataclass
class Call:
    """One authenticated API call, as handlers see it.

    ``paging`` is the dialect's reading of a list request; ``window`` is what it read
    (None unless the handler answered a stretch of a list), for the dialect's answer.
    """

    state: SandboxState
    request: Request
    account: str
    params: dict[str, str]
    paging: Paging = query_window
    window: Window | None = None

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    def page(self) -> Window:
        """The stretch of the list this request asks for (remembered as ``window``)."""
        self.window = self.paging(self.request)
        return self.window


Handler = Callable[[Call], Awaitable[Json]]


# -- arguments ---------------------------------------------------------------------------


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
        "url": url_path(call.request),
        "count": len(data),
        "has_more": has_more,
        "data": data,
    }


def _list(call: Call, kind: str, filters: list[Filter], *, batch: bool = False) -> Json:
    if batch and call.state.config.batch_ids and "ids" in call.query:
        call.paging(call.request)  # paging arguments are checked, then ignored
        ids = _values(call, "ids", multi=True)
        assert ids is not None
        return _envelope(call, call.state.store.batch(call.account, kind, ids, filters), False)
    data, has_more = call.state.store.page(call.account, kind, filters, call.page())
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


def _blank(value: object) -> bool:
    return value is None or value == ""


async def create_resource_subscription(call: Call) -> Json:
    body = await read_body(call.request)
    event, target_url, api_version = (
        body.get("event"),
        body.get("target_url"),
        body.get("api_version"),
    )
    # Every field's problems are collected (a dialect may answer them all); the message
    # is the first problem's, as the spaces dialect has always answered it.
    problems: list[tuple[str, str, str]] = []  # (field, message, the field's own message)
    if _blank(event):
        problems.append(("event", "event is required", "can't be blank"))
    elif event not in EVENT_TYPES:
        problems.append(
            (
                "event",
                f"event must be one of {', '.join(EVENT_TYPES)}; got {event!r}",
                f"is not one of {', '.join(EVENT_TYPES)}",
            )
        )
    if _blank(target_url):
        problems.append(("target_url", "target_url is required", "can't be blank"))
    elif not isinstance(target_url, str) or not _absolute_http_url(target_url):
        problems.append(
            (
                "target_url",
                f"target_url must be an absolute http(s) URL; got {target_url!r}",
                "is not an absolute http(s) URL",
            )
        )
    if api_version is not None and not isinstance(api_version, str):
        problems.append(("api_version", "api_version must be a string", "must be a string"))
    if problems:
        fields: dict[str, list[str]] = {}
        for name, _, own in problems:
            fields.setdefault(name, []).append(own)
        raise ApiError(400, problems[0][1], fields=fields)
    assert isinstance(event, str) and isinstance(target_url, str)
    assert api_version is None or isinstance(api_version, str)
    return call.state.create_resource_subscription(
        call.account, event, target_url, api_version or None
    )


async def delete_resource_subscription(call: Call) -> Json:
    return call.state.delete_resource_subscription(call.account, call.params["id"])


async def get_openapi(call: Call) -> Json:
    return openapi_document()


#: Routes whose success creates an object (a dialect may answer 201 Created).
CREATES = frozenset({"POST /resource_subscriptions"})

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
