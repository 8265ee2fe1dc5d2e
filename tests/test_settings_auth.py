"""Settings are read once and validated; tokens are read strictly from headers."""

from __future__ import annotations

import base64

import pytest

from graph.node import from_global_id, to_global_id
from resolvers.errors import Unauthenticated
from spaces_graphql.auth import token_from_headers
from spaces_graphql.settings import Settings, SettingsError


def test_flags_override_environment() -> None:
    env = {"SPACES_GRAPHQL_PORT": "9000", "SPACES_GRAPHQL_PROFILE": "development"}
    s = Settings.load({"port": 9100, "host": None}, environ=env)
    assert s.port == 9100 and s.profile == "development" and s.host == "127.0.0.1"


def test_plain_http_upstream_refused_unless_loopback() -> None:
    Settings(upstream_url="http://127.0.0.1:8081/api/v1")
    Settings(upstream_url="http://[::1]:8081/api/v1")
    Settings(upstream_url="https://spaces.pe/api/v1")
    with pytest.raises(SettingsError, match="plain HTTP"):
        Settings(upstream_url="http://spaces.pe/api/v1")


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(SettingsError, match="SPACES_GRAPHQL_PORT"):
        Settings.load(environ={"SPACES_GRAPHQL_PORT": "eighty"})


def test_bearer_and_basic_tokens() -> None:
    assert token_from_headers({"authorization": "Bearer demo-alice"}) == "demo-alice"
    basic = base64.b64encode(b"demo-bob:").decode()
    assert token_from_headers({"authorization": f"Basic {basic}"}) == "demo-bob"


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer ", "Token abc", "Basic !!!", "Bearer a\r\nX-Evil: 1", "Bearer " + "a" * 600],
)
def test_bad_tokens_are_unauthenticated(header: str | None) -> None:
    headers = {} if header is None else {"authorization": header}
    with pytest.raises(Unauthenticated):
        token_from_headers(headers)


def test_global_ids_round_trip() -> None:
    gid = to_global_id("Subscription", "cus_1/sub_2")
    assert from_global_id(gid) == ("Subscription", "cus_1/sub_2")
    assert from_global_id("cus_1") is None
    assert from_global_id(to_global_id("Nope", "x")) is None


@pytest.mark.parametrize("engine", ["httpcore", "aiohttp"])
def test_pooled_connections_expire_before_a_5_second_server_keep_alive(engine: str) -> None:
    from resolvers.client import SpacesClient
    from resolvers.engine import AiohttpEngine

    assert Settings().keepalive_expiry < 5
    client = SpacesClient(Settings(keepalive_expiry=2.5, upstream_engine=engine))  # type: ignore[arg-type]
    transport = client.http._transport
    if isinstance(transport, AiohttpEngine):
        assert transport.keepalive_expiry == 2.5
    else:
        assert transport._pool._keepalive_expiry == 2.5  # type: ignore[attr-defined]
    with pytest.raises(SettingsError, match="keepalive_expiry"):
        Settings.load({"keepalive_expiry": -1})
