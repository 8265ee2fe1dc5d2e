"""End to end over real sockets: the CLI's sandbox and facade as separate processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Stack:
    facade: str
    sandbox: str


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "spaces_graphql.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    sp, fp = free_port(), free_port()
    sandbox = _spawn("sandbox", "--port", str(sp))
    procs = [sandbox]
    try:
        wait_for(f"http://127.0.0.1:{sp}/_sandbox/stats", sandbox)
        facade = _spawn(
            "serve", "--port", str(fp), "--profile", "development",
            "--upstream", f"http://127.0.0.1:{sp}/api/v1",
        )  # fmt: skip
        procs.append(facade)
        wait_for(f"http://127.0.0.1:{fp}/healthz", facade)
        yield Stack(f"http://127.0.0.1:{fp}", f"http://127.0.0.1:{sp}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


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
    facade = _spawn(
        "serve", "--port", str(fp), "--upstream", f"http://127.0.0.1:{free_port()}/api/v1"
    )
    try:
        wait_for(f"http://127.0.0.1:{fp}/healthz", facade)
        assert httpx.get(f"http://127.0.0.1:{fp}/readyz").status_code == 503
        # The production profile (serve's default) offers no GraphiQL.
        page = httpx.get(f"http://127.0.0.1:{fp}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    finally:
        facade.terminate()
        facade.wait(timeout=10)


def test_serve_with_two_workers(stack: Stack) -> None:
    """``serve --workers 2``: worker processes rebuild the same settings and answer alike."""
    fp = free_port()
    facade = _spawn(
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
        facade.terminate()
        facade.wait(timeout=15)
