"""``WireEngine``: an HTTP/1.1 transport for ``httpx.AsyncClient`` made for this facade.

The facade's upstream traffic is simple: HTTP/1.1 to one origin, small heads, JSON
bodies, keep-alive. Its cost per request is what limits the facade under distinct
load (``python -m bench engine``), and both general-purpose engines spend most of it
in Python bookkeeping the facade never needs (httpcore's pool scans, aiohttp's
session machinery: tracing, cookies, redirects, proxies, timers per request).

This engine is an ``asyncio.Protocol`` per connection over the event loop's own
sockets, with ``httptools`` (llhttp, in C) parsing answers, and a pool that is a
deque of idle connections per origin (newest first) and a semaphore of
``max_connections``. Per request it writes one head (plus body), and the parser's
callbacks fill a response; nothing in it depends on how many requests are in
flight or connections are pooled.

It keeps what the client relies on, as the other engines do (``tests/test_engine.py``
runs every behaviour over each): httpx's connect, read and pool timeouts; streamed
bodies that can be abandoned (the connection is then closed, never reused half-read);
idle connections expiring after ``keepalive_expiry``; at most ``max_connections`` at
once and ``max_keepalive_connections`` idle; cancellation closing the connection; and
failures raised as httpx's exception classes, so retries and breakers see the same
kinds (closed before an answer: ``RemoteProtocolError``; refused: ``ConnectError``).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httptools
import httpx

#: Buffered body bytes past which the connection stops reading until the caller catches up.
_HIGH_WATER = 1 << 20
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    """One keep-alive connection: the parser's callbacks build the current answer."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        # Made by the loop's protocol factory, so inside it; kept rather than asked for
        # per exchange (``get_running_loop`` makes a system call per call on 3.11).
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.idle_since = 0.0
        self.closed = False
        self.reusable = False
        # The exchange in progress.
        self._head: asyncio.Future[None] | None = None
        self._more: asyncio.Future[None] | None = None
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.error: Exception | None = None
        self._paused = False
        self._head_only = False

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._head is None or self.complete:
            # Nothing asked, or more than one answer: the connection cannot be trusted.
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self._head is None or self.complete:
            return
        if exc is None and self._head.done() and self._until_close():
            self._finish()  # an answer delimited by the end of the connection
            return
        if exc is not None:
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
        elif self._head.done():
            self._fail(httpx.RemoteProtocolError("the upstream closed the connection mid-answer"))
        else:
            self._fail(httpx.RemoteProtocolError("the upstream closed the connection unanswered"))

    def _until_close(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    # -- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer to one request: never trust this connection
            self.reusable = False
            self.close()

    def on_status(self, status: bytes) -> None:
        if not self.complete:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200:  # an interim answer: the real one follows
            self.headers, self.reason = [], b""
            return
        if self._head is not None and not self._head.done():
            self._head.set_result(None)
        if self._head_only:
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            return
        self._finish()

    # -- the exchange ------------------------------------------------------------------

    def _finish(self) -> None:
        if self.complete:
            return
        self.complete = True
        self.reusable = not self.closed and self.parser.should_keep_alive() and not self._head_only
        self._wake()

    def _wake(self) -> None:
        more = self._more
        if more is not None and not more.done():
            more.set_result(None)

    def _fail(self, error: Exception) -> None:
        self.error = error
        self.reusable = False
        for waiter in (self._head, self._more):
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    def start(self, data: bytes, head_only: bool) -> asyncio.Future[None]:
        """Write one request; the future resolves when the answer's head has arrived."""
        assert self.transport is not None
        self._head = self._loop.create_future()
        self._more = None
        self.status, self.reason, self.headers = 0, b"", []
        self.chunks.clear()
        self.buffered = 0
        self.complete = self.reusable = False
        self.error = None
        self._head_only = head_only
        self.transport.write(data)
        return self._head

    async def next_chunk(self, read_timeout: float | None) -> bytes | None:
        """The next piece of the body (``None`` at its end)."""
        while not self.chunks:
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            self._more = self._loop.create_future()
            await _answered(self._more, read_timeout)
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self._paused and self.buffered <= _HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def done(self) -> None:
        """The exchange is over: forget its waiters (the connection may serve another)."""
        self._head = self._more = None

    def close(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


async def _within(
    waiter: Awaitable[Any], seconds: float | None, kind: type[httpx.TimeoutException]
) -> Any:
    """``await waiter``, as ``kind`` past ``seconds`` (a plain await: no generator per call)."""
    if seconds is None:
        return await waiter
    try:
        async with asyncio.timeout(seconds):
            return await waiter
    except TimeoutError as exc:
        raise kind(f"no answer within {seconds} s") from exc


async def _answered(waiter: asyncio.Future[None], seconds: float | None) -> None:
    """``await waiter``, as ``httpx.ReadTimeout`` past ``seconds``: ``_within`` for a future
    the connection owns, with one timer and no cancellation of the awaiting task."""
    if seconds is None:
        return await waiter
    timer = waiter.get_loop().call_later(seconds, _expire, waiter, seconds)
    try:
        return await waiter
    finally:
        timer.cancel()


def _expire(waiter: asyncio.Future[None], seconds: float) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout(f"no answer within {seconds} s"))


class WireBody(httpx.AsyncByteStream):
    """The answer's body as it arrives; closing it before its end closes the connection."""

    def __init__(self, engine: WireEngine, conn: _Connection, request: httpx.Request) -> None:
        self._engine = engine
        self._conn: _Connection | None = conn
        self._request = request
        self._read_timeout = request.extensions.get("timeout", {}).get("read")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while (chunk := await conn.next_chunk(self._read_timeout)) is not None:
                yield chunk
        except BaseException as exc:
            if isinstance(exc, httpx.TransportError):
                exc.request = self._request
            await self.aclose()
            raise

    async def read_bounded(self, limit: int) -> bytes | None:
        """The whole body, or ``None`` as soon as it passes ``limit`` bytes (then closed
        unread); without an async generator per body, which ``__aiter__`` costs."""
        conn = self._conn
        chunks: list[bytes] = []
        size = 0
        try:
            while conn is not None and (chunk := await conn.next_chunk(self._read_timeout)):
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
        except httpx.TransportError as exc:
            exc.request = self._request
            raise
        finally:
            await self.aclose()
        return b"".join(chunks)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._engine._release(conn)


class WireEngine(httpx.AsyncBaseTransport):
    """httpx transport: HTTP/1.1 over asyncio protocols and httptools (module docstring)."""

    def __init__(self, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> None:
        self.limits = limits
        self._ssl = ssl_context
        self._idle: dict[Origin, collections.deque[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._open: set[_Connection] = set()
        self._closed = False

    @property
    def keepalive_expiry(self) -> float | None:
        """Idle seconds before a pooled connection is closed rather than reused."""
        return self.limits.keepalive_expiry

    @property
    def connections(self) -> int:
        """Connections open now (in use and idle)."""
        return len(self._open)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported scheme {scheme!r}", request=request)
        origin = (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])
        timeout = request.extensions.get("timeout", {})
        data = _encode(request, await _content(request))
        slots = self._slots
        if slots is None:
            slots = self._slots = asyncio.Semaphore(self.limits.max_connections or 1 << 30)
        if slots.locked():
            await _within(slots.acquire(), timeout.get("pool"), httpx.PoolTimeout)
        else:
            await slots.acquire()
        conn: _Connection | None = None
        try:
            conn = self._reuse(origin) or await self._connect(origin, timeout.get("connect"))
            await _answered(conn.start(data, request.method == "HEAD"), timeout.get("read"))
        except BaseException as exc:
            if conn is not None:
                self._drop(conn)
            slots.release()
            if isinstance(exc, httpx.TransportError):
                exc.request = request
            raise
        return httpx.Response(
            status_code=conn.status,
            headers=conn.headers,
            stream=WireBody(self, conn, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
        )

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        expiry = self.limits.keepalive_expiry
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used: the likeliest to be alive
            if conn.closed or (expiry is not None and now - conn.idle_since > expiry):
                self._drop(conn)
                continue
            return conn
        return None

    async def _connect(self, origin: Origin, seconds: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or httpx.create_ssl_context()
        connecting = loop.create_connection(
            lambda: _Connection(origin),
            host,
            port,
            ssl=context,
            server_hostname=host if context is not None else None,
        )
        conn: _Connection
        try:
            _, conn = await _within(connecting, seconds, httpx.ConnectTimeout)
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        """The body was read to its end or abandoned: pool the connection or close it."""
        conn.done()
        idle = self._idle.setdefault(conn.origin, collections.deque())
        keep = self.limits.max_keepalive_connections
        if (
            conn.complete
            and conn.reusable
            and not conn.closed
            and not self._closed
            and (keep is None or len(idle) < keep)
        ):
            conn.idle_since = time.monotonic()
            idle.append(conn)
        else:
            self._drop(conn)
        if self._slots is not None:
            self._slots.release()

    def _drop(self, conn: _Connection) -> None:
        """Close ``conn`` and stop counting it."""
        conn.close()
        self._open.discard(conn)

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()


async def _content(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        return await request.aread()


def _encode(request: httpx.Request, body: bytes) -> bytes:
    """The request's head and body as bytes on the wire (httpx set Host and Content-Length)."""
    items = request.headers._list  # (name, lowered name, value): no copy per request
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, _, value in items:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    head = b"".join(lines)
    # Each line ends in one CRLF: any other CR or LF (a header smuggling a second
    # request) shows in the counts. Two scans in C instead of four per header.
    breaks = len(items) + 2
    if head.count(b"\n") != breaks or head.count(b"\r") != breaks:
        raise httpx.LocalProtocolError("a header may not hold a line break", request=request)
    return head + body if body else head
