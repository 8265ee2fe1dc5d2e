"""Defaults the performance budget rests on (see bench/README.md)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from typing import Any

import pytest

from sandbox.app import SandboxConfig
from spaces_graphql import cli
from spaces_graphql.settings import Settings
from tests.support import harness

WIDE = """{ customers(first: 100) { nodes { name
  subscriptions(first: 10) { nodes { token status } } } } }"""


async def test_a_page_of_parents_fans_out_in_one_wave_by_default() -> None:
    # Default settings: a 100-wide level must not be split by the concurrency bound.
    assert Settings().max_concurrency >= 100
    async with harness(SandboxConfig(latency_ms=15)) as h:
        data = await h.data(WIDE)
        routes = Counter(h.upstream.routes())
        assert len(data["customers"]["nodes"]) == 100
        assert routes["GET customers"] == 1
        assert sum(n for r, n in routes.items() if r.endswith("/subscriptions")) == 100
        assert len(h.upstream.calls) == 101
        assert h.upstream.waves() == 2


def test_keep_alive_pool_holds_a_whole_wave() -> None:
    s = Settings()
    assert s.max_keepalive_connections >= s.max_concurrency
    assert s.max_connections >= s.max_concurrency


def test_serve_runs_uvloop_and_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    cli.serve(Settings(port=18080))
    assert seen["loop"] == "uvloop"
    assert seen["http"] == "httptools"


def test_sniffio_is_installed_for_httpcore() -> None:
    # Without it httpcore retries a failing import on every pooled request.
    assert importlib.util.find_spec("sniffio") is not None
