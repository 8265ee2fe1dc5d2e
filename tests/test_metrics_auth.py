"""``/metrics`` off the public listener: production needs the bearer secret, development is open."""

from __future__ import annotations

import pytest

from spaces_graphql.admin import bearer_matches
from spaces_graphql.settings import Settings, SettingsError
from tests.support import harness

SECRET = "metrics-secret-0123456789abcdef"
PROMETHEUS = "spaces_graphql_operations"


async def test_production_without_a_secret_is_404() -> None:
    async with harness(profile="production") as h:
        for headers in ({}, {"Authorization": f"Bearer {SECRET}"}):
            r = await h.facade.get("/metrics", headers=headers)
            assert r.status_code == 404 and PROMETHEUS not in r.text
        # The same answer as a path that does not exist: nothing to probe for.
        assert (await h.facade.get("/no-such-path")).text == r.text
        assert h.upstream.calls == []


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-secret-0123456789abcdef",
        f"Bearer {SECRET}x",
        f"Bearer {SECRET[:-1]}",
        f"Basic {SECRET}",
        f"{SECRET}",
        "Bearer demo-alice",  # a caller's access token is no metrics credential
    ],
)
async def test_production_with_a_wrong_secret_is_401(authorization: str | None) -> None:
    async with harness(profile="production", metrics_token=SECRET) as h:
        headers = {} if authorization is None else {"Authorization": authorization}
        r = await h.facade.get("/metrics", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert PROMETHEUS not in r.text
        assert h.upstream.calls == []


async def test_production_with_the_secret_is_200() -> None:
    async with harness(profile="production", metrics_token=SECRET) as h:
        await h.facade.post(
            "/graphql",
            json={"query": "{ viewer { name } }"},
            headers={"Authorization": "Bearer demo-alice"},
        )
        for scheme in ("Bearer", "bearer"):
            r = await h.facade.get("/metrics", headers={"Authorization": f"{scheme} {SECRET}"})
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert 'spaces_graphql_operations_total{outcome="ok",type="query"}' in r.text


@pytest.mark.parametrize("metrics_token", ["", SECRET])
async def test_development_is_open(metrics_token: str) -> None:
    async with harness(profile="development", metrics_token=metrics_token) as h:
        r = await h.facade.get("/metrics")
        assert r.status_code == 200 and PROMETHEUS in r.text


def test_bearer_matches() -> None:
    assert bearer_matches(f"Bearer {SECRET}", SECRET)
    assert bearer_matches(f"  BEARER   {SECRET} ", SECRET)
    assert not bearer_matches(f"Bearer {SECRET}", SECRET + "0")
    assert not bearer_matches("Bearer \u00e9t\u00e9-not-ascii-0123456", SECRET)
    assert not bearer_matches(f"Token {SECRET}", SECRET)


def test_metrics_token_setting() -> None:
    env = {"SPACES_GRAPHQL_METRICS_TOKEN": SECRET}
    settings = Settings.load(environ=env)
    assert settings.metrics_token == SECRET
    assert SECRET not in repr(settings)  # a printed Settings never shows it
    for weak in ("short", f" {SECRET}"):
        with pytest.raises(SettingsError, match="metrics_token"):
            Settings(metrics_token=weak)
