"""The facade on a real loopback socket (uvicorn in a thread), over the in-process sandbox.

HTTP and WebSocket clients reach it as any client would; every upstream call
is still recorded (:class:`~tests.support.RecordingTransport`), so tests can
assert ZERO upstream calls on refusals over every transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings
from tests.processes import free_port
from tests.support import ALICE, RecordingTransport

GRJ = "application/graphql-response+json"
SUBPROTOCOL = "graphql-transport-ws"
TIMEOUT = 20.0  # generous: the machine is shared


@dataclass
class Served:
    """A running facade: its URLs, app, settings and the upstream recording."""

    app: Starlette
    settings: Settings
    upstream: RecordingTransport
    url: str
    sandbox_app: Any = None

    def sandbox(self) -> httpx.AsyncClient:
        """A client of the in-process sandbox (its REST API and ``/_sandbox/…``)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sandbox_app), base_url="http://127.0.0.1"
        )

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    async def post(
        self,
        body: dict[str, Any],
        token: str | None = ALICE,
        accept: str = GRJ,
        **headers: str,
    ) -> httpx.Response:
        hdrs = {"Accept": accept, **headers}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return await client.post(f"{self.url}/graphql", json=body, headers=hdrs)

    async def get(
        self, params: dict[str, Any], token: str | None = ALICE, accept: str = GRJ
    ) -> httpx.Response:
        hdrs = {"Accept": accept}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        query = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return await client.get(f"{self.url}/graphql", params=query, headers=hdrs)

    @contextlib.asynccontextmanager
    async def ws(
        self, token: str | None = ALICE, via: str = "init", **kw: Any
    ) -> AsyncIterator[WS]:
        """A graphql-transport-ws connection, acknowledged (upstream recording reset after)."""
        async with WS.connect(self.ws_url, **kw) as ws:
            await ws.init(token, via)
            ack = await ws.recv()
            assert ack == {"type": "connection_ack"}, ack
            self.upstream.reset()
            yield ws


class WS:
    """A thin graphql-transport-ws client with timeouts."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, url: str, subprotocols: list[str] | None = None, **kw: Any
    ) -> AsyncIterator[WS]:
        protocols = [SUBPROTOCOL] if subprotocols is None else subprotocols
        async with connect(url, subprotocols=protocols or None, open_timeout=TIMEOUT, **kw) as c:  # type: ignore[arg-type]
            yield cls(c)

    async def init(self, token: str | None = ALICE, via: str = "init") -> None:
        payload = {"Authorization": f"Bearer {token}"} if token and via == "init" else {}
        await self.send({"type": "connection_init", "payload": payload})

    async def send(self, message: Any) -> None:
        await self.conn.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.conn.recv(), timeout)
        assert isinstance(frame, str), f"a binary frame: {frame!r}"
        message: dict[str, Any] = json.loads(frame)
        return message

    async def run(self, payload: dict[str, Any], ident: str = "1") -> list[dict[str, Any]]:
        """Subscribe and collect messages for ``ident`` until ``complete`` or ``error``."""
        await self.send({"id": ident, "type": "subscribe", "payload": payload})
        got: list[dict[str, Any]] = []
        while True:
            message = await self.recv()
            assert message.get("id") == ident, message
            got.append(message)
            if message["type"] in ("complete", "error"):
                return got

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int | None, str]:
        """Wait for the server to close; its close code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.conn.recv(), timeout)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (None, "")


@contextlib.contextmanager
def serve(sandbox: SandboxConfig | None = None, **settings: Any) -> Iterator[Served]:
    """The facade (development unless ``profile=``) on a free loopback port."""
    sandbox_app = create_sandbox(sandbox or SandboxConfig())
    recording = RecordingTransport(httpx.ASGITransport(app=sandbox_app))
    config = Settings(
        **{"upstream_url": "http://127.0.0.1/api/v1", "profile": "development", **settings}
    )
    app = create_app(config, transport=recording)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the facade did not start")
        time.sleep(0.02)
    try:
        yield Served(app, config, recording, f"http://127.0.0.1:{port}", sandbox_app)
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)


def codes(errors: list[dict[str, Any]]) -> set[str]:
    return {str((e.get("extensions") or {}).get("code")) for e in errors}
