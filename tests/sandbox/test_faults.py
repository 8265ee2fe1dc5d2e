"""Fault injection: ``/_sandbox/faults`` (in-process and over a real socket)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.app import SandboxConfig, create_app
from sandbox.faults import FaultConnectionReset
from tests.sandbox.conftest import ALICE, BOB, client_for, serving


async def _add(client: httpx.AsyncClient, **spec: object) -> dict[str, object]:
    response = await client.post("/_sandbox/faults", json=spec)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_status_fault_for_a_count_then_normal(alice: httpx.AsyncClient) -> None:
    fault = await _add(
        alice, route="GET /api/v1/customers/{id}", kind="status", status=502, count=2
    )
    assert fault["remaining"] == 2
    customer = (await alice.get("/api/v1/customers", params={"limit": 1})).json()["data"][0]
    path = f"/api/v1/customers/{customer['id']}"
    first, second, third = [await alice.get(path) for _ in range(3)]
    assert (first.status_code, second.status_code, third.status_code) == (502, 502, 200)
    assert "injected" in first.json()["message"]
    # Other routes are untouched, and a spent fault is no longer listed.
    assert (await alice.get("/api/v1/customers")).status_code == 200
    assert (await alice.get("/_sandbox/faults")).json()["faults"] == []


async def test_route_template_without_api_prefix_and_stats_still_count(
    alice: httpx.AsyncClient,
) -> None:
    await _add(alice, route="get /account", kind="status", status=500)
    assert (await alice.get("/api/v1/account")).status_code == 500
    assert (await alice.get("/_sandbox/stats")).json()["by_route"]["GET /api/v1/account"] == 1


async def test_prefix_and_method_and_token_filters(
    app: Starlette, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    await _add(alice, prefix="/api/v1/inv", method="GET", token="demo-bob", kind="status")
    assert (await bob.get("/api/v1/invoices")).status_code == 503
    assert (await alice.get("/api/v1/invoices")).status_code == 200
    assert (await bob.get("/api/v1/customers")).status_code == 200


async def test_time_window(alice: httpx.AsyncClient) -> None:
    await _add(alice, route="GET /api/v1/account", kind="status", duration=0.15)
    assert (await alice.get("/api/v1/account")).status_code == 503
    listed = (await alice.get("/_sandbox/faults")).json()["faults"]
    assert len(listed) == 1 and 0 < listed[0]["expires_in"] <= 0.15
    await asyncio.sleep(0.2)
    assert (await alice.get("/api/v1/account")).status_code == 200


async def test_rate_limit_has_retry_after(alice: httpx.AsyncClient) -> None:
    await _add(alice, route="GET /api/v1/account", kind="rate_limit", retry_after=7, count=1)
    response = await alice.get("/api/v1/account")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["message"]


async def test_malformed_and_huge_bodies(alice: httpx.AsyncClient) -> None:
    await _add(alice, route="GET /api/v1/account", kind="malformed", count=1)
    malformed = await alice.get("/api/v1/account")
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        json.loads(malformed.content)
    await _add(alice, route="GET /api/v1/account", kind="huge", size=300_000, count=1)
    huge = await alice.get("/api/v1/account")
    assert huge.status_code == 200 and len(huge.content) == 300_000
    assert json.loads(huge.content)["object"] == "list"


async def test_hang_delays_then_answers(alice: httpx.AsyncClient) -> None:
    await _add(alice, route="GET /api/v1/account", kind="hang", delay=0.2, count=1)
    started = time.monotonic()
    response = await alice.get("/api/v1/account")
    assert response.status_code == 200 and time.monotonic() - started >= 0.2
    hangs = (await alice.get("/_sandbox/faults")).json()["hangs"]
    assert hangs == {"started": 1, "completed": 1, "cancelled": 0}


async def test_hang_cancelled_in_process_is_counted(alice: httpx.AsyncClient) -> None:
    await _add(alice, route="GET /api/v1/account", kind="hang", delay=30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await alice.get("/api/v1/account")
    assert (await alice.get("/_sandbox/faults")).json()["hangs"]["cancelled"] == 1


async def test_reset_in_process_is_a_transport_error(alice: httpx.AsyncClient) -> None:
    await _add(alice, route="GET /api/v1/account", kind="reset", count=1)
    with pytest.raises(httpx.TransportError) as caught:
        await alice.get("/api/v1/account")
    assert isinstance(caught.value, FaultConnectionReset)
    assert (await alice.get("/api/v1/account")).status_code == 200


async def test_list_and_clear(alice: httpx.AsyncClient) -> None:
    one = await _add(alice, route="GET /api/v1/account", kind="status")
    await _add(alice, prefix="/api/v1/", kind="status")
    assert len((await alice.get("/_sandbox/faults")).json()["faults"]) == 2
    assert (await alice.delete(f"/_sandbox/faults/{one['id']}")).json() == {"removed": 1}
    assert (await alice.delete(f"/_sandbox/faults/{one['id']}")).status_code == 404
    assert (await alice.delete("/_sandbox/faults")).json() == {"removed": 1}
    assert (await alice.get("/api/v1/account")).status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode", "route": "GET /api/v1/account"},
        {"kind": "status"},
        {"kind": "status", "route": "GET /api/v1/account", "prefix": "/api"},
        {"kind": "status", "route": "/api/v1/account"},
        {"kind": "status", "route": "GET /api/v1/account", "count": 0},
        {"kind": "status", "route": "GET /api/v1/account", "status": 200},
        {"kind": "hang", "route": "GET /api/v1/account", "delay": "long"},
        [1, 2],
    ],
)
async def test_bad_specs_are_400(alice: httpx.AsyncClient, spec: object) -> None:
    response = await alice.post("/_sandbox/faults", json=spec)
    assert response.status_code == 400 and response.json()["message"]
    assert (await alice.get("/_sandbox/faults")).json()["faults"] == []


async def test_real_socket_reset_and_disconnect_cancel() -> None:
    app = create_app(SandboxConfig())
    async with serving(app) as base, httpx.AsyncClient(base_url=base, auth=ALICE) as client:
        await _add(client, route="GET /api/v1/account", kind="reset", count=1)
        with pytest.raises(httpx.TransportError):
            await client.get("/api/v1/account")
        assert (await client.get("/api/v1/account")).status_code == 200

        await _add(client, route="GET /api/v1/account", kind="hang", delay=30, count=1)
        with pytest.raises(httpx.ReadTimeout):
            # The client gives up and closes its socket; the sandbox sees it leave.
            await client.get("/api/v1/account", timeout=0.2)
        for _ in range(100):
            hangs = (await client.get("/_sandbox/faults")).json()["hangs"]
            if hangs["cancelled"]:
                break
            await asyncio.sleep(0.02)
        assert hangs == {"started": 1, "completed": 0, "cancelled": 1}


async def test_faults_need_no_auth(app: Starlette) -> None:
    async with client_for(app, auth=None) as anonymous, client_for(app, BOB) as bob:
        await _add(anonymous, route="GET /api/v1/account", kind="status", status=504)
        assert (await bob.get("/api/v1/account")).status_code == 504
