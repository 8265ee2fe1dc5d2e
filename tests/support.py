"""Test harness: the facade in-process over the sandbox's ASGI app, with request logs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from resolvers.targets import HostResolver, system_resolver
from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.settings import Settings

ALICE = "demo-alice"
BOB = "demo-bob"


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    start: float
    end: float = 0.0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; records every upstream call and can inject failures."""

    inner: httpx.AsyncBaseTransport
    calls: list[Call] = field(default_factory=list)
    #: (method, path prefix under /api/v1, predicate on params) -> status to answer instead
    faults: list[tuple[str, str, int]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/")
        call = Call(request.method, path, dict(request.url.params), time.monotonic())
        call.headers = {k.lower(): v for k, v in request.headers.items()}
        self.calls.append(call)
        for method, prefix, status in self.faults:
            if request.method == method and (path + "?" + request.url.query.decode()).startswith(
                prefix
            ):
                call.end, call.status = time.monotonic(), status
                return httpx.Response(status, json={"message": "injected fault"})
        response = await self.inner.handle_async_request(request)
        call.end, call.status = time.monotonic(), response.status_code
        return response

    def reset(self) -> None:
        self.calls.clear()

    def routes(self) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.calls]

    def waves(self) -> int:
        """Sequential rounds: a call starting after some call of the current round ended."""
        waves, round_end = 0, -1.0
        for call in sorted(self.calls, key=lambda c: c.start):
            if waves == 0 or call.start >= round_end:
                waves += 1
                round_end = float("inf")
            round_end = min(round_end, call.end)
        return waves


@dataclass
class Harness:
    facade: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    upstream: RecordingTransport
    settings: Settings

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = ALICE
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query}
        if variables:
            body["variables"] = variables
        response = await self.facade.post("/graphql", json=body, headers=headers)
        result: dict[str, Any] = response.json()
        result["_status"] = response.status_code
        return result

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        result = await self.query(query, variables, **kw)
        assert "errors" not in result, result.get("errors")
        return result["data"]

    async def rest(self, path: str, token: str = ALICE, **params: Any) -> Any:
        response = await self.sandbox.get(f"/api/v1/{path}", params=params, auth=(token, ""))
        response.raise_for_status()
        return response.json()

    async def rest_all(self, path: str, token: str = ALICE, **params: Any) -> list[Any]:
        out: list[Any] = []
        after: str | None = None
        while True:
            extra = {"starting_after": after} if after else {}
            page = await self.rest(path, token, limit=100, **params, **extra)
            out += page["data"]
            if not page["has_more"]:
                return out
            last = page["data"][-1]
            after = last.get("id") or last.get("token")


@contextlib.asynccontextmanager
async def harness(
    sandbox_config: SandboxConfig | None = None,
    *,
    resolve_host: HostResolver = system_resolver,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """A sandbox app and a facade app wired in-process, lifespans running.

    ``resolve_host`` answers REST Hook target names (this machine has no DNS).
    """
    sandbox_app = create_sandbox(sandbox_config or SandboxConfig())
    recording = RecordingTransport(httpx.ASGITransport(app=sandbox_app))
    config = Settings(
        **{
            "upstream_url": "http://127.0.0.1/api/v1",
            "batch_ids": "auto",
            "profile": "development",
            **settings,
        }
    )
    app = create_app(config, transport=recording, resolve_host=resolve_host)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://facade.test"
        ) as facade,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox_app), base_url="http://127.0.0.1"
        ) as sandbox,
    ):
        yield Harness(facade, sandbox, recording, config)
