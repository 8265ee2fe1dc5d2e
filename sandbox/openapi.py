"""The hand-written OpenAPI 3.1 description served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from sandbox.model import EVENT_TYPES

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(kind: str | None, props: Json, nullable: tuple[str, ...] = ()) -> Json:
    """An object schema whose properties are all required (nullable ones may be null)."""
    properties = dict(props)
    for name in nullable:
        properties[name] = {"anyOf": [properties[name], {"type": "null"}]}
    if kind is not None:
        properties = {"object": {"const": kind}, **properties}
    return {"type": "object", "required": list(properties), "properties": properties}


STR: Json = {"type": "string"}
INT: Json = {"type": "integer"}
BOOL: Json = {"type": "boolean"}
TIME: Json = {"type": "integer", "description": "Unix seconds"}
AMOUNT: Json = {"type": "integer", "description": "minor units (1200 = 12.00)"}
CURRENCY: Json = {"type": "string", "description": "ISO 4217 code such as USD"}
ITEM_ID: Json = {
    "type": ["string", "integer"],
    "description": "opaque: sometimes a string, sometimes an integer",
}

_ITEM = {
    "item_id": ITEM_ID,
    "description": {"type": ["string", "null"]},
    "quantity": INT,
    "discount": AMOUNT,
    "unit_amount": AMOUNT,
    "total_amount": AMOUNT,
}


def _items(item: str) -> Json:
    return _obj("list", {"data": {"type": "array", "items": _ref(item)}, "count": INT})


SCHEMAS: Json = {
    "Error": {"type": "object", "required": ["message"], "properties": {"message": STR}},
    "Account": _obj(
        "account",
        {"created": TIME, "name": STR, "email": STR, "avatar_image_url": STR, "referral_code": STR},
        ("avatar_image_url",),
    ),
    "Space": _obj("space", {"id": INT, "created": TIME, "url": STR}, ("url",)),
    "Customer": _obj(
        "customer", {"id": STR, "name": STR, "email": STR, "created": TIME, "space": _ref("Space")}
    ),
    "SubscriptionItem": _obj("subscription_item", _ITEM),
    "Subscription": _obj(
        "subscription",
        {
            "token": {"type": "string", "description": "unique within its customer"},
            "serial_number": INT,
            "created": TIME,
            "status": {"enum": ["active", "cancelled"]},
            "items": _items("SubscriptionItem"),
            "total": AMOUNT,
            "currency": CURRENCY,
            "customer": _ref("Customer"),
        },
    ),
    "Address": _obj(
        "address",
        {
            "line_1": STR,
            "line_2": STR,
            "line_3": STR,
            "zip_code": STR,
            "locality": STR,
            "region": STR,
            "country": {"type": "string", "description": "ISO 3166 alpha-2"},
        },
        ("line_2", "line_3", "region"),
    ),
    "InvoiceItem": _obj(
        "invoice_item",
        {**_ITEM, "currency": CURRENCY, "date_range_start": TIME, "date_range_end": TIME},
        ("date_range_start", "date_range_end"),
    ),
    "Invoice": _obj(
        "invoice",
        {
            "id": STR,
            "created": TIME,
            "order_number": INT,
            "billing_address": _ref("Address"),
            "shipping_address": _ref("Address"),
            "paid": BOOL,
            "shipped": BOOL,
            "shipping_details": STR,
            "total": AMOUNT,
            "currency": CURRENCY,
            "items": _items("InvoiceItem"),
            "customer": _ref("Customer"),
            "subscription": {"type": "string", "description": "token of the billed subscription"},
        },
        ("billing_address", "shipping_address", "shipping_details", "subscription"),
    ),
    "CapturedEmail": _obj(
        "captured_email", {"id": STR, "email": STR, "created": TIME, "space": _ref("Space")}
    ),
    "EventType": {"enum": list(EVENT_TYPES)},
    "Event": _obj(
        "event",
        {
            "id": STR,
            "created": TIME,
            "type": _ref("EventType"),
            "data": {
                "type": "object",
                "required": ["object"],
                "properties": {
                    "object": {
                        "description": "snapshot of the resource at event time; its customer identity is "
                        "sometimes spelled `token` instead of `id`",
                        "anyOf": [
                            _ref("Customer"),
                            _ref("Invoice"),
                            _ref("Subscription"),
                            _ref("CapturedEmail"),
                            {"type": "object"},
                        ],
                    }
                },
            },
        },
    ),
    "Webhook": _obj(
        "webhook", {"id": STR, "created": TIME, "url": STR, "event": _ref("Event"), "pending": BOOL}
    ),
    "ResourceSubscription": _obj(
        "resource_subscription",
        {
            "id": STR,
            "event": _ref("EventType"),
            "target_url": STR,
            "api_version": STR,
            "created": TIME,
        },
        ("api_version",),
    ),
    "ResourceSubscriptionInput": {
        "type": "object",
        "required": ["event", "target_url"],
        "properties": {
            "event": _ref("EventType"),
            "target_url": {"type": "string", "format": "uri"},
            "api_version": STR,
        },
    },
}
SCHEMAS["DeletedResourceSubscription"] = {
    "allOf": [
        _ref("ResourceSubscription"),
        {"type": "object", "required": ["deleted"], "properties": {"deleted": {"const": True}}},
    ]
}


def _param(name: str, where: str, description: str, schema: Json | None = None) -> Json:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or STR,
    }


PAGING = [
    _param(
        "limit",
        "query",
        "1..100, default 20",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    ),
    _param(
        "starting_after", "query", "an object ID of this list: the objects after (older than) it"
    ),
    _param(
        "starting_before", "query", "an object ID of this list: the objects before (newer than) it"
    ),
]
IDS = _param(
    "ids",
    "query",
    "optional capability: comma-separated IDs (up to 100) fetched in one "
    "request; unknown IDs are omitted, paging arguments ignored",
)
MULTI_CUSTOMER = _param(
    "customer",
    "query",
    "customer ID; a comma-separated list when the multi-value filter capability is on",
)
ERRORS = {
    str(code): {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
    for code, text in (
        (400, "missing or invalid parameter"),
        (401, "no valid access token"),
        (404, "not found"),
        (500, "server error"),
    )
}


def _ok(schema: Json, description: str = "OK") -> Json:
    return {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}},
        "304": {"description": "Not Modified (If-None-Match matched the ETag)"},
        **ERRORS,
    }


def _list(item: str) -> Json:
    return _obj(
        "list",
        {
            "url": STR,
            "count": INT,
            "has_more": BOOL,
            "data": {"type": "array", "items": _ref(item)},
        },
    )


def _get(summary: str, schema: Json, params: list[Json] | None = None) -> Json:
    return {"get": {"summary": summary, "parameters": params or [], "responses": _ok(schema)}}


def _path_id(name: str = "id", description: str = "object ID") -> Json:
    return _param(name, "path", description)


PATHS: Json = {
    "/account": _get("The authenticated account", _ref("Account")),
    "/spaces": _get("List Spaces", _list("Space"), PAGING),
    "/spaces/{id}": _get("Retrieve a Space", _ref("Space"), [_path_id("id", "integer Space id")]),
    "/customers": _get(
        "List customers",
        _list("Customer"),
        [*PAGING, _param("space", "query", "Space id", INT), IDS],
    ),
    "/customers/{id}": _get("Retrieve a customer", _ref("Customer"), [_path_id()]),
    "/customers/{id}/subscriptions": _get(
        "List a customer's subscriptions", _list("Subscription"), [_path_id(), *PAGING]
    ),
    "/customers/{id}/subscriptions/{token}": {
        **_get(
            "Retrieve a subscription",
            _ref("Subscription"),
            [_path_id(), _path_id("token", "subscription token")],
        ),
        "delete": {
            "summary": "Cancel a subscription (emits subscription.cancelled)",
            "parameters": [_path_id(), _path_id("token", "subscription token")],
            "responses": _ok(_ref("Subscription"), "the cancelled subscription"),
        },
    },
    "/subscriptions": _get("List subscriptions", _list("Subscription"), [*PAGING, MULTI_CUSTOMER]),
    "/invoices": _get(
        "List invoices",
        _list("Invoice"),
        [
            *PAGING,
            MULTI_CUSTOMER,
            _param("subscription", "query", "subscription token (requires a single customer)"),
            IDS,
        ],
    ),
    "/invoices/{id}": _get("Retrieve an invoice", _ref("Invoice"), [_path_id()]),
    "/invoices/{id}/pay": {
        "post": {
            "summary": "Pay an invoice (emits invoice.paid)",
            "parameters": [_path_id()],
            "responses": _ok(_ref("Invoice"), "the paid invoice"),
        }
    },
    "/captured_emails": _get(
        "List captured e-mails",
        _list("CapturedEmail"),
        [*PAGING, _param("space", "query", "Space id", INT)],
    ),
    "/events": _get(
        "List events",
        _list("Event"),
        [*PAGING, _param("type", "query", "an event type or a comma-separated list of them")],
    ),
    "/webhooks": _get("List webhooks (deliveries of events)", _list("Webhook"), PAGING),
    "/resource_subscriptions": {
        **_get("List REST Hooks subscriptions", _list("ResourceSubscription"), PAGING),
        "post": {
            "summary": "Subscribe a target URL to an event type (REST Hooks)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("ResourceSubscriptionInput")},
                    "application/x-www-form-urlencoded": {
                        "schema": _ref("ResourceSubscriptionInput")
                    },
                },
            },
            "responses": _ok(_ref("ResourceSubscription")),
        },
    },
    "/resource_subscriptions/{id}": {
        "delete": {
            "summary": "Unsubscribe a REST Hook",
            "parameters": [_path_id()],
            "responses": _ok(_ref("DeletedResourceSubscription"), "the deleted object"),
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    },
}


def openapi_document() -> Json:
    """The OpenAPI 3.1 description of the sandbox's ``/api/v1``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Spaces REST API (sandbox)",
            "version": "1",
            "description": "Spaces-compatible REST API. Lists are newest first with cursor "
            "paging; responses carry a strong ETag unless disabled.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"basicAuth": []}],
        "components": {
            "securitySchemes": {
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "access token as username, empty password",
                }
            },
            "schemas": SCHEMAS,
        },
        "paths": PATHS,
    }
