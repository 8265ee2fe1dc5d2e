"""CORS: loopback dev servers in development, the allowlist in production (issue 17).

Preflights are answered by the CORS middleware alone: none of them reaches the
upstream. Real browsers exercise the same rules in ``clients/test/cors.test.mjs``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings
from tests.support import ALICE, harness

APOLLO_HEADERS = (
    "authorization,content-type,accept,apollographql-client-name,"
    "apollographql-client-version,x-request-id,traceparent"
)
DEV_ORIGINS = (
    "http://localhost:5173",
    "http://localhost:3000",
    "http://127.0.0.1:5173",
    "http://[::1]:8000",
    "http://localhost",
)
FOREIGN_ORIGINS = (
    "https://evil.example",
    "http://localhost.evil.example:5173",
    "http://evil.example/http://localhost:5173",
    "https://localhost:5173",  # not the dev servers' scheme: opt in with allowed_origins
    "http://127.0.0.2:5173",
    "null",
)
QUERY = {"query": "{ viewer { name } }"}


def preflight(origin: str, headers: str = APOLLO_HEADERS) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize("origin", DEV_ORIGINS)
async def test_development_preflight_from_a_local_dev_server(origin: str) -> None:
    async with harness(profile="development") as h:
        got = await h.facade.options("/graphql", headers=preflight(origin))
        assert got.status_code == 200, got.text
        assert got.headers["access-control-allow-origin"] == origin
        assert got.headers["access-control-allow-credentials"] == "true"
        assert set(got.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
        allowed = {
            h.strip().lower() for h in got.headers["access-control-allow-headers"].split(",")
        }
        assert set(APOLLO_HEADERS.split(",")) <= allowed
        assert "Origin" in got.headers["vary"]
        assert h.upstream.calls == []


async def test_development_simple_answer_carries_cors_headers() -> None:
    async with harness(profile="development") as h:
        got = await h.facade.post(
            "/graphql",
            json=QUERY,
            headers={"Origin": "http://localhost:5173", "Authorization": f"Bearer {ALICE}"},
        )
        assert got.status_code == 200
        assert got.json()["data"]["viewer"]["name"]
        assert got.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert got.headers["access-control-allow-credentials"] == "true"
        exposed = got.headers["access-control-expose-headers"].split(", ")
        assert {"X-Request-Id", "ETag", "Retry-After", "X-RateLimit-Remaining"} <= set(exposed)
        assert "Origin" in got.headers["vary"]


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
async def test_development_refuses_foreign_origins(origin: str) -> None:
    async with harness(profile="development") as h:
        got = await h.facade.options("/graphql", headers=preflight(origin))
        assert got.status_code == 400
        assert "access-control-allow-origin" not in got.headers
        simple = await h.facade.post("/graphql", json=QUERY, headers={"Origin": origin})
        assert "access-control-allow-origin" not in simple.headers
        assert h.upstream.calls == []


async def test_development_refuses_unknown_request_headers() -> None:
    async with harness(profile="development") as h:
        got = await h.facade.options(
            "/graphql", headers=preflight("http://localhost:5173", "authorization,x-evil")
        )
        assert got.status_code == 400
        assert h.upstream.calls == []


async def test_allowed_origins_add_to_development() -> None:
    async with harness(profile="development", allowed_origins="https://staging.example") as h:
        for origin in ("https://staging.example", "http://localhost:5173"):
            got = await h.facade.options("/graphql", headers=preflight(origin))
            assert got.status_code == 200
            assert got.headers["access-control-allow-origin"] == origin
        assert h.upstream.calls == []


async def test_production_without_allowlist_has_no_cors() -> None:
    async with harness(profile="production") as h:
        got = await h.facade.options("/graphql", headers=preflight("http://localhost:5173"))
        assert got.status_code == 405
        assert "access-control-allow-origin" not in got.headers
        assert h.upstream.calls == []


async def test_production_keeps_its_allowlist() -> None:
    async with harness(profile="production", allowed_origins="https://app.example") as h:
        ok = await h.facade.options("/graphql", headers=preflight("https://app.example"))
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        # No credentials in production: the token travels in Authorization, not cookies.
        assert "access-control-allow-credentials" not in ok.headers
        for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "https://evil.example"):
            got = await h.facade.options("/graphql", headers=preflight(origin))
            assert got.status_code == 400
            assert "access-control-allow-origin" not in got.headers
        assert h.upstream.calls == []


def _app(**settings: Any) -> Any:
    sandbox = httpx.ASGITransport(app=create_sandbox(SandboxConfig()))
    config = Settings(upstream_url="http://127.0.0.1/api/v1", **settings)
    return create_app(config, transport=sandbox)


def _init(client: TestClient, origin: str) -> str:
    with client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"], headers={"Origin": origin}
    ) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {ALICE}"}})
        return str(ws.receive_json()["type"])


def test_websocket_from_a_local_dev_server_in_development() -> None:
    with TestClient(_app(profile="development")) as client:
        assert _init(client, "http://localhost:5173") == "connection_ack"


def test_websocket_production_origin_allowlist() -> None:
    with TestClient(_app(profile="production", allowed_origins="https://app.example")) as client:
        assert _init(client, "https://app.example") == "connection_ack"
        with pytest.raises(WebSocketDisconnect):
            _init(client, "http://localhost:5173")
