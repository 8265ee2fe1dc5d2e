"""The sandbox over real sockets: uvicorn, the command line, concurrent writes."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sandbox.app import SandboxConfig, create_app
from sandbox.server import add_arguments, config_from_args
from tests.sandbox.conftest import ALICE, Receiver, free_port, serving


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments() -> None:
    ns = parse()
    assert (ns.host, ns.port) == ("127.0.0.1", 8081)
    assert config_from_args(ns) == SandboxConfig()
    ns = parse(
        "--port",
        "9000",
        "--seed",
        "7",
        "--latency-ms",
        "25",
        "--no-batch-ids",
        "--no-etag",
        "--no-multi-filters",
        "--db",
        "/tmp/x.db",
        "--host",
        "0.0.0.0",
    )
    assert (ns.host, ns.port) == ("0.0.0.0", 9000)
    assert config_from_args(ns) == SandboxConfig(
        seed=7, latency_ms=25, batch_ids=False, etag=False, multi_filters=False, db_path="/tmp/x.db"
    )


async def test_over_a_real_socket_with_concurrent_writes() -> None:
    app = create_app(SandboxConfig())
    async with serving(app) as url, httpx.AsyncClient(base_url=url, auth=ALICE) as client:
        assert (await client.get("/api/v1/account")).json()["object"] == "account"
        created = (await client.post("/_sandbox/activity", json={"type": "invoice.created"})).json()
        invoice_id = created["data"]["object"]["id"]
        answers = await asyncio.gather(
            *(client.post(f"/api/v1/invoices/{invoice_id}/pay") for _ in range(10))
        )
        assert sorted(r.status_code for r in answers) == [200] + [400] * 9
        activity = await asyncio.gather(
            *(
                client.post("/_sandbox/activity", json={"type": "customer.created"})
                for _ in range(20)
            )
        )
        assert all(r.status_code == 200 for r in activity)
        assert len({r.json()["id"] for r in activity}) == 20
        stats = (await client.get("/_sandbox/stats")).json()
        assert stats["by_route"]["POST /api/v1/invoices/{id}/pay"] == 10


async def test_hook_through_two_real_sockets() -> None:
    rec = Receiver()
    app = create_app(SandboxConfig())
    async with (
        serving(rec.app) as hook_url,
        serving(app) as url,
        httpx.AsyncClient(base_url=url, auth=ALICE) as client,
    ):
        await client.post(
            "/api/v1/resource_subscriptions",
            json={"event": "subscription.created", "target_url": f"{hook_url}/hooks/x"},
        )
        started = time.perf_counter()
        event = (
            await client.post("/_sandbox/activity", json={"type": "subscription.created"})
        ).json()
        await rec.wait_for(1, within=1.0)
        assert time.perf_counter() - started < 1.0
        assert rec.received[0][1] == event


def test_python_dash_m(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "cli.sqlite3"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--seed",
            "3",
            "--db",
            str(db),
            "--no-etag",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/spaces", auth=ALICE)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert response.status_code == 200 and "etag" not in response.headers
        assert response.json()["count"] == 3
    finally:
        proc.terminate()
        proc.wait(10)
    assert db.stat().st_size > 1_000_000
