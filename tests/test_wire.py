"""The httptools engine's own edges (``resolvers/wire.py``), over real loopback sockets.

``tests/test_engine.py`` runs every behaviour the client relies on over each engine;
these are the HTTP/1.1 cases only a hand-made engine could get wrong: answers framed
by the end of the connection, interim answers, big bodies read with back-pressure, the
pool's bounds, and heads that would smuggle a second request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest

from resolvers.wire import WireEngine
from tests.test_engine import ok, serving


def _client(port: int, **limits: float | int | None) -> httpx.AsyncClient:
    engine = WireEngine(httpx.Limits(**{"max_connections": 10, **limits}))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=engine, base_url=f"http://127.0.0.1:{port}")


async def test_an_answer_framed_by_the_end_of_the_connection() -> None:
    connections = 0

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nthe whole ")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"body")
        writer.close()

    server = await asyncio.start_server(once, "127.0.0.1", 0)
    try:
        async with _client(server.sockets[0].getsockname()[1]) as client:
            assert (await client.get("/a")).content == b"the whole body"
            assert (await client.get("/b")).content == b"the whole body"
        assert connections == 2  # "connection: close" is never reused
    finally:
        server.close()


async def test_an_interim_answer_is_skipped() -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"n": 1}')
    async with serving(lambda n, head: reply) as server, _client(server.port) as client:
        response = await client.get("/a")
        assert (response.status_code, response.json()) == (200, {"n": 1})
        assert (await client.get("/b")).json() == {"n": 1}
        assert server.connections == 1


async def test_a_big_chunked_body_arrives_whole_and_the_connection_is_reused() -> None:
    big = bytes(range(256)) * 20_000  # 5 MiB: past the engine's high-water mark
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i : i + 65536]), big[i : i + 65536])
                      for i in range(0, len(big), 65536))  # fmt: skip
    reply = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    async with serving(lambda n, head: reply) as server, _client(server.port) as client:
        async with client.stream("GET", "/big") as response:
            received = bytearray()
            async for piece in response.aiter_raw():
                received += piece
                await asyncio.sleep(0)  # a slow reader: the engine pauses the socket
        assert bytes(received) == big
        assert (await client.get("/again")).status_code == 200
        assert server.connections == 1


async def test_requests_beyond_max_connections_wait_then_time_out() -> None:
    async with serving(lambda n, head: None) as server:
        engine = WireEngine(httpx.Limits(max_connections=2))
        async with httpx.AsyncClient(transport=engine, timeout=httpx.Timeout(5, pool=0.2)) as c:
            url = f"http://127.0.0.1:{server.port}/hang"
            hung = [asyncio.ensure_future(c.get(url)) for _ in range(2)]
            while len(server.heads) < 2:
                await asyncio.sleep(0.01)
            with pytest.raises(httpx.PoolTimeout):
                await c.get(url)
            assert engine.connections == 2 and server.connections == 2
            for task in hung:
                task.cancel()
            await asyncio.gather(*hung, return_exceptions=True)
            assert engine.connections == 0  # cancelled: closed, not pooled


async def test_idle_connections_are_bounded_by_max_keepalive() -> None:
    async with serving(lambda n, head: ok()) as server:
        engine = WireEngine(httpx.Limits(max_connections=10, max_keepalive_connections=2))
        async with httpx.AsyncClient(transport=engine) as client:
            url = f"http://127.0.0.1:{server.port}/x"
            await asyncio.gather(*(client.get(url) for _ in range(6)))
            assert engine.connections <= 2


async def test_a_header_with_a_line_break_is_refused_before_sending() -> None:
    async with serving(lambda n, head: ok()) as server, _client(server.port) as client:
        request = client.build_request("GET", "/x")
        request.headers._list.append((b"x-evil", b"x-evil", b"1\r\nGET /smuggled HTTP/1.1"))
        with pytest.raises(httpx.LocalProtocolError):
            await client.send(request)
        assert server.heads == []


async def test_an_unsolicited_second_answer_spoils_the_connection() -> None:
    async with (
        serving(lambda n, head: ok() + ok(b"extra")) as server,
        _client(server.port) as client,
    ):
        assert (await client.get("/a")).json() == {"ok": True}
        assert (await client.get("/b")).json() == {"ok": True}
        assert server.connections == 2  # the first was closed, not reused


async def test_a_head_request_gets_its_headers_and_no_body() -> None:
    reply = b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n"
    async with serving(lambda n, head: reply) as server, _client(server.port) as client:
        response = await client.head("/x")
        assert (response.status_code, response.headers["content-length"]) == (200, "1234")
        assert response.content == b""


async def test_a_malformed_answer_is_a_protocol_error() -> None:
    async with (
        serving(lambda n, head: b"HTTP/1.1 2xx nope\r\n\r\n") as server,
        _client(server.port) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/x")


async def test_a_closed_engine_refuses_and_closes_its_connections() -> None:
    async with serving(lambda n, head: ok()) as server:
        engine = WireEngine(httpx.Limits(max_connections=4))
        client = httpx.AsyncClient(transport=engine)
        await client.get(f"http://127.0.0.1:{server.port}/x")
        assert engine.connections == 1
        await client.aclose()
        assert engine.connections == 0
        with pytest.raises(RuntimeError):
            await engine.handle_async_request(httpx.Request("GET", "http://127.0.0.1/"))


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_is_verified_and_kept_alive(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(ok(b'{"tls": true}'))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=served)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        engine = WireEngine(httpx.Limits(max_connections=4), ssl_context=trusted)
        async with httpx.AsyncClient(transport=engine) as client:
            assert (await client.get(url)).json() == {"tls": True}
            assert (await client.get(url)).json() == {"tls": True}
        assert connections == 1
        # The default context (the system's CAs) refuses a certificate nobody signed.
        async with httpx.AsyncClient(transport=WireEngine(httpx.Limits())) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(url)
    finally:
        server.close()
