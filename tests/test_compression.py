"""Compressed ``/graphql`` answers per ``Accept-Encoding`` (issue 17)."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import orjson
import pytest
import zstandard
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from sandbox.app import SandboxConfig
from sandbox.app import create_app as create_sandbox
from spaces_graphql.app import create_app
from spaces_graphql.compression import Coding, Compression, negotiate
from spaces_graphql.settings import Settings, SettingsError
from tests.support import ALICE, Harness, harness

#: 100 customers with four fields: about 14 KB of JSON.
BIG = "{ customers(first: 100) { nodes { id name email createdAt } } }"
SMALL = "{ viewer { name } }"
AUTH = {"Authorization": f"Bearer {ALICE}"}
DECODE = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": zstandard.ZstdDecompressor().decompress,
}


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with harness(profile="production", rate_limit_points=0) as h:
        yield h


async def raw_post(
    h: Harness, query: str, accept_encoding: str | None
) -> tuple[httpx.Headers, bytes]:
    """The answer's headers and its bytes as sent (httpx would decode them)."""
    headers = dict(AUTH)
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    async with h.facade.stream("POST", "/graphql", json={"query": query}, headers=headers) as r:
        assert r.status_code == 200
        return r.headers, b"".join([chunk async for chunk in r.aiter_raw()])


def vary(headers: httpx.Headers) -> list[str]:
    return [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
async def test_large_answer_compressed_per_accept_encoding(h: Harness, coding: str) -> None:
    plain_headers, plain = await raw_post(h, BIG, "identity")
    assert "content-encoding" not in plain_headers
    assert 12_000 < len(plain) < 20_000
    h.upstream.reset()
    headers, raw = await raw_post(h, BIG, coding)
    assert headers["content-encoding"] == coding
    assert int(headers["content-length"]) == len(raw)
    assert len(raw) < len(plain) / 3
    assert orjson.loads(DECODE[coding](raw)) == orjson.loads(plain)
    assert "Accept-Encoding" in vary(headers)
    assert len(h.upstream.calls) == 1  # compression changes nothing upstream


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", None),
        ("identity", None),
        ("gzip;q=0, br;q=0, zstd;q=0", None),
        ("gzip;q=0.5, identity", None),
        ("*;q=0", None),
        ("gzip, deflate, br, zstd", "zstd"),  # Chrome's: the server's cheapest coding
        ("gzip, deflate, br", "br"),
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("br;q=0, *", "zstd"),
        ("zstd;q=0, *;q=0.5", "br"),
        ("x-gzip", "gzip"),
        ("GZIP;Q=0.8", "gzip"),
        ("gzip;q=bogus, br", "br"),
    ],
)
async def test_q_values_and_identity_are_honoured(
    h: Harness, accept: str | None, expected: str | None
) -> None:
    headers, raw = await raw_post(h, BIG, accept)
    assert headers.get("content-encoding") == expected
    assert "Accept-Encoding" in vary(headers)
    if expected is None:
        assert orjson.loads(raw)["data"]["customers"]["nodes"]


def test_negotiate_prefers_the_client_then_the_server_order() -> None:
    assert negotiate(None) is Coding.IDENTITY  # (httpx always sends a header)
    assert negotiate("gzip;q=0.9, br;q=0.8") is Coding.GZIP
    assert negotiate("br, gzip") is Coding.BR  # equal q: zstd is not offered by the client
    assert negotiate("*") is Coding.ZSTD
    assert negotiate("identity;q=0") is Coding.IDENTITY  # nothing acceptable: still readable
    assert negotiate("gzip;q=0.5, identity;q=0.4") is Coding.GZIP


async def test_small_answers_are_not_compressed(h: Harness) -> None:
    headers, raw = await raw_post(h, SMALL, "gzip, br, zstd")
    assert len(raw) < 1024
    assert "content-encoding" not in headers
    assert "Accept-Encoding" in vary(headers)  # a bigger answer to the same request would be
    assert orjson.loads(raw)["data"]["viewer"]["name"]


async def test_get_keeps_its_weak_etag_across_encodings() -> None:
    async with harness(profile="development") as h:  # production GETs run persisted queries only
        await _etag_across_encodings(h)


async def _etag_across_encodings(h: Harness) -> None:
    params = {"query": BIG}
    plain = await h.facade.get(
        "/graphql", params=params, headers={**AUTH, "Accept-Encoding": "identity"}
    )
    etag = plain.headers["etag"]
    assert etag.startswith('W/"')
    assert vary(plain.headers)[:3] == ["Authorization", "Accept", "Accept-Encoding"]
    for coding in ("gzip", "br"):
        got = await h.facade.get(
            "/graphql", params=params, headers={**AUTH, "Accept-Encoding": coding}
        )
        assert got.headers["content-encoding"] == coding
        assert got.headers["etag"] == etag  # one weak validator for every encoding
        assert vary(got.headers)[:3] == ["Authorization", "Accept", "Accept-Encoding"]
        assert got.json() == plain.json()  # httpx decodes
        again = await h.facade.get(
            "/graphql",
            params=params,
            headers={**AUTH, "Accept-Encoding": coding, "If-None-Match": etag},
        )
        assert again.status_code == 304
        assert again.content == b""
        assert "content-encoding" not in again.headers
        assert vary(again.headers)[:3] == ["Authorization", "Accept", "Accept-Encoding"]


async def test_compression_can_be_turned_off() -> None:
    offs: tuple[dict[str, Any], ...] = ({"compression_level": 0}, {"compression_min_bytes": 0})
    for off in offs:
        async with harness(profile="production", rate_limit_points=0, **off) as h:
            headers, raw = await raw_post(h, BIG, "gzip, br, zstd")
            assert "content-encoding" not in headers
            assert orjson.loads(raw)["data"]["customers"]["nodes"]


async def test_min_bytes_and_level_apply() -> None:
    async with harness(profile="production", compression_min_bytes=50, compression_level=1) as h:
        headers, raw = await raw_post(h, SMALL, "gzip")
        assert headers["content-encoding"] == "gzip"
        assert orjson.loads(gzip.decompress(raw))["data"]["viewer"]["name"]


def test_settings_are_validated_and_read_from_the_environment() -> None:
    env = {
        "SPACES_GRAPHQL_COMPRESSION_MIN_BYTES": "2048",
        "SPACES_GRAPHQL_COMPRESSION_LEVEL": "off",
    }
    s = Settings.load(environ=env)
    assert (s.compression_min_bytes, s.compression_level) == (2048, 0)
    assert Settings.load(environ={}).compression_level == 6
    assert Settings.load(environ={}).compression_min_bytes == 1024
    assert (
        Settings.load(environ={"SPACES_GRAPHQL_COMPRESSION_MIN_BYTES": "OFF"}).compression_min_bytes
        == 0
    )
    for bad in (
        {"compression_level": 10},
        {"compression_level": -1},
        {"compression_min_bytes": -1},
    ):
        with pytest.raises(SettingsError, match="compression_"):
            Settings(**bad)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="COMPRESSION_LEVEL"):
        Settings.load(environ={"SPACES_GRAPHQL_COMPRESSION_LEVEL": "fast"})


# --- the middleware alone: what it must leave alone ------------------------------------

BODY = b'{"data": "' + b"x" * 5000 + b'"}'


async def _call(app: Any, accept_encoding: str = "gzip") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"accept-encoding", accept_encoding.encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await Compression(app, min_bytes=100, level=6)(scope, receive, send)
    return sent


def _headers(message: dict[str, Any]) -> dict[str, str]:
    return {k.decode().lower(): v.decode() for k, v in message["headers"]}


@pytest.mark.parametrize("media", ["multipart/mixed; boundary=-", "text/event-stream"])
async def test_streamed_parts_pass_through_and_flush(media: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", media.encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": BODY, "more_body": True})
        await send({"type": "http.response.body", "body": BODY, "more_body": False})

    sent = await _call(app)
    assert [m.get("body") for m in sent[1:]] == [BODY, BODY]
    assert "content-encoding" not in _headers(sent[0])


async def test_a_chunked_json_answer_passes_through() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": BODY, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    sent = await _call(app)
    assert sent[1]["body"] == BODY
    assert "content-encoding" not in _headers(sent[0])


async def test_a_strong_etag_is_weakened_and_other_media_left_alone() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        media = b"application/json" if scope["method"] == "POST" else b"text/html"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", media), (b"etag", b'"abc"'),
                                (b"vary", b"Origin")]})  # fmt: skip
        await send({"type": "http.response.body", "body": BODY})

    sent = await _call(app, "br")
    headers = _headers(sent[0])
    assert headers["content-encoding"] == "br"
    assert headers["etag"] == 'W/"abc"'
    assert headers["vary"] == "Origin, Accept-Encoding"
    assert brotli.decompress(sent[1]["body"]) == BODY

    async def get(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "method": "GET"}, receive, send)

    sent = await _call(get, "br")
    assert "content-encoding" not in _headers(sent[0])
    assert sent[1]["body"] == BODY


def test_websocket_frames_are_not_compressed() -> None:
    sandbox = httpx.ASGITransport(app=create_sandbox(SandboxConfig()))
    settings = Settings(upstream_url="http://127.0.0.1/api/v1", profile="development")
    with (
        TestClient(create_app(settings, transport=sandbox)) as client,
        client.websocket_connect(
            "/graphql",
            subprotocols=["graphql-transport-ws"],
            headers={"Accept-Encoding": "gzip, br, zstd"},
        ) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": AUTH})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": BIG}})
        frame = ws.receive_text()  # plain JSON text, as graphql-transport-ws requires
        message = orjson.loads(frame)
        assert message["type"] == "next"
        assert len(message["payload"]["data"]["customers"]["nodes"]) == 100
        assert len(frame) > 12_000


async def test_only_graphql_answers_are_compressed() -> None:
    async with harness(profile="development") as h:  # development: /metrics is open
        await h.facade.post("/graphql", json={"query": BIG}, headers=AUTH)
        metrics = await h.facade.get("/metrics", headers={"Accept-Encoding": "gzip, br, zstd"})
        assert metrics.status_code == 200
        assert len(metrics.content) > 1024
        assert "content-encoding" not in metrics.headers
