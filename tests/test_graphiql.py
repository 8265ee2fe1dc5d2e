"""GraphiQL: served from the package's own assets in development, absent in production.

The browser itself is exercised by ``make test-clients`` (clients/test/graphiql.test.mjs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from spaces_graphql import cli, graphiql
from spaces_graphql.settings import Settings, SettingsError
from tests.processes import start_facade, start_sandbox, stop
from tests.support import harness

DEMO_HEADERS = json.dumps({"Authorization": "Bearer demo-alice"})
#: A URL on a CDN (GraphiQL's bundle names CDNs in prose, which is fine).
CDN_URL = re.compile(
    r"(?:https?:)?//[^\s\"'()]*(?:unpkg\.com|jsdelivr\.net|esm\.sh|cdnjs\.|googleapis\.com|"
    r"skypack\.dev|gstatic\.com)"
)
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
async def dev() -> AsyncIterator[httpx.AsyncClient]:
    async with harness() as h:
        yield h.facade


@pytest.fixture
async def demo() -> AsyncIterator[httpx.AsyncClient]:
    async with harness(ide_default_headers=DEMO_HEADERS) as h:
        yield h.facade


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="graphiql-config">(.*?)</script>', html)
    assert match, html
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def referenced(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


async def test_page_loads_only_local_assets(dev: httpx.AsyncClient) -> None:
    r = await dev.get("/graphql", headers=HTML)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<title>GraphiQL" in html
    urls = referenced(html)
    assert urls, html
    for url in urls:
        assert url.startswith((graphiql.ASSETS_PATH + "/", "data:")), url
    assert not CDN_URL.search(html)
    assert "https://" not in html and "http://" not in html
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert r.headers["cache-control"] == "no-store"


async def test_every_asset_loads_and_names_no_cdn(dev: httpx.AsyncClient) -> None:
    page = await dev.get("/graphql", headers=HTML)
    urls = [u for u in referenced(page.text) if u.startswith("/")]
    kinds = set()
    for url in urls:
        r = await dev.get(url)
        assert r.status_code == 200, url
        assert len(r.content) > 0, url
        kinds.add(r.headers["content-type"].split(";")[0])
        # No script or style pulls anything from a CDN at run time.
        assert not CDN_URL.search(r.text), url
    assert kinds == {"text/javascript", "text/css"}
    assert {u.rsplit("/", 1)[-1] for u in urls} >= {
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "spaces-graphiql.js",
    }


def test_vendored_versions_are_recorded() -> None:
    versions = json.loads((graphiql.STATIC_DIR / "vendor" / "versions.json").read_text())
    assert versions == {"react": "18.3.1", "react-dom": "18.3.1", "graphiql": "3.9.0"}
    bundle = (graphiql.STATIC_DIR / "vendor" / "graphiql.min.js").read_text(encoding="utf-8")
    assert "graphql-transport-ws" in bundle  # graphql-ws is bundled in


async def test_page_opens_on_the_example_query_without_headers_by_default(
    dev: httpx.AsyncClient,
) -> None:
    config = page_config((await dev.get("/graphql", headers=HTML)).text)
    assert config == {"endpoint": "/graphql", "query": cli.EXAMPLE_QUERY, "headers": ""}


async def test_demo_headers_are_prefilled(demo: httpx.AsyncClient) -> None:
    config = page_config((await demo.get("/graphql", headers=HTML)).text)
    assert json.loads(config["headers"]) == {"Authorization": "Bearer demo-alice"}


def test_page_config_cannot_close_its_script_element() -> None:
    text = graphiql._script_json({"q": "</script><script>alert(1)</script> & <!--"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"q": "</script><script>alert(1)</script> & <!--"}


async def test_queries_still_work_beside_the_page(dev: httpx.AsyncClient) -> None:
    r = await dev.post(
        "/graphql",
        json={"query": "{ customers(first: 1) { nodes { name } } }"},
        headers={"Authorization": "Bearer demo-alice"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["customers"]["nodes"][0]["name"]


async def test_production_offers_no_ide_and_no_assets() -> None:
    async with harness(profile="production") as h:
        r = await h.facade.get("/graphql", headers=HTML)
        assert "graphiql" not in r.text.lower()
        assert not r.headers.get("content-type", "").startswith("text/html")
        for asset in ("vendor/graphiql.min.js", "spaces-graphiql.js"):
            assert (await h.facade.get(f"{graphiql.ASSETS_PATH}/{asset}")).status_code == 404


@pytest.mark.e2e
async def test_websocket_messages_are_text_frames() -> None:
    """Browsers' graphql-ws (GraphiQL's fetcher) reads only text frames."""
    sandbox, sandbox_url = start_sandbox()
    try:
        proc, url = start_facade(sandbox_url, "--profile", "development")
        try:
            ws_url = url.replace("http://", "ws://") + "/graphql"
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                init = {"Authorization": "Bearer demo-alice"}
                await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                message = await asyncio.wait_for(ws.recv(), 10)
                assert isinstance(message, str), f"a binary frame: {message!r}"
                assert json.loads(message) == {"type": "connection_ack"}
        finally:
            stop(proc)
    finally:
        stop(sandbox)


def test_ide_default_headers_setting() -> None:
    env = {"SPACES_GRAPHQL_PROFILE": "development", "SPACES_GRAPHQL_IDE_DEFAULT_HEADERS": "{}"}
    assert Settings.load(environ=env).ide_default_headers == "{}"
    assert Settings().ide_default_headers == ""
    with pytest.raises(SettingsError, match="development profile only"):
        Settings(profile="production", ide_default_headers=DEMO_HEADERS)
    for bad in ("Bearer demo-alice", "[]", '{"A": 1}'):
        with pytest.raises(SettingsError, match="JSON object of strings"):
            Settings(profile="development", ide_default_headers=bad)


def test_only_the_demo_prefills_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Settings] = []

    class Child:
        def send_signal(self, signal: int) -> None:
            pass

        def wait(self, timeout: float) -> int:
            return 0

    monkeypatch.setattr("spaces_graphql.cli.subprocess.Popen", lambda *a, **k: Child())
    monkeypatch.setattr(cli, "_wait_ready", lambda url, seconds=20.0: True)
    monkeypatch.setattr(cli, "serve", served.append)
    ns = argparse.Namespace(port=18080, sandbox_port=18081, latency_ms=0)
    assert cli.demo(ns) == 0
    (settings,) = served
    assert settings.development
    assert json.loads(settings.ide_default_headers) == {"Authorization": f"Bearer {cli.DEMO_TOKEN}"}
    # ``serve`` has no such default: its GraphiQL starts with empty headers.
    monkeypatch.delenv("SPACES_GRAPHQL_IDE_DEFAULT_HEADERS", raising=False)
    args = cli.build_parser().parse_args(["serve", "--profile", "development"])
    assert cli.settings_from_args(args).ide_default_headers == ""
