"""End to end over real sockets: the CLI's sandbox and facade as separate processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.processes import free_port, spawn, stop, wait_for

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    facade: str
    sandbox: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    sp, fp = free_port(), free_port()
    sandbox = spawn("sandbox", "--port", str(sp))
    procs = [sandbox]
    try:
        wait_for(f"http://127.0.0.1:{sp}/_sandbox/stats", sandbox)
        facade = spawn(
            "serve", "--port", str(fp), "--profile", "development",
            "--upstream", f"http://127.0.0.1:{sp}/api/v1",
        )  # fmt: skip
        procs.append(facade)
        wait_for(f"http://127.0.0.1:{fp}/healthz", facade)
        yield Stack(f"http://127.0.0.1:{fp}", f"http://127.0.0.1:{sp}")
    finally:
        for p in procs:
            stop(p)


AUTH = {"Authorization": "Bearer demo-alice"}


def test_nested_query_over_http(stack: Stack) -> None:
    q = "{ customers(first: 3) { nodes { name space { url } invoices(first: 2) { nodes { paid } } } } }"
    httpx.post(f"{stack.sandbox}/_sandbox/stats/reset")
    r = httpx.post(f"{stack.facade}/graphql", json={"query": q}, headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    nodes = r.json()["data"]["customers"]["nodes"]
    assert len(nodes) == 3 and all(n["space"] for n in nodes)
    stats = httpx.get(f"{stack.sandbox}/_sandbox/stats").json()
    assert stats["requests"] == 4  # one list of customers, one invoices page each


def test_get_queries_and_basic_auth(stack: Stack) -> None:
    basic = httpx.BasicAuth("demo-bob", "")
    r = httpx.get(f"{stack.facade}/graphql", params={"query": "{ viewer { name } }"}, auth=basic)
    assert r.status_code == 200 and r.json()["data"]["viewer"]["name"]


def test_unauthenticated_is_401(stack: Stack) -> None:
    r = httpx.post(f"{stack.facade}/graphql", json={"query": "{ viewer { name } }"})
    assert r.status_code == 401
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_health_readiness_and_graphiql(stack: Stack) -> None:
    assert httpx.get(f"{stack.facade}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{stack.facade}/readyz").json() == {"status": "ready"}
    page = httpx.get(f"{stack.facade}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_readyz_fails_when_upstream_is_down() -> None:
    fp = free_port()
    facade = spawn(
        "serve", "--port", str(fp), "--upstream", f"http://127.0.0.1:{free_port()}/api/v1"
    )
    try:
        wait_for(f"http://127.0.0.1:{fp}/healthz", facade)
        assert httpx.get(f"http://127.0.0.1:{fp}/readyz").status_code == 503
        # The production profile (serve's default) offers no GraphiQL.
        page = httpx.get(f"http://127.0.0.1:{fp}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    finally:
        stop(facade)


def test_serve_with_two_workers(stack: Stack) -> None:
    """``serve --workers 2``: worker processes rebuild the same settings and answer alike."""
    fp = free_port()
    facade = spawn(
        "serve", "--port", str(fp), "--workers", "2",
        "--upstream", f"{stack.sandbox}/api/v1",
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{fp}/healthz", facade)
        q = {"query": "{ viewer { name } }"}
        answers = {
            httpx.post(f"http://127.0.0.1:{fp}/graphql", json=q, headers=AUTH).json()["data"][
                "viewer"
            ]["name"]
            for _ in range(10)
        }
        assert len(answers) == 1
        # The production profile (serve's default) holds in every worker.
        assert (
            httpx.get(f"http://127.0.0.1:{fp}/graphql", params=q, headers=AUTH).status_code == 405
        )
    finally:
        stop(facade)
