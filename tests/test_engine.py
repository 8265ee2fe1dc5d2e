"""The upstream HTTP engine (``upstream_engine``): choice, and behaviour over real sockets.

Each socket test runs both engines against a scripted HTTP/1.1 server on a loopback
port (in the test's own event loop), and asserts what the server saw: requests,
connections, and whether a connection was closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from resolvers.client import SpacesClient
from resolvers.engine import AiohttpEngine, UpstreamClient, UpstreamEngine, network_transport
from resolvers.errors import UpstreamTimeout, UpstreamUnavailable
from resolvers.resilience import operation_scope
from resolvers.transfer import BodyTooLarge
from resolvers.wire import WireEngine
from spaces_graphql.settings import Settings, SettingsError

ENGINES = [e.value for e in UpstreamEngine]
FAST: dict[str, Any] = {"upstream_retry_base_seconds": 0.001, "upstream_retry_cap_seconds": 0.002}

Answer = Callable[[int, bytes], bytes | None]  # (request number, head) -> bytes; None: hang


def ok(body: bytes = b'{"ok": true}', extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra}"
    return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body


@dataclass
class Scripted:
    """A loopback HTTP/1.1 server answering each request with ``answer``."""

    answer: Answer
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    closed: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = self._header(head, "content-length")
                self.bodies.append(await reader.readexactly(int(length or 0)))
                reply = self.answer(len(self.heads), head)
                if reply is None:
                    await reader.read()  # hang until the client goes away
                    break
                if reply == b"":
                    break  # close without answering
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed += 1
            writer.close()

    @staticmethod
    def _header(head: bytes, header: str) -> str:
        values = []
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, rest = line.partition(":")
            if name.strip().lower() == header:
                values.append(rest.strip())
        return ",".join(values)

    def saw(self, header: str) -> list[str]:
        """The values of ``header`` in each request, in order ('' when absent)."""
        return [self._header(head, header) for head in self.heads]


@contextlib.asynccontextmanager
async def serving(answer: Answer) -> AsyncIterator[Scripted]:
    scripted = Scripted(answer)
    server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    scripted.port = server.sockets[0].getsockname()[1]
    try:
        yield scripted
    finally:
        server.close()


@contextlib.asynccontextmanager
async def client_for(server: Scripted, engine: str, **settings: Any) -> AsyncIterator[SpacesClient]:
    values = {"upstream_url": f"http://127.0.0.1:{server.port}/api/v1", "upstream_engine": engine,
              **FAST, **settings}  # fmt: skip
    client = SpacesClient(Settings(**values))
    try:
        yield client
    finally:
        await client.aclose()


async def _until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


# -- the choice ------------------------------------------------------------------------


def test_the_engine_is_a_validated_setting() -> None:
    assert Settings().upstream_engine == "httptools"
    loaded = Settings.load(environ={"SPACES_GRAPHQL_UPSTREAM_ENGINE": "httpcore"})
    assert loaded.upstream_engine == "httpcore"
    with pytest.raises(SettingsError, match="upstream_engine"):
        Settings.load(environ={"SPACES_GRAPHQL_UPSTREAM_ENGINE": "curl"})


def test_each_setting_builds_its_transport() -> None:
    aio = network_transport(
        Settings(upstream_engine="aiohttp", keepalive_expiry=2.5).upstream_config()
    )
    assert isinstance(aio, AiohttpEngine)
    assert aio.keepalive_expiry == 2.5 and aio.limits.max_connections == 300
    core = network_transport(Settings(upstream_engine="httpcore").upstream_config())
    assert isinstance(core, httpx.AsyncHTTPTransport)
    wire = network_transport(Settings(keepalive_expiry=1.5).upstream_config())
    assert isinstance(wire, WireEngine)
    assert wire.keepalive_expiry == 1.5 and wire.limits.max_connections == 300


async def test_an_injected_transport_wins_over_the_engine() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json={"id": "x"}))
    client = SpacesClient(Settings(upstream_engine="aiohttp"), mock)
    try:
        assert client.http._transport is mock
        assert await client.session("t").get("account") == {"id": "x"}
    finally:
        await client.aclose()


# -- behaviour over sockets, both engines ------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
async def test_keep_alive_reuses_one_connection_then_it_expires(engine: str) -> None:
    async with (
        serving(lambda n, head: ok()) as server,
        client_for(server, engine, keepalive_expiry=0.3) as client,
    ):
        session = client.session("t")
        for _ in range(3):
            assert await session.get("account") == {"ok": True}
        assert server.connections == 1
        await asyncio.sleep(0.8)  # idle past keepalive_expiry: not reused
        await session.get("account")
        assert (len(server.heads), server.connections) == (4, 2)


@pytest.mark.parametrize("engine", ENGINES)
async def test_auth_and_revalidation_reach_the_server(engine: str) -> None:
    def answer(n: int, head: bytes) -> bytes:
        if b'if-none-match: "v1"' in head.lower():
            return b'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 0\r\n\r\n'
        return ok(b'{"n": 1}', 'etag: "v1"\r\n')

    async with serving(answer) as server, client_for(server, engine) as client:
        session = client.session("tok")
        assert await session.get("customers", {"limit": 2}) == {"n": 1}
        assert await session.get("customers", {"limit": 2}) == {"n": 1}
        assert client.cache_revalidated == 1 and client.cache_misses == 1
        assert server.saw("authorization")[0].startswith("Basic ")
        assert server.saw("if-none-match") == ["", '"v1"']


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_read_timeout_is_upstream_timeout_and_not_retried(engine: str) -> None:
    async with (
        serving(lambda n, head: None) as server,
        client_for(server, engine, read_timeout=0.3) as client,
    ):
        with pytest.raises(UpstreamTimeout):
            await client.session("t").get("account")
        assert len(server.heads) == 1


@pytest.mark.parametrize("engine", ENGINES)
async def test_the_operation_deadline_bounds_a_call(engine: str) -> None:
    async with serving(lambda n, head: None) as server, client_for(server, engine) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with operation_scope(0.3), pytest.raises(UpstreamTimeout):
            await client.session("t").get("account")
        assert loop.time() - started < 5  # not read_timeout (15 s)
        await _until(lambda: server.closed == 1)  # the abandoned connection was closed


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_connection_closed_before_the_answer_is_retried(engine: str) -> None:
    async with (
        serving(lambda n, head: b"" if n == 1 else ok()) as server,
        client_for(server, engine) as client,
    ):
        assert await client.session("t").get("account") == {"ok": True}
        assert len(server.heads) == 2 and client.retries_total == 1


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_write_sends_its_json_body_once(engine: str) -> None:
    async with serving(lambda n, head: ok()) as server, client_for(server, engine) as client:
        session = client.session("t")
        assert await session.request("POST", "customers", json_body={"name": "x"}) == {"ok": True}
        assert server.bodies == [b'{"name":"x"}']
        assert server.saw("content-length") == ["12"]
        assert server.saw("content-type") == ["application/json"]


@pytest.mark.parametrize("engine", ENGINES)
async def test_writes_are_not_retried(engine: str) -> None:
    async with serving(lambda n, head: b"") as server, client_for(server, engine) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.session("t").request("POST", "customers", json_body={"name": "x"})
        assert len(server.heads) == 1


@pytest.mark.parametrize("engine", ENGINES)
async def test_refused_connections_are_unavailable(engine: str) -> None:
    async with serving(lambda n, head: ok()) as server:
        port = server.port
    values: dict[str, Any] = {"upstream_url": f"http://127.0.0.1:{port}/api/v1",
                              "upstream_engine": engine}  # fmt: skip
    client = SpacesClient(Settings(**values, **FAST))
    try:
        with pytest.raises(UpstreamUnavailable):
            await client.session("t").get("account")
    finally:
        await client.aclose()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_past_the_limit_is_refused_and_its_connection_dropped(
    engine: str, declared: bool
) -> None:
    big = b'{"x": "' + b"a" * 200_000 + b'"}'

    def answer(n: int, head: bytes) -> bytes:
        if declared:
            return ok(big)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i : i + 8192]), big[i : i + 8192])
                          for i in range(0, len(big), 8192))  # fmt: skip
        return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"

    async with (
        serving(answer) as server,
        client_for(server, engine, max_upstream_body_bytes=50_000) as client,
    ):
        with pytest.raises(BodyTooLarge):
            await client.session("t").get("account")
        await _until(lambda: server.closed == 1)  # not put back in the pool half-read


@pytest.mark.parametrize("engine", ENGINES)
async def test_cancelling_a_read_closes_its_connection(engine: str) -> None:
    async with serving(lambda n, head: None) as server, client_for(server, engine) as client:
        task = asyncio.ensure_future(client.session("t").get("account"))
        await _until(lambda: len(server.heads) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _until(lambda: server.closed == 1)


async def test_the_upstream_client_keeps_no_cookie_between_tenants() -> None:
    """One client serves every tenant: a cookie set for one account's call never rides
    along on another's (httpx's own send would keep it in the client's jar)."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=alice; Path=/"}, json={})

    async with UpstreamClient(transport=httpx.MockTransport(handler)) as http:
        for token in ("alice", "bob"):
            response = await http.get("http://up/api/v1/account", headers={"Authorization": token})
            assert response.status_code == 200 and response.json() == {}
        assert seen == [None, None]
        assert not http.cookies
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as plain:
        for _ in range(2):
            await plain.get("http://up/api/v1/account")
    assert seen[-1] == "session=alice"  # what the lean send avoids


async def test_the_upstream_client_keeps_httpx_semantics_where_asked() -> None:
    """Auth flows, redirects and event hooks still get httpx's full send; a transport
    failure carries its request; a closed client refuses to send."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "http://up/new"})
        return httpx.Response(200, text=request.headers.get("authorization", ""))

    hooks: list[str] = []

    async def hook(response: httpx.Response) -> None:
        hooks.append(str(response.url))

    async with UpstreamClient(transport=httpx.MockTransport(handler)) as http:
        assert (await http.get("http://up/old")).status_code == 301  # as sent: no following
        followed = await http.get("http://up/old", follow_redirects=True)
        assert followed.status_code == 200 and str(followed.url) == "http://up/new"
        basic = await http.get("http://up/x", auth=("tok", ""))
        assert basic.text.startswith("Basic ")
    async with UpstreamClient(
        transport=httpx.MockTransport(handler), event_hooks={"response": [hook]}
    ) as hooked:
        await hooked.get("http://up/y")
    assert hooks == ["http://up/y"]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    http = UpstreamClient(transport=httpx.MockTransport(refuse))
    with pytest.raises(httpx.ConnectError) as caught:
        await http.get("http://up/z")
    assert caught.value.request.url == "http://up/z"
    await http.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await http.get("http://up/z")


# --- URLs built without httpx's parser ------------------------------------------------

_ALPHABET = "Aa0-._~!$&'()*+,;=:@/?%2Fzé #\\\"<>[]{}|^`\t"


def test_plain_urls_are_exactly_what_httpx_parses() -> None:
    import random

    from resolvers.engine import PlainURLs

    urls = PlainURLs.of(httpx.URL("http://127.0.0.1:9999/api/v1/"))
    assert urls is not None
    rng = random.Random(16)
    shortcut = 0
    for _ in range(20000):
        rest = "/" + "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12)))
        parsed = urls.parse(urls.origin + rest)
        if parsed is None:
            continue
        shortcut += 1
        expected = httpx.URL(urls.origin + rest)
        assert (parsed, str(parsed), parsed.raw_path) == (
            expected,
            str(expected),
            expected.raw_path,
        )
    assert shortcut > 2000  # the alphabet reaches the shortcut often, and its refusals too
    # Dot segments, fragments, another origin: httpx's parser decides.
    for other in ("/api/v1/../x", "/api/./x", "/x#frag", "/x y"):
        assert urls.parse(urls.origin + other) is None
    assert urls.parse("http://127.0.0.1:9998/api/v1/x") is None


def test_a_base_url_with_credentials_takes_no_shortcut() -> None:
    from resolvers.engine import PlainURLs

    assert PlainURLs.of(httpx.URL("http://u:p@127.0.0.1:9999/")) is None
    assert PlainURLs.of(httpx.URL("/relative/")) is None


def test_the_upstream_client_builds_requests_as_httpx_does() -> None:
    client = UpstreamClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        base_url="http://127.0.0.1:9999/api/v1/",
        headers={"user-agent": "spaces-graphql"},
        timeout=5,
    )
    url = "http://127.0.0.1:9999/api/v1/invoices?customer=cus_1&subscription=s%2F1&limit=5"
    cases = [(m, None) for m in ("GET", "DELETE", "HEAD", "OPTIONS")] + [("POST", {"n": "Ada"})]
    for method, body in cases:
        for headers in (
            None,
            {"authorization": "Bearer t", "If-None-Match": '"v1"'},
            {"User-Agent": "other", "authorization": "Bearer t"},  # replaces a default
        ):
            ours = client.build_request(method, url, json=body, headers=headers)
            theirs = httpx.AsyncClient.build_request(
                client, method, url, json=body, headers=headers
            )
            assert (ours.method, ours.url, ours.headers._list, ours.extensions) == (
                theirs.method,
                theirs.url,
                theirs.headers._list,
                theirs.extensions,
            )
            assert ours.read() == theirs.read() and vars(ours).keys() == vars(theirs).keys()
    with pytest.raises(UnicodeEncodeError):  # as httpx: header values are ASCII
        client.build_request("GET", url, headers={"x-name": "é"})
    # Anything else (relative URLs, params, cookies) is httpx's own build_request.
    relative = client.build_request("GET", "customers", params={"limit": 5})
    assert str(relative.url) == "http://127.0.0.1:9999/api/v1/customers?limit=5"


def test_streamed_requests_take_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    client = UpstreamClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        base_url="http://127.0.0.1:9999/api/v1/",
    )
    calls: list[str] = []
    parse = client._urls.parse  # type: ignore[union-attr]

    def recorded(url: str) -> httpx.URL | None:
        calls.append(url)
        return parse(url)

    monkeypatch.setattr(client._urls, "parse", recorded)

    async def go() -> None:
        async with client.stream("GET", "http://127.0.0.1:9999/api/v1/customers?limit=5") as r:
            assert r.status_code == 200

    asyncio.run(go())
    assert calls == ["http://127.0.0.1:9999/api/v1/customers?limit=5"]
