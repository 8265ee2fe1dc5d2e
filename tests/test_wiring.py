"""Wiring: the app serves the schema it is given, its runtime is complete when opened,
and the short paths honour a configured ``StrawberryConfig.default_resolver``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from strawberry.schema.config import StrawberryConfig

import graph.schema
from graph.executor import LeanExecutionContext
from graph.fast_paths import streamline
from resolvers.client import SpacesClient
from resolvers.live.service import LiveEvents
from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.runtime import Runtime
from spaces_graphql.settings import Settings
from tests.support import ALICE

AUTH = {"Authorization": f"Bearer {ALICE}"}


def _settings(**values: Any) -> Settings:
    return Settings(upstream_url="http://127.0.0.1/api/v1", profile="development", **values)


def _upstream() -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=create_sandbox(SandboxConfig()))


@contextlib.asynccontextmanager
async def _served(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


@strawberry.type
class OtherQuery:
    @strawberry.field
    def wiring(self) -> str:
        """Only the other schema has it."""
        return "the other schema"


# --- the app takes its schema ------------------------------------------------------------


async def test_an_app_serves_the_schema_it_is_given() -> None:
    other = strawberry.Schema(query=OtherQuery)
    app = create_app(_settings(), schema=other, transport=_upstream())
    async with _served(app) as client:
        assert app.state.runtime.schema is other
        assert app.state.runtime.preflight.schema is other._schema
        answer = await client.post("/graphql", json={"query": "{ wiring }"}, headers=AUTH)
        assert answer.json()["data"] == {"wiring": "the other schema"}
        refused = await client.post("/graphql", json={"query": "{ viewer { name } }"}, headers=AUTH)
        assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_the_default_schema_is_the_one_built_for_the_settings() -> None:
    for short_paths in (True, False):
        app = create_app(_settings(short_paths=short_paths), transport=_upstream())
        assert app.state.schema is graph.schema.schema_for(short_paths)
    app = create_app(_settings(), transport=_upstream())
    async with _served(app) as client:
        answer = await client.post("/graphql", json={"query": "{ wiring }"}, headers=AUTH)
        assert answer.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_importing_the_app_builds_no_schema() -> None:
    """The schema is built when an app (or a test) asks for it, not as an import side effect."""
    code = (
        "import graph.schema, spaces_graphql.app\n"
        "assert graph.schema.schema_for.cache_info().currsize == 0\n"
        "assert 'schema' not in vars(graph.schema)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


# --- the runtime is complete when it exists ----------------------------------------------


async def test_the_lifespan_opens_a_complete_runtime_and_closes_it() -> None:
    app = create_app(_settings(), transport=_upstream())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        # No lifespan yet: what needs the runtime is not ready; liveness still answers.
        assert (await c.post("/graphql", json={"query": "{ __typename }"})).status_code == 503
        assert (await c.post("/hooks/x", content=b"{}")).status_code == 503
        assert (await c.get("/readyz")).status_code == 503
        assert (await c.get("/healthz")).json() == {"status": "ok"}
    assert not hasattr(app.state, "runtime")
    async with _served(app) as client:
        runtime: Runtime = app.state.runtime
        assert isinstance(runtime.client, SpacesClient)
        assert isinstance(runtime.live, LiveEvents)
        assert runtime.client.observer == runtime.metrics.observe_upstream
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        data = await client.post("/graphql", json={"query": "{ viewer { name } }"}, headers=AUTH)
        assert data.json()["data"]["viewer"]["name"]
    assert runtime.client.http.is_closed
    assert not hasattr(app.state, "runtime")


async def test_a_failed_open_closes_what_it_had_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    clients: list[SpacesClient] = []
    original = SpacesClient.aclose

    async def aclose(self: SpacesClient) -> None:
        clients.append(self)
        await original(self)

    async def start(self: LiveEvents) -> None:
        raise OSError("the hook state is unreadable")

    monkeypatch.setattr(SpacesClient, "aclose", aclose)
    monkeypatch.setattr(LiveEvents, "start", start)
    with pytest.raises(OSError, match="unreadable"):
        await Runtime.open(_settings(), schema=graph.schema.schema_for(), transport=_upstream())
    assert len(clients) == 1 and clients[0].http.is_closed


# --- the short paths and StrawberryConfig.default_resolver ---------------------------------


@strawberry.type
class Pet:
    name: str
    legs: int

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class PetQuery:
    @strawberry.field
    def pets(self) -> list[Pet]:
        return [Pet(name="rex", legs=4), Pet(name="tweety", legs=2)]


def _tagged(source: Any, name: str) -> object:
    """A default resolver that is not ``getattr``: strings come back tagged."""
    value = getattr(source, name)
    return f"<{value}>" if isinstance(value, str) else value


def test_the_short_paths_honour_a_configured_default_resolver() -> None:
    config = StrawberryConfig(default_resolver=_tagged)
    plain = strawberry.Schema(query=PetQuery, config=config)
    fast = strawberry.Schema(
        query=PetQuery, config=config, execution_context_class=LeanExecutionContext
    )
    installed = streamline(fast)
    pet = fast._schema.type_map["Pet"].fields  # type: ignore[attr-defined]
    # The plain attributes keep Strawberry's chain (which calls the configured resolver)...
    assert getattr(pet["name"].resolve, "leaf", None) is None
    # ...while a method, which no default resolver reads, still gets its direct call.
    assert installed >= 1
    query = "{ pets { name legs shout } }"
    answer = fast.execute_sync(query)
    assert answer.errors is None
    assert answer.data == plain.execute_sync(query).data
    assert answer.data == {
        "pets": [
            {"name": "<rex>", "legs": 4, "shout": "REX"},
            {"name": "<tweety>", "legs": 2, "shout": "TWEETY"},
        ]
    }


def test_with_getattr_as_default_resolver_the_attributes_take_the_short_path() -> None:
    fast = strawberry.Schema(query=PetQuery, execution_context_class=LeanExecutionContext)
    streamline(fast)
    pet = fast._schema.type_map["Pet"].fields  # type: ignore[attr-defined]
    assert pet["name"].resolve.leaf is not None
    assert fast.execute_sync("{ pets { name } }").data == {
        "pets": [{"name": "rex"}, {"name": "tweety"}]
    }
