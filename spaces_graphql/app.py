"""The facade's ASGI app: ``/graphql``, ``/healthz``, ``/readyz``, ``/metrics``, ``/hooks/…``."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from resolvers.errors import ErrorCode
from resolvers.targets import HostResolver, system_resolver
from spaces_graphql import graphiql
from spaces_graphql.admin import metrics_endpoint
from spaces_graphql.cli import EXAMPLE_QUERY
from spaces_graphql.compression import Compression
from spaces_graphql.http import GraphQLHTTP
from spaces_graphql.pipeline import Pipeline
from spaces_graphql.runtime import Runtime
from spaces_graphql.settings import Settings
from spaces_graphql.ws import GraphQLWS

log = logging.getLogger("spaces_graphql")
MAX_HOOK_BODY = 1_000_000


class GraphQLRoute:
    """``/graphql``: WebSockets to :class:`GraphQLWS`, HTTP to :class:`GraphQLHTTP`.

    Both run every operation through the one :class:`Pipeline`. In development a
    browser's plain ``GET`` (``Accept: text/html``, no ``query``) gets GraphiQL.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.pipeline = Pipeline(runtime)
        self.ws = GraphQLWS(runtime, self.pipeline)
        self.http = GraphQLHTTP(runtime, self.pipeline)
        self.settings = runtime.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.ws(scope, receive, send)
            return
        request = Request(scope, receive)
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_ide and self.settings.development and "query" not in request.query_params:
            response: Response = graphiql.render_page(
                request, query=EXAMPLE_QUERY, headers=self.settings.ide_default_headers
            )
        elif request.method in ("GET", "POST"):
            response = await self.http(request)
        else:
            response = JSONResponse(
                {
                    "errors": [
                        {
                            "message": "use GET or POST",
                            "extensions": {"code": ErrorCode.METHOD_NOT_ALLOWED},
                        }
                    ]
                },
                405,
                headers={"Allow": "GET, POST"},
            )
        await response(scope, receive, send)


class HeaderLimit:
    """Refuse oversized or malformed request headers before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = scope.get("headers") or []
            size = sum(len(k) + len(v) + 4 for k, v in headers)
            bad = any(b"\r" in v or b"\n" in v or b"\x00" in v for _, v in headers)
            if size > self.max_bytes or bad:
                status = 431 if size > self.max_bytes else 400
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                response = JSONResponse(
                    {"errors": [{"message": "request headers too large or malformed",
                                 "extensions": {"code": ErrorCode.BAD_REQUEST}}]},
                    status,
                )  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


#: Development: a front end on its own dev server on this machine (Vite's :5173,
#: Next's :3000, any port) may call the facade; other origins need ``allowed_origins``.
DEV_ORIGIN_REGEX = r"http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"
#: Request headers a browser may send cross-origin: ours, and those Apollo Client,
#: urql and tracing libraries add (Accept and Content-Type are always allowed).
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "X-Request-Id",
    "traceparent",
    "tracestate",
    "baggage",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
CORS_EXPOSE_HEADERS = (
    "X-Request-Id",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "ETag",
)


def cors_middleware(settings: Settings) -> Middleware | None:
    """CORS: ``allowed_origins`` in any profile, plus loopback dev servers in development.

    Production without ``allowed_origins`` has no CORS at all (same-origin only).
    Credentials are allowed in development only, where the origins are this machine's.
    """
    if not settings.origins and not settings.development:
        return None
    return Middleware(
        CORSMiddleware,
        allow_origins=list(settings.origins),
        allow_origin_regex=DEV_ORIGIN_REGEX if settings.development else None,
        allow_credentials=settings.development,
        allow_methods=["GET", "POST"],
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=600,
    )


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve_host: HostResolver = system_resolver,
) -> Starlette:
    """The facade as an ASGI app.

    ``transport`` lets tests route upstream calls in-process; ``resolve_host``
    lets them answer REST Hook target names without DNS.
    """
    settings = settings or Settings.load()
    runtime = Runtime(settings, transport, resolve_host)
    graphql = GraphQLRoute(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.open()
        try:
            yield
        finally:
            await runtime.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        # Any HTTP answer (a 401 for the anonymous probe included) proves reachability.
        try:
            response = await runtime.client.http.get("account", timeout=3.0)
        except httpx.HTTPError as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, 503)
        if response.status_code >= 500:
            return JSONResponse({"status": "unavailable", "upstream": response.status_code}, 503)
        return JSONResponse({"status": "ready"})

    async def hooks(request: Request) -> Response:
        # Answer fast and never wait on subscribers: the hub only enqueues.
        if runtime.live is None:
            return JSONResponse({"message": "not ready"}, 503)
        body = await request.body()
        if len(body) > MAX_HOOK_BODY:
            return JSONResponse({"message": "too large"}, 413)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"message": "not JSON"}, 400)
        status, reason = await runtime.live.receive(request.path_params["secret"], payload)
        return JSONResponse({"status": reason}, status)

    ide: list[BaseRoute] = []
    if settings.development:
        ide.append(Mount(graphiql.ASSETS_PATH, graphiql.assets(), name="graphiql-assets"))
    middleware = [Middleware(HeaderLimit, max_bytes=settings.max_header_bytes)]
    cors = cors_middleware(settings)
    if cors is not None:
        middleware.append(cors)
    if settings.compression_level and settings.compression_min_bytes:
        # Inside CORS: preflights are answered before it, and it sees every /graphql answer.
        middleware.append(
            Middleware(
                Compression,
                min_bytes=settings.compression_min_bytes,
                level=settings.compression_level,
            )
        )
    app = Starlette(
        routes=[
            Route("/hooks/{secret}", hooks, methods=["POST"]),
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(runtime)),
            *ide,
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.graphql_ws = graphql.ws
    return app
