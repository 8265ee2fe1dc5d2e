"""The HTTP engine under ``httpx.AsyncClient``: which transport carries upstream requests.

``httpx.AsyncClient`` stays the client API everywhere; only its network transport is
chosen here (``upstream_engine``). Tests inject their own transport
(``httpx.ASGITransport``/``MockTransport``), which always wins.

* ``httpcore``: httpx's own pool. Pure Python; every request scans every pooled
  connection (``_assign_requests_to_connections``, ``is_idle``/``has_expired``), so
  its CPU per request grows with connections x requests in flight.
* ``aiohttp``: :class:`AiohttpEngine`, an httpx transport over aiohttp's connector
  (C HTTP parser, C multidicts, a per-host deque of idle connections), whose cost per
  request does not depend on how many are pooled or in flight.
* ``httptools`` (the default): :class:`resolvers.wire.WireEngine`, asyncio protocols
  and llhttp's C parser with a deque of idle connections, nothing else per request;
  about half aiohttp's CPU per request (``python -m bench engine``).

All three keep what the client relies on: httpx's per-phase timeouts (connect, read, pool),
streamed bodies that can be abandoned (the connection is then closed, not reused),
idle connections expiring after ``keepalive_expiry``, at most ``max_connections`` at
once, cancellation, and the failures mapped onto httpx's exception classes, so that
retries and breakers see the same kinds (a reset or a server that closed before
answering is a ``NetworkError``/``RemoteProtocolError``, refused is ``ConnectError``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from enum import StrEnum
from typing import Any

import aiohttp
import httpx
import yarl
from httpx._urlparse import ParseResult
from httpx_aiohttp import AiohttpTransport

from resolvers.config import UpstreamConfig
from resolvers.wire import WireEngine


class UpstreamEngine(StrEnum):
    """The transports ``upstream_engine`` may name."""

    HTTPCORE = "httpcore"
    AIOHTTP = "aiohttp"
    HTTPTOOLS = "httptools"


# Most specific first: the first class the error is an instance of decides.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    # Closed before (all of) an answer: what httpcore calls a protocol error; retried.
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    # aiohttp's ``connect`` timeout (pool wait + connect) raises a bare TimeoutError.
    (TimeoutError, httpx.PoolTimeout),
    (aiohttp.ClientError, httpx.TransportError),
)


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__, request=request) from exc
        raise


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as httpx's stream; closing it early closes the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # aiohttp reuses the connection only if the body was read to its end.
        self._response.release()


class AiohttpEngine(AiohttpTransport):
    """httpx-aiohttp's transport with httpx's exception classes and a lean request path.

    ``limits.max_keepalive_connections`` has no aiohttp equivalent: idle connections
    are bounded by ``max_connections`` and dropped after ``keepalive_expiry``.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._session: aiohttp.ClientSession | None = None

    @property
    def keepalive_expiry(self) -> float | None:
        """Idle seconds before a pooled connection is closed rather than reused."""
        return self.limits.keepalive_expiry

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use: aiohttp binds a session to the running loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=self.limits.keepalive_expiry,
                ssl=self.ssl_context,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes Content-Encoding itself
                skip_auto_headers=("User-Agent",),  # httpx already sent one
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            # aiohttp silently resends an idempotent request once when a connection
            # drops; the client's retries (budget, breakers, counts) are the only ones.
            self._session._retry_connection = False
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        timeout = request.extensions.get("timeout", {})
        content: Any = request.content if request.method != "GET" else None
        with _mapped(request):
            response = await session.request(
                request.method,
                # httpx has normalised and encoded it: no second round of quoting.
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=content or None,
                allow_redirects=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


#: Methods whose requests httpx sends without a body or a Content-Length when given none.
_BODILESS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))
#: ``build_request``'s other arguments, which the shortcut leaves unset.
_UNSET_ARGUMENTS = frozenset(
    ("content", "data", "files", "params", "cookies", "timeout", "extensions")
)


class UpstreamClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose ``send`` hands the request straight to its transport.

    The facade builds requests with the client (base URL, default headers, timeouts)
    and reads answers as httpx responses, like any caller. What it skips is the part
    of ``AsyncClient.send`` it never uses, which cost ~200 µs of CPU per request
    (``python -m bench engine``; about a third of a request's client-side CPU):

    * the cookie jar: one client serves every tenant, so a cookie the upstream set for
      one account's request must never ride along on another's: none is kept;
    * the auth flow and redirect following: credentials are explicit headers and a
      redirect is an answer like any other (``follow_redirects=False``);
    * per-request INFO logging and the ``elapsed`` timer (the client times and logs
      its own calls, by route).

    A caller asking for auth, redirects or event hooks gets httpx's full ``send``.

    ``build_request`` skips httpx's URL parser (~40 of a request's ~100 µs there) for
    the absolute URLs the facade builds itself (:class:`PlainURLs`), and the merging of
    parameters, cookies and a base URL that such a request never needs.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._engine = transport
        self._urls = PlainURLs.of(self.base_url)
        self._defaults_source: list[tuple[bytes, bytes, bytes]] | None = None
        self._defaults: list[tuple[bytes, bytes, bytes]] = []
        self._default_names: frozenset[bytes] = frozenset()

    def build_request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        json: Any = None,
        headers: Any = None,
        **kwargs: Any,
    ) -> httpx.Request:
        """httpx's ``build_request``, shorter for a plain absolute URL and nothing else."""
        parsed = None
        # ``stream()`` passes every argument, most of them unset.
        plain = (
            all(v is None or v is httpx.USE_CLIENT_DEFAULT for v in kwargs.values())
            and kwargs.keys() <= _UNSET_ARGUMENTS
        )
        if plain and not self.cookies and isinstance(url, str) and self._urls is not None:
            parsed = self._urls.parse(url)
        if parsed is None:
            return super().build_request(method, url, json=json, headers=headers, **kwargs)
        if json is None and method in _BODILESS:
            lean = self._bodiless(method, parsed, headers)
            if lean is not None:
                return lean
        merged = self.headers.copy()
        if headers:
            merged.update(headers)
        return httpx.Request(
            method, parsed, json=json, headers=merged, extensions={"timeout": self._timeouts}
        )

    def _bodiless(
        self, method: str, url: httpx.URL, headers: Mapping[str, str] | None
    ) -> httpx.Request | None:
        """The request httpx would build for a body-less method, built without normalising
        the client's default headers again (~25 µs of a request's ~36 there): they are
        encoded once, and only this request's own (str) headers are encoded here. A
        request header that would replace a default takes httpx's own path."""
        source = self.headers._list
        if source != self._defaults_source:
            self._defaults_source = list(source)
            self._defaults = [item for item in source if item[1] != b"host"]
            self._default_names = frozenset(item[1] for item in source)
        items = [(b"Host", b"host", url.netloc), *self._defaults]
        if headers:
            for name, value in headers.items():
                key = name.encode("ascii")
                lower = key.lower()
                if lower in self._default_names or not isinstance(value, str):
                    return None
                items.append((key, lower, value.encode("ascii")))
        request = httpx.Request.__new__(httpx.Request)
        request.method = method
        request.url = url
        request.headers = httpx.Headers.__new__(httpx.Headers)
        request.headers._list = items
        request.headers._encoding = None
        request.extensions = {"timeout": self._timeouts}
        request.stream = httpx.ByteStream(b"")
        request._content = b""
        return request

    @property
    def _timeouts(self) -> dict[str, float | None]:
        return self.timeout.as_dict()

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Send ``request`` as it is through the transport (see the class docstring)."""
        if (
            auth is not httpx.USE_CLIENT_DEFAULT
            or follow_redirects is not httpx.USE_CLIENT_DEFAULT
            or self.auth is not None
            or self.follow_redirects
            or any(self.event_hooks.values())
        ):
            return await super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        try:
            response = await self._engine.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # what httpx's own send guarantees
            raise
        response.request = request
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response


#: A path and query as the facade writes them: unreserved and sub-delimiter characters,
#: ``:@/?``, and well-formed percent escapes; httpx's parser leaves such text as it is.
_PLAIN = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")


class PlainURLs:
    """Absolute URLs under one origin, made without httpx's parser when that changes nothing.

    httpx's parser checks every character, quotes what needs quoting and removes dot
    segments; a URL of the origin whose path and query are already plain (``_PLAIN``,
    no ``/.``, no fragment) comes out of it unchanged, so it is assembled from its parts.
    Anything else goes through the parser. The shortcut is checked against the parser
    when it is made and, in the tests, on every kind of URL the facade writes.
    """

    def __init__(self, origin: str, parts: ParseResult) -> None:
        self.origin = origin
        self.parts = parts

    @classmethod
    def of(cls, base: httpx.URL) -> PlainURLs | None:
        """The shortcut for ``base``'s origin, or ``None`` when it would not be exact."""
        if not base.is_absolute_url or base.fragment or base.userinfo:
            return None
        urls = cls(f"{base.scheme}://{base.netloc.decode('ascii')}", base._uri_reference)
        probe = urls.origin + "/api/v1/customers?limit=5&starting_after=cus_1"
        return urls if urls.parse(probe) == httpx.URL(probe) else None

    def parse(self, url: str) -> httpx.URL | None:
        """``url`` as ``httpx.URL(url)`` would make it; ``None`` when it is not plain."""
        if not url.startswith(self.origin):
            return None
        rest = url[len(self.origin) :]
        if not rest.startswith("/") or "/." in rest or not _PLAIN.fullmatch(rest):
            return None
        path, question, query = rest.partition("?")
        parsed = httpx.URL.__new__(httpx.URL)
        parsed._uri_reference = self.parts._replace(
            path=path, query=query if question else None, fragment=None
        )
        return parsed


def network_transport(config: UpstreamConfig) -> httpx.AsyncBaseTransport:
    """The transport for real upstream sockets, per ``config.upstream_engine``."""
    limits = httpx.Limits(
        # The bulkhead admits at most this many, so this pool never queues.
        max_connections=config.max_connections,
        max_keepalive_connections=config.max_keepalive_connections,
        keepalive_expiry=config.keepalive_expiry,
    )
    engine = UpstreamEngine(config.upstream_engine)
    if engine is UpstreamEngine.AIOHTTP:
        return AiohttpEngine(limits)
    if engine is UpstreamEngine.HTTPTOOLS:
        return WireEngine(limits)
    return httpx.AsyncHTTPTransport(limits=limits)
