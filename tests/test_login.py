"""``mutation login``: the one operation that needs no token, in every dialect.

launch27 (against the fake upstream of tests/test_dialect_launch27.py): the opaque
token, wrong credentials as a userError, a refused integration key as an upstream
error, 406 validation errors as userErrors on GraphQL input paths. spaces: no login
flow, a userError with no upstream call. And the token requirement: only an
operation made of ``login`` alone runs without one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from graph.node import to_global_id
from resolvers.dialects.launch27 import open_token
from resolvers.targets import IPAddress
from sandbox.app import SandboxConfig
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings
from tests.support import Harness, RecordingTransport, harness
from tests.test_dialect_launch27 import ALICE, BASE, KEY, FakeLaunch27, utc

LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token
    userErrors { field message code }
  }
}
"""
VIEWER = "{ viewer { email createdAt } }"
ALICE_LOGIN = {"email": ALICE["email"], "password": ALICE["password"]}


async def public_resolver(host: str) -> Sequence[IPAddress]:
    if host == "hooks.example.com":
        return [ipaddress.ip_address("93.184.216.34")]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@dataclass
class Facade:
    http: httpx.AsyncClient
    upstream: RecordingTransport
    fake: FakeLaunch27

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        response = await self.http.post("/graphql", json=body, headers=headers)
        return response.status_code, response.json()

    async def login(self, **variables: str) -> dict[str, Any]:
        status, body = await self.post(LOGIN, variables or ALICE_LOGIN)
        assert status == 200, body
        payload: dict[str, Any] = body["data"]["login"]
        return payload


@contextlib.asynccontextmanager
async def launch27(**settings: Any) -> AsyncIterator[Facade]:
    """The facade fronting the fake launch27 upstream, in-process."""
    fake = FakeLaunch27()
    recording = RecordingTransport(httpx.MockTransport(fake))
    values: dict[str, Any] = {
        "upstream_url": BASE,
        "upstream_dialect": "launch27",
        "upstream_api_key": KEY,
        "profile": "development",
        **settings,
    }
    app = create_app(Settings(**values), transport=recording, resolve_host=public_resolver)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://f.test") as http,
    ):
        yield Facade(http, recording, fake)


@pytest.fixture
async def l27() -> AsyncIterator[Facade]:
    async with launch27() as ready:
        yield ready


# --- launch27 -------------------------------------------------------------------------


async def test_login_then_read_with_the_token(l27: Facade) -> None:
    payload = await l27.login()
    assert payload["userErrors"] == []
    token = payload["token"]
    assert open_token(token) == (ALICE["email"], ALICE["sat"])
    assert l27.upstream.routes() == ["POST login"]
    status, body = await l27.post(VIEWER, token=token)
    assert status == 200, body
    # 01:30 New York on the fall-back day: the earlier instant (EDT).
    assert body["data"]["viewer"] == {"email": ALICE["email"], "createdAt": "2024-11-03T05:30:00Z"}
    assert utc("2024-11-03T05:30:00")


async def test_login_counts_its_upstream_request(l27: Facade) -> None:
    status, body = await l27.post(LOGIN, ALICE_LOGIN)
    assert status == 200
    assert body["extensions"]["cost"]["upstreamRequests"] == 1


async def test_wrong_credentials_are_a_user_error(l27: Facade) -> None:
    for email, password in ((ALICE["email"], "wrong"), ("nobody@example.com", "demo-alice")):
        payload = await l27.login(email=email, password=password)
        assert payload == {
            "token": None,
            "userErrors": [
                {"field": None, "message": "wrong email or password", "code": "UNAUTHENTICATED"}
            ],
        }


async def test_input_refused_before_any_upstream_call(l27: Facade) -> None:
    payload = await l27.login(email="  ", password="x")
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert payload["userErrors"][0]["field"] == ["input", "email"]
    payload = await l27.login(email="a@b.c", password="")
    assert payload["userErrors"][0]["field"] == ["input", "password"]
    assert l27.upstream.routes() == []


async def test_a_refused_integration_key_is_an_upstream_error() -> None:
    async with launch27(upstream_api_key="not-the-key") as facade:
        status, body = await facade.post(LOGIN, ALICE_LOGIN)
    assert status == 200
    assert body["data"] is None  # login is non-null: the error nulls data
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_ERROR"
    assert "not-the-key" not in str(body) and "API key" in error["message"]


async def test_a_spaces_token_is_refused_on_a_launch27_upstream(l27: Facade) -> None:
    status, body = await l27.post(VIEWER, token="demo-alice")
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert l27.upstream.routes() == []  # not a session token: refused before the wire


async def test_the_password_never_reaches_a_log(
    l27: Facade, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "correct-horse-battery-staple"
    await l27.login(email=ALICE["email"], password=secret)
    await l27.post(
        'mutation { login(input: {email: "x@y.z", password: "' + secret + '"}) { token } }', {}
    )
    assert caplog.records  # the access log did write
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in str(record.__dict__)


async def test_field_errors_become_user_errors_on_input_paths(l27: Facade) -> None:
    token = (await l27.login())["token"]
    create = """
    mutation($url: String!) {
      createResourceSubscription(input: {event: CUSTOMER_CREATED, targetUrl: $url}) {
        resourceSubscription { id }
        userErrors { field message code }
      }
    }
    """
    l27.fake.reject_hooks = True
    status, body = await l27.post(create, {"url": "https://hooks.example.com/in"}, token=token)
    assert status == 200, body
    payload = body["data"]["createResourceSubscription"]
    assert payload["resourceSubscription"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "targetUrl"],
            "message": "targetUrl is not reachable",
            "code": "UPSTREAM_REJECTED",
        },
        {"field": ["input", "event"], "message": "event is invalid", "code": "UPSTREAM_REJECTED"},
        {"field": ["input", "event"], "message": "event is unknown", "code": "UPSTREAM_REJECTED"},
    ]


async def test_list_errors_become_user_errors_without_a_field(l27: Facade) -> None:
    token = (await l27.login())["token"]
    pay = """
    mutation($id: ID!) { payInvoice(input: {id: $id}) { invoice { id } userErrors { field message code } } }
    """
    status, body = await l27.post(pay, {"id": to_global_id("Invoice", "in_2")}, token=token)
    assert status == 200, body
    assert body["data"]["payInvoice"] == {
        "invoice": None,
        "userErrors": [
            {"field": None, "message": "Invoice is already paid", "code": "ALREADY_PAID"}
        ],
    }


async def test_bad_logins_run_the_address_dry() -> None:
    async with launch27(profile="production", rate_limit_points=3) as facade:
        codes = []
        for _ in range(5):
            status, body = await facade.post(LOGIN, {"email": ALICE["email"], "password": "guess"})
            codes.append(
                status if status != 200 else body["data"]["login"]["userErrors"][0]["code"]
            )
    assert codes[:3] == ["UNAUTHENTICATED"] * 3
    assert codes[3:] == [429, 429]
    assert facade.upstream.routes() == ["POST login"] * 3


# --- every dialect: the token requirement, and spaces' answer -------------------------


async def test_spaces_has_no_login_flow(h: Harness) -> None:
    h.upstream.reset()
    result = await h.query(LOGIN, ALICE_LOGIN, token=None)
    assert result["_status"] == 200
    assert result["data"]["login"]["token"] is None
    [error] = result["data"]["login"]["userErrors"]
    assert error["code"] == "UNSUPPORTED" and error["field"] is None
    assert h.upstream.calls == []


async def test_login_with_a_token_runs_too(h: Harness) -> None:
    result = await h.query(LOGIN, ALICE_LOGIN)
    assert result["data"]["login"]["userErrors"][0]["code"] == "UNSUPPORTED"


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { name } }",
        'mutation { login(input: {email: "a", password: "b"}) { token } '
        'payInvoice(input: {id: "in_1"}) { userErrors { code } } }',
        'mutation { ...L } fragment L on Mutation { login(input: {email: "a", password: "b"}) { token } }',
        "mutation { __typename }",
    ],
)
async def test_only_login_runs_without_a_token(h: Harness, query: str) -> None:
    h.upstream.reset()
    result = await h.query(query, token=None)
    assert result["_status"] == 401, result
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert h.upstream.calls == []


async def test_login_aliased_with_typename_runs_without_a_token(h: Harness) -> None:
    query = 'mutation { __typename in: login(input: {email: "a", password: "b"}) { token } }'
    result = await h.query(query, token=None)
    assert result["_status"] == 200 and result["data"]["in"]["token"] is None


async def test_a_malformed_token_is_still_refused(h: Harness) -> None:
    response = await h.facade.post(
        "/graphql",
        json={"query": LOGIN, "variables": ALICE_LOGIN},
        headers={"Authorization": "Nope x"},
    )
    assert response.status_code == 401


# --- end to end: the facade over the sandbox speaking launch27 -------------------------

NESTED = """{ customers(first: 3) { nodes { customerId createdAt subscriptions(first: 2) { nodes {
  token createdAt invoices(first: 2) { nodes { invoiceId createdAt items { dateRangeStart } } } } } } } }"""


@contextlib.asynccontextmanager
async def over_sandbox(name: str, **settings: Any) -> AsyncIterator[Harness]:
    extra: dict[str, Any] = {"upstream_dialect": name}
    if name == "launch27":
        extra["upstream_api_key"] = SandboxConfig().api_key
    async with harness(SandboxConfig(dialect=name), **{**extra, **settings}) as h:
        yield h


async def test_sandbox_login_then_nested_query_equals_spaces() -> None:
    async with over_sandbox("spaces") as ref, over_sandbox("launch27") as l27:
        email = (await ref.data("{ viewer { email } }"))["viewer"]["email"]
        l27.upstream.reset()
        login = (await l27.data(LOGIN, {"email": email, "password": "demo-alice"}, token=None))[
            "login"
        ]
        assert login["userErrors"] == [] and login["token"].startswith("l27.")
        assert [c.path for c in l27.upstream.calls] == ["login"]
        assert l27.upstream.calls[0].headers["x-api-key"] == SandboxConfig().api_key
        expected = await ref.data(NESTED)
        assert await l27.data(NESTED, token=login["token"]) == expected
        wrong = (await l27.data(LOGIN, {"email": email, "password": "demo-bob"}, token=None))[
            "login"
        ]
        assert wrong["token"] is None and wrong["userErrors"][0]["code"] == "UNAUTHENTICATED"


async def test_sandbox_refusing_the_facade_key() -> None:
    async with over_sandbox("launch27", upstream_api_key="not-the-sandbox-key") as l27:
        result = await l27.query(LOGIN, {"email": "a@b.c", "password": "x"}, token=None)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
    assert "not-the-sandbox-key" not in str(result)
