"""A :class:`SpacesClient` wired to an in-process sandbox, for upstream-side tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from resolvers.cache import EtagCache
from resolvers.client import SpacesClient
from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.settings import Settings
from tests.support import RecordingTransport

#: Retries in tests wait microseconds, not the production 25..250 ms.
FAST_RETRIES: dict[str, Any] = {
    "upstream_retry_base_seconds": 0.001,
    "upstream_retry_cap_seconds": 0.002,
}


@dataclass
class Upstream:
    client: SpacesClient
    sandbox: httpx.AsyncClient
    recording: RecordingTransport

    async def fault(self, **spec: Any) -> None:
        response = await self.sandbox.post("/_sandbox/faults", json=spec)
        assert response.status_code == 201, response.text

    async def hangs(self) -> dict[str, int]:
        hangs: dict[str, int] = (await self.sandbox.get("/_sandbox/faults")).json()["hangs"]
        return hangs

    def calls(self, route: str) -> int:
        """Upstream calls recorded for ``"GET customers"`` (method, path under the API)."""
        return sum(1 for r in self.recording.routes() if r == route)


@contextlib.asynccontextmanager
async def upstream(
    config: SandboxConfig | None = None, *, cache: EtagCache | None = None, **settings: Any
) -> AsyncIterator[Upstream]:
    """A client over a fresh in-process sandbox; ``settings`` override the defaults."""
    app = create_sandbox(config or SandboxConfig())
    recording = RecordingTransport(httpx.ASGITransport(app=app))
    values = {"upstream_url": "http://127.0.0.1/api/v1", **FAST_RETRIES, **settings}
    client = SpacesClient(Settings(**values), recording, cache=cache)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as sandbox:
            yield Upstream(client, sandbox, recording)
    finally:
        await client.aclose()
