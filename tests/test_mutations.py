"""Mutations against the sandbox: writes, userErrors, upstream failures, read-after-write."""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from graph.mutation import _field_named_by
from graph.node import to_global_id
from graph.user_error import ALREADY_CANCELLED, ALREADY_PAID, from_upstream
from resolvers import records as r
from resolvers.errors import NotFound, UpstreamRejected
from resolvers.targets import IPAddress
from spaces_graphql.settings import Settings
from tests.support import Harness, harness

PAY = """
mutation($id: ID!) {
  payInvoice(input: {id: $id}) {
    invoice { id invoiceId paid }
    userErrors { field message code }
  }
}
"""
CANCEL = """
mutation($id: ID!) {
  cancelSubscription(input: {id: $id}) {
    subscription { id token status customer { customerId } }
    userErrors { field message code }
  }
}
"""
CREATE = """
mutation($event: EventType!, $url: String!) {
  createResourceSubscription(input: {event: $event, targetUrl: $url}) {
    resourceSubscription { id event targetUrl createdAt }
    userErrors { field message code }
  }
}
"""
DELETE = """
mutation($id: ID!) {
  deleteResourceSubscription(input: {id: $id}) {
    deletedId
    userErrors { field message code }
  }
}
"""

PUBLIC_V4 = "93.184.216.34"


async def fake_resolver(host: str) -> Sequence[IPAddress]:
    if host == "hooks.example.com":
        return [ipaddress.ip_address(PUBLIC_V4)]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture
async def hr() -> AsyncIterator[Harness]:
    """The facade whose REST Hook targets resolve without DNS."""
    async with harness(resolve_host=fake_resolver) as ready:
        yield ready


# --- finding objects in the seeded sandbox -------------------------------------------


async def unpaid_invoices(h: Harness) -> list[dict[str, Any]]:
    return [i for i in await h.rest_all("invoices") if not i["paid"]]


async def active_subscriptions(h: Harness) -> list[r.SubscriptionRecord]:
    subs = [r.parse_subscription(s) for s in await h.rest_all("subscriptions")]
    return [s for s in subs if s.status == "active"]


def subscription_gid(sub: r.SubscriptionRecord) -> str:
    return to_global_id("Subscription", f"{sub.customer_id}/{sub.token}")


def one_error(payload: dict[str, Any]) -> dict[str, Any]:
    errors = payload["userErrors"]
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error


# --- payInvoice -------------------------------------------------------------------------


async def test_pay_invoice_by_global_id(h: Harness) -> None:
    invoice = (await unpaid_invoices(h))[0]
    h.upstream.reset()
    data = await h.data(PAY, {"id": to_global_id("Invoice", invoice["id"])})
    payload = data["payInvoice"]
    assert payload["userErrors"] == []
    assert payload["invoice"] == {
        "id": to_global_id("Invoice", invoice["id"]),
        "invoiceId": invoice["id"],
        "paid": True,
    }
    assert h.upstream.routes() == [f"POST invoices/{invoice['id']}/pay"]
    assert (await h.rest(f"invoices/{invoice['id']}"))["paid"] is True
    event = (await h.rest("events", type="invoice.paid", limit=1))["data"][0]
    assert event["data"]["object"]["id"] == invoice["id"]


async def test_pay_invoice_by_upstream_id(h: Harness) -> None:
    invoice = (await unpaid_invoices(h))[0]
    data = await h.data(PAY, {"id": invoice["id"]})
    assert data["payInvoice"]["invoice"]["paid"] is True
    assert (await h.rest(f"invoices/{invoice['id']}"))["paid"] is True


async def test_pay_invoice_twice_is_already_paid(h: Harness) -> None:
    invoice = (await unpaid_invoices(h))[0]
    await h.data(PAY, {"id": invoice["id"]})
    data = await h.data(PAY, {"id": invoice["id"]})
    assert data["payInvoice"]["invoice"] is None
    error = one_error(data["payInvoice"])
    assert error["code"] == "ALREADY_PAID"
    assert error["field"] == ["input", "id"]
    assert "already paid" in error["message"]


async def test_pay_unknown_invoice_is_not_found(h: Harness) -> None:
    data = await h.data(PAY, {"id": "in_doesnotexist000"})
    error = one_error(data["payInvoice"])
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "id"])
    assert h.upstream.routes() == ["POST invoices/in_doesnotexist000/pay"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "../../account",
        "in_1/pay",
        "in 1",
        to_global_id("Customer", "cus_1"),
        to_global_id("Invoice", "../x"),
    ],
)
async def test_pay_malformed_id_is_invalid_without_upstream_call(h: Harness, bad_id: str) -> None:
    data = await h.data(PAY, {"id": bad_id})
    error = one_error(data["payInvoice"])
    assert (error["code"], error["field"]) == ("INVALID", ["input", "id"])
    assert data["payInvoice"]["invoice"] is None
    assert h.upstream.calls == []


# --- cancelSubscription -----------------------------------------------------------------


async def test_cancel_subscription(h: Harness) -> None:
    sub = (await active_subscriptions(h))[0]
    h.upstream.reset()
    data = await h.data(CANCEL, {"id": subscription_gid(sub)})
    payload = data["cancelSubscription"]
    assert payload["userErrors"] == []
    assert payload["subscription"] == {
        "id": subscription_gid(sub),
        "token": sub.token,
        "status": "cancelled",
        "customer": {"customerId": sub.customer_id},
    }
    assert h.upstream.routes() == [f"DELETE customers/{sub.customer_id}/subscriptions/{sub.token}"]
    now = await h.rest(f"customers/{sub.customer_id}/subscriptions/{sub.token}")
    assert now["status"] == "cancelled"
    event = (await h.rest("events", type="subscription.cancelled", limit=1))["data"][0]
    assert event["data"]["object"]["token"] == sub.token


async def test_cancel_twice_is_already_cancelled(h: Harness) -> None:
    sub = (await active_subscriptions(h))[0]
    await h.data(CANCEL, {"id": subscription_gid(sub)})
    data = await h.data(CANCEL, {"id": subscription_gid(sub)})
    error = one_error(data["cancelSubscription"])
    assert (error["code"], error["field"]) == ("ALREADY_CANCELLED", ["input", "id"])
    assert data["cancelSubscription"]["subscription"] is None


async def test_cancel_unknown_subscription_is_not_found(h: Harness) -> None:
    sub = (await active_subscriptions(h))[0]
    for key in (f"{sub.customer_id}/sub_nope000000", f"cus_nope000000/{sub.token}"):
        data = await h.data(CANCEL, {"id": to_global_id("Subscription", key)})
        error = one_error(data["cancelSubscription"])
        assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "id"])


@pytest.mark.parametrize(
    "bad_id",
    [
        "sub_plain_token",  # a token alone does not say whose subscription it is
        to_global_id("Invoice", "in_1"),
        to_global_id("Subscription", "cus_1"),
        to_global_id("Subscription", "cus_1/../../x"),
        "not base64 !",
    ],
)
async def test_cancel_malformed_id_is_invalid_without_upstream_call(
    h: Harness, bad_id: str
) -> None:
    data = await h.data(CANCEL, {"id": bad_id})
    error = one_error(data["cancelSubscription"])
    assert (error["code"], error["field"]) == ("INVALID", ["input", "id"])
    assert h.upstream.calls == []


# --- createResourceSubscription / deleteResourceSubscription -----------------------------


async def test_create_resource_subscription(hr: Harness) -> None:
    data = await hr.data(CREATE, {"event": "INVOICE_PAID", "url": "https://hooks.example.com/in"})
    payload = data["createResourceSubscription"]
    assert payload["userErrors"] == []
    hook = payload["resourceSubscription"]
    assert (hook["event"], hook["targetUrl"]) == ("INVOICE_PAID", "https://hooks.example.com/in")
    assert hr.upstream.routes() == ["POST resource_subscriptions"]
    listed = (await hr.rest("resource_subscriptions"))["data"]
    assert [(x["event"], x["target_url"]) for x in listed] == [
        ("invoice.paid", "https://hooks.example.com/in")
    ]
    assert hook["id"] == to_global_id("ResourceSubscription", listed[0]["id"])


async def test_create_sends_the_normalised_url(hr: Harness) -> None:
    data = await hr.data(CREATE, {"event": "CUSTOMER_CREATED", "url": "HTTPS://134744072:8443/x"})
    assert data["createResourceSubscription"]["userErrors"] == []
    listed = (await hr.rest("resource_subscriptions"))["data"]
    assert listed[0]["target_url"] == "https://8.8.8.8:8443/x"


async def test_create_unsafe_target_costs_no_upstream_call(hr: Harness) -> None:
    data = await hr.data(CREATE, {"event": "INVOICE_PAID", "url": "https://169.254.169.254/"})
    payload = data["createResourceSubscription"]
    assert payload["resourceSubscription"] is None
    error = one_error(payload)
    assert (error["code"], error["field"]) == ("UNSAFE_TARGET", ["input", "targetUrl"])
    assert "link-local" in error["message"]
    assert hr.upstream.calls == []


async def test_create_bad_url_is_invalid(hr: Harness) -> None:
    for url in ("not a url", "/relative", "https://"):
        data = await hr.data(CREATE, {"event": "INVOICE_PAID", "url": url})
        error = one_error(data["createResourceSubscription"])
        assert (error["code"], error["field"]) == ("INVALID", ["input", "targetUrl"]), url
    assert hr.upstream.calls == []


async def test_create_bad_event_is_refused_before_any_upstream_call(hr: Harness) -> None:
    result = await hr.query(
        'mutation { createResourceSubscription(input: {event: NOT_A_TYPE, targetUrl: "https://hooks.example.com/"}) { userErrors { code } } }'
    )
    assert result["errors"] and "NOT_A_TYPE" in result["errors"][0]["message"]
    result = await hr.query(CREATE, {"event": "invoice.paid", "url": "https://hooks.example.com/"})
    assert result["errors"]
    assert hr.upstream.calls == []


async def test_upstream_refusal_of_a_new_hook_is_a_user_error(hr: Harness) -> None:
    hr.upstream.faults.append(("POST", "resource_subscriptions", 400))
    data = await hr.data(CREATE, {"event": "INVOICE_PAID", "url": "https://hooks.example.com/"})
    error = one_error(data["createResourceSubscription"])
    assert error == {"field": ["input"], "message": "injected fault", "code": "UPSTREAM_REJECTED"}
    assert len(hr.upstream.calls) == 1


async def test_delete_resource_subscription_by_global_and_upstream_id(hr: Harness) -> None:
    ids = []
    for _ in range(2):
        data = await hr.data(CREATE, {"event": "INVOICE_PAID", "url": "https://hooks.example.com/"})
        ids.append(data["createResourceSubscription"]["resourceSubscription"]["id"])
    upstream_ids = [x["id"] for x in (await hr.rest("resource_subscriptions"))["data"]]
    by_global, by_upstream = ids[0], next(u for u in upstream_ids if u not in ids[0])
    hr.upstream.reset()
    for value in (by_global, by_upstream):
        data = await hr.data(DELETE, {"id": value})
        payload = data["deleteResourceSubscription"]
        assert payload["userErrors"] == []
        assert payload["deletedId"] in ids
    assert [c.method for c in hr.upstream.calls] == ["DELETE", "DELETE"]
    assert (await hr.rest("resource_subscriptions"))["data"] == []
    data = await hr.data(DELETE, {"id": by_global})
    error = one_error(data["deleteResourceSubscription"])
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "id"])


async def test_delete_malformed_id_is_invalid(h: Harness) -> None:
    for bad in ("../rs_1", to_global_id("Invoice", "in_1"), ""):
        data = await h.data(DELETE, {"id": bad})
        error = one_error(data["deleteResourceSubscription"])
        assert (error["code"], error["field"]) == ("INVALID", ["input", "id"])
    assert h.upstream.calls == []


async def test_deleted_hook_reads_as_null_in_the_same_operation(hr: Harness) -> None:
    data = await hr.data(CREATE, {"event": "INVOICE_PAID", "url": "https://hooks.example.com/"})
    gid = data["createResourceSubscription"]["resourceSubscription"]["id"]
    data = await hr.data(
        """mutation($id: ID!) {
          del: deleteResourceSubscription(input: {id: $id}) { deletedId userErrors { code } }
          again: deleteResourceSubscription(input: {id: $id}) { deletedId userErrors { code } }
        }""",
        {"id": gid},
    )
    assert data["del"] == {"deletedId": gid, "userErrors": []}
    assert data["again"] == {"deletedId": None, "userErrors": [{"code": "NOT_FOUND"}]}


# --- reads after writes in one operation ------------------------------------------------


async def test_paid_invoices_read_back_in_later_fields(h: Harness) -> None:
    invoices = await unpaid_invoices(h)
    owner = Counter(r.parse_invoice(i).customer_id for i in invoices).most_common(1)[0][0]
    a, b = [i["id"] for i in invoices if r.parse_invoice(i).customer_id == owner][:2]
    listing = "customer { invoices(first: 100) { nodes { invoiceId paid } } }"
    data = await h.data(
        f"""mutation($a: ID!, $b: ID!) {{
          first: payInvoice(input: {{id: $a}}) {{ invoice {{ paid {listing} }} userErrors {{ code }} }}
          second: payInvoice(input: {{id: $b}}) {{ invoice {{ paid {listing} }} userErrors {{ code }} }}
        }}""",
        {"a": a, "b": b},
    )

    def paid(field: str) -> dict[str, bool]:
        nodes = data[field]["invoice"]["customer"]["invoices"]["nodes"]
        return {n["invoiceId"]: n["paid"] for n in nodes}

    assert paid("first")[a] is True and paid("first")[b] is False
    # The first field's cached page showed b unpaid; the write must have dropped it.
    assert paid("second")[a] is True and paid("second")[b] is True
    assert data["second"]["invoice"]["paid"] is True


async def test_cancelled_subscription_reads_back_without_refetching(h: Harness) -> None:
    active = await active_subscriptions(h)
    billed = {
        (i.customer_id, i.subscription_token)
        for i in map(r.parse_invoice, await h.rest_all("invoices"))
        if i.subscription_token
    }
    per_customer = Counter(s.customer_id for s in active)
    b = next(
        s for s in active if per_customer[s.customer_id] > 1 and (s.customer_id, s.token) in billed
    )
    a = next(s for s in active if s.customer_id == b.customer_id and s.token != b.token)
    subs = "customer { subscriptions(first: 100) { nodes { token status } } }"
    h.upstream.reset()
    data = await h.data(
        f"""mutation($a: ID!, $b: ID!) {{
          first: cancelSubscription(input: {{id: $a}}) {{ subscription {{ status {subs} }} }}
          second: cancelSubscription(input: {{id: $b}}) {{
            subscription {{
              status {subs}
              invoices(first: 5) {{ nodes {{ subscription {{ token status }} }} }}
            }}
          }}
        }}""",
        {"a": subscription_gid(a), "b": subscription_gid(b)},
    )

    def statuses(field: str) -> dict[str, str]:
        nodes = data[field]["subscription"]["customer"]["subscriptions"]["nodes"]
        return {n["token"]: n["status"] for n in nodes}

    assert statuses("first")[a.token] == "cancelled"
    assert statuses("first")[b.token] == "active"
    assert statuses("second")[b.token] == "cancelled"
    # b was cached as active by the first field's page; the loader must answer the new state.
    nested = data["second"]["subscription"]["invoices"]["nodes"]
    assert nested and all(
        n["subscription"] == {"token": b.token, "status": "cancelled"} for n in nested
    )
    assert f"GET customers/{b.customer_id}/subscriptions/{b.token}" not in h.upstream.routes()


# --- upstream failures: GraphQL errors, never retried ------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_pay_upstream_5xx_is_an_error_and_not_retried(h: Harness, status: int) -> None:
    invoice = (await unpaid_invoices(h))[0]
    h.upstream.reset()
    h.upstream.faults.append(("POST", "invoices/", status))
    result = await h.query(PAY, {"id": invoice["id"]})
    assert result["data"] == {"payInvoice": None}
    assert result["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
    assert result["errors"][0]["path"] == ["payInvoice"]
    assert len(h.upstream.calls) == 1


async def test_every_write_fails_once_on_5xx(hr: Harness) -> None:
    sub = (await active_subscriptions(hr))[0]
    hr.upstream.reset()
    hr.upstream.faults += [("DELETE", "", 500), ("POST", "", 500)]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (CANCEL, {"id": subscription_gid(sub)}, "cancelSubscription"),
        (DELETE, {"id": "rs_0000000000"}, "deleteResourceSubscription"),
        (
            CREATE,
            {"event": "INVOICE_PAID", "url": "https://hooks.example.com/"},
            "createResourceSubscription",
        ),
    ]
    for query, variables, field in cases:
        before = len(hr.upstream.calls)
        result = await hr.query(query, variables)
        assert result["data"] == {field: None}
        assert result["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
        assert len(hr.upstream.calls) == before + 1, field


class _TimeoutOnPay(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/pay"):
            raise httpx.ReadTimeout("simulated", request=request)
        return await self.inner.handle_async_request(request)


async def test_pay_timeout_is_upstream_timeout_and_not_retried(h: Harness) -> None:
    invoice = (await unpaid_invoices(h))[0]
    h.upstream.reset()
    h.upstream.inner = _TimeoutOnPay(h.upstream.inner)
    result = await h.query(PAY, {"id": invoice["id"]})
    assert result["data"] == {"payInvoice": None}
    assert result["errors"][0]["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert len(h.upstream.calls) == 1


async def test_a_failed_later_field_keeps_the_earlier_write(h: Harness) -> None:
    a, b = [i["id"] for i in (await unpaid_invoices(h))[:2]]
    h.upstream.faults.append(("POST", f"invoices/{b}/pay", 500))
    result = await h.query(
        """mutation($a: ID!, $b: ID!) {
          first: payInvoice(input: {id: $a}) { invoice { paid } }
          second: payInvoice(input: {id: $b}) { invoice { paid } }
        }""",
        {"a": a, "b": b},
    )
    assert result["data"] == {"first": {"invoice": {"paid": True}}, "second": None}
    assert [e["path"] for e in result["errors"]] == [["second"]]


async def test_refused_token_is_unauthenticated(h: Harness) -> None:
    result = await h.query(PAY, {"id": "in_x"}, token="nobody")
    assert result["_status"] == 401
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- HTTP: mutations only over POST ------------------------------------------------------


async def test_mutation_over_get_is_405_with_allow_post(h: Harness) -> None:
    response = await h.facade.get(
        "/graphql",
        params={"query": 'mutation { payInvoice(input: {id: "in_x"}) { userErrors { code } } }'},
        headers={"Authorization": "Bearer demo-alice"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["errors"][0]["message"]
    assert h.upstream.calls == []
    query = await h.facade.get(
        "/graphql",
        params={"query": "{ viewer { name } }"},
        headers={"Authorization": "Bearer demo-alice"},
    )
    assert query.status_code == 200 and query.json()["data"]["viewer"]["name"]


# --- mapping of upstream messages -------------------------------------------------------


def test_upstream_messages_map_to_codes_and_fields() -> None:
    paid = UpstreamRejected("Invoice in_1 is already paid", upstream_status=400)
    assert from_upstream(paid, ["input", "id"], ALREADY_PAID).code == "ALREADY_PAID"
    # The same words mean nothing special where the mutation cannot meet them.
    assert from_upstream(paid, ["input", "id"], ALREADY_CANCELLED).code == "UPSTREAM_REJECTED"
    canceled = UpstreamRejected("subscription already canceled", upstream_status=409)
    assert from_upstream(canceled, ["input", "id"], ALREADY_CANCELLED).code == "ALREADY_CANCELLED"
    assert from_upstream(NotFound("No such invoice"), ["input", "id"]).code == "NOT_FOUND"
    assert _field_named_by("target_url must be an absolute http(s) URL") == ["input", "targetUrl"]
    assert _field_named_by("event must be one of customer.created, …") == ["input", "event"]
    assert _field_named_by("the request body is not valid JSON") == ["input"]


def test_allow_loopback_targets_setting_reads_the_environment() -> None:
    assert Settings().allow_loopback_targets is False
    env = {"SPACES_GRAPHQL_ALLOW_LOOPBACK_TARGETS": "true"}
    assert Settings.load(environ=env).allow_loopback_targets is True
