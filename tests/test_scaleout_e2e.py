"""Two facade processes behind one Redis behave as one: shared rate limit and persisted queries."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings
from tests.processes import need_redis, start_facade, start_sandbox, stop

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[str, str]]:
    need_redis()
    sandbox, sandbox_url = start_sandbox()
    env = {
        "SPACES_GRAPHQL_REDIS_URL": "redis://127.0.0.1:6379/0",
        "SPACES_GRAPHQL_RATE_LIMIT_POINTS": "97",
    }
    _flush_limits()
    a, url_a = start_facade(sandbox_url, env=env)
    b, url_b = start_facade(sandbox_url, env=env)
    try:
        yield url_a, url_b
    finally:
        for p in (a, b, sandbox):
            stop(p)
        _flush_limits()


def _flush_limits() -> None:
    keys = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "--scan", "--pattern", "spaces-graphql:rl:*"],
        capture_output=True, timeout=5, text=True,
    ).stdout.split()  # fmt: skip
    if keys:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "del", *keys], capture_output=True, timeout=5
        )


AUTH = {"Authorization": "Bearer demo-bob"}
Q = "{ customers(first: 20) { nodes { invoices(first: 2) { nodes { paid } } } } }"  # cost 21


def test_one_bucket_across_processes(pair: tuple[str, str]) -> None:
    a, b = pair
    first = httpx.post(f"{a}/graphql", json={"query": Q}, headers=AUTH)
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining"] == "76"
    second = httpx.post(f"{b}/graphql", json={"query": Q}, headers=AUTH)
    assert second.status_code == 200 and second.headers["x-ratelimit-remaining"] == "55"
    for url in (a, b, a):
        httpx.post(f"{url}/graphql", json={"query": Q}, headers=AUTH)
    refused = httpx.post(f"{b}/graphql", json={"query": Q}, headers=AUTH)
    assert refused.status_code == 429 and "retry-after" in refused.headers


def test_persisted_query_registered_on_one_runs_on_the_other(pair: tuple[str, str]) -> None:
    a, b = pair
    query = f"query Shared{os.getpid()} {{ viewer {{ name }} }}"
    digest = hashlib.sha256(query.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    auth = {"Authorization": "Bearer demo-alice"}
    miss = httpx.post(f"{b}/graphql", json={"extensions": ext}, headers=auth).json()
    assert miss["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    stored = httpx.post(f"{a}/graphql", json={"query": query, "extensions": ext}, headers=auth)
    assert stored.json()["data"]["viewer"]["name"]
    hit = httpx.post(f"{b}/graphql", json={"extensions": ext}, headers=auth).json()
    assert hit["data"] == stored.json()["data"]


def test_websocket_origins_are_checked_in_production() -> None:
    settings = Settings(profile="production", allowed_origins="https://app.example")
    with TestClient(create_app(settings)) as client:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(
                "/graphql",
                subprotocols=["graphql-transport-ws"],
                headers={"Origin": "https://evil.example"},
            ) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 4403
