"""Fixtures for the sandbox tests: in-process clients and real loopback servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.app import SandboxConfig, create_app

BASE = "http://sandbox.test"
ALICE = ("demo-alice", "")
BOB = ("demo-bob", "")


def client_for(app: Starlette, auth: tuple[str, str] | None = ALICE) -> httpx.AsyncClient:
    """An in-process client of ``app`` (no lifespan, as other components use it)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, auth=auth)


@pytest.fixture
def app() -> Starlette:
    return create_app(SandboxConfig())


@pytest.fixture
async def alice(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, ALICE) as client:
        yield client


@pytest.fixture
async def bob(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, BOB) as client:
        yield client


@pytest.fixture
def make_client() -> Callable[..., httpx.AsyncClient]:
    return client_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in this event loop."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)


class Receiver:
    """A REST Hooks target that records deliveries and answers scripted statuses."""

    def __init__(self) -> None:
        self.statuses: list[int] = []  # answered in order; 200 once exhausted
        self.received: list[tuple[dict[str, str], Any]] = []
        self.arrived = asyncio.Event()
        self.app = Starlette(routes=[Route("/hooks/{name}", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.json()))
        self.arrived.set()
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"ok": status < 300}, status)

    async def wait_for(self, count: int, within: float = 1.0) -> None:
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    async with serving(rec.app) as url:
        yield rec, url
