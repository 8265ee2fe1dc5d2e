"""ETag/304, latency, request stats and JSON errors."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.app import SandboxConfig, create_app


async def test_etag_and_304(alice: httpx.AsyncClient) -> None:
    first = await alice.get("/api/v1/customers")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert (await alice.get("/api/v1/customers")).headers["etag"] == etag  # stable
    for header in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        cached = await alice.get("/api/v1/customers", headers={"If-None-Match": header})
        assert cached.status_code == 304 and cached.content == b""
        assert cached.headers["etag"] == etag
    stale = await alice.get("/api/v1/customers", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.json() == first.json()
    other_page = await alice.get("/api/v1/customers?limit=3", headers={"If-None-Match": etag})
    assert other_page.status_code == 200 and other_page.headers["etag"] != etag


async def test_etag_changes_after_a_write(alice: httpx.AsyncClient) -> None:
    unpaid = (await alice.post("/_sandbox/activity", json={"type": "invoice.created"})).json()
    invoice_id = unpaid["data"]["object"]["id"]
    before = await alice.get(f"/api/v1/invoices/{invoice_id}")
    assert (await alice.post(f"/api/v1/invoices/{invoice_id}/pay")).status_code == 200
    after = await alice.get(
        f"/api/v1/invoices/{invoice_id}", headers={"If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200 and after.json()["paid"] is True


async def test_no_etag(make_client: Callable[..., httpx.AsyncClient]) -> None:
    async with make_client(create_app(SandboxConfig(etag=False))) as client:
        response = await client.get("/api/v1/customers", headers={"If-None-Match": "*"})
        assert response.status_code == 200 and "etag" not in response.headers


async def test_errors_are_not_etagged(alice: httpx.AsyncClient) -> None:
    response = await alice.get("/api/v1/customers/cus_nope", headers={"If-None-Match": "*"})
    assert response.status_code == 404 and "etag" not in response.headers


async def test_latency(make_client: Callable[..., httpx.AsyncClient]) -> None:
    async with make_client(create_app(SandboxConfig(latency_ms=150))) as client:
        for path in ("/api/v1/account", "/api/v1/nope"):
            started = time.perf_counter()
            await client.get(path)
            assert time.perf_counter() - started >= 0.15
        started = time.perf_counter()
        await client.get("/_sandbox/stats")
        assert time.perf_counter() - started < 0.15


async def test_stats_count_every_api_request(app: Starlette, alice: httpx.AsyncClient) -> None:
    customer = (await alice.get("/api/v1/customers")).json()["data"][0]["id"]
    await alice.get(f"/api/v1/customers/{customer}")
    await alice.get("/api/v1/customers/cus_x")  # 404
    await alice.get("/api/v1/customers?limit=0")  # 400
    await alice.get("/api/v1/account", auth=None)  # 401
    etag = (await alice.get("/api/v1/account")).headers["etag"]
    await alice.get("/api/v1/account", headers={"If-None-Match": etag})  # 304
    await alice.post("/api/v1/customers")  # 405
    await alice.get("/api/v1/what")  # unknown route
    await alice.post("/_sandbox/activity", json={"type": "customer.created"})  # not counted
    stats = (await alice.get("/_sandbox/stats", auth=None)).json()
    assert stats == {
        "requests": 9,
        "by_route": {
            "GET /api/v1/account": 3,
            "GET /api/v1/customers": 2,
            "GET /api/v1/customers/{id}": 2,
            "GET /api/v1/{unknown}": 1,
            "POST /api/v1/customers": 1,
        },
    }
    reset = await alice.post("/_sandbox/stats/reset")
    assert reset.json() == {"requests": 0, "by_route": {}}
    await alice.get("/api/v1/invoices")
    stats = (await alice.get("/_sandbox/stats")).json()
    assert stats == {"requests": 1, "by_route": {"GET /api/v1/invoices": 1}}
    assert app.state.sandbox.stats.snapshot() == stats


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nope", 404),
        ("GET", "/api/v1", 404),
        ("GET", "/elsewhere", 404),
        ("POST", "/api/v1/customers", 405),
        ("PUT", "/api/v1/invoices/in_x", 405),
        ("GET", "/_sandbox/activity", 405),
    ],
)
async def test_json_errors(alice: httpx.AsyncClient, method: str, path: str, status: int) -> None:
    response = await alice.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"message"}
    if status == 405 and path.startswith("/api"):
        assert "GET" in response.headers["allow"]


async def test_unhandled_exception_is_a_json_500(
    app: Starlette, alice: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.state.sandbox.store, "page", explode)
    response = await alice.get("/api/v1/customers")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert "disk on fire" not in response.text
    assert (await alice.get("/api/v1/account")).status_code == 200
