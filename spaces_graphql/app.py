"""The facade's ASGI app: ``/graphql``, ``/healthz``, ``/readyz``, ``/metrics``, ``/hooks/…``."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable

import httpx
import strawberry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from graph.schema import schema_for
from resolvers.errors import ErrorCode
from resolvers.targets import HostResolver, system_resolver
from spaces_graphql import gc_tuning, graphiql
from spaces_graphql.admin import metrics_endpoint
from spaces_graphql.compression import Compression
from spaces_graphql.example import EXAMPLE_QUERY
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


class Served:
    """What the app answers with while its lifespan runs: one opened runtime, its handlers.

    The lifespan builds it from a complete :class:`Runtime` (``Runtime.open``) and
    drops it when the runtime closes; outside the lifespan there is none, and the
    routes that need it answer 503.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.graphql = GraphQLRoute(runtime)
        self.metrics = metrics_endpoint(runtime)

    async def readyz(self, request: Request) -> Response:
        """Whether the upstream answers HTTP (a 401 for the anonymous probe included)."""
        try:
            response = await self.runtime.client.http.get("account", timeout=3.0)
        except httpx.HTTPError as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, 503)
        if response.status_code >= 500:
            return JSONResponse({"status": "unavailable", "upstream": response.status_code}, 503)
        return JSONResponse({"status": "ready"})

    async def hooks(self, request: Request) -> Response:
        """A REST Hook delivery: answered fast, never waiting on subscribers (the hub enqueues)."""
        body = await request.body()
        if len(body) > MAX_HOOK_BODY:
            return JSONResponse({"message": "too large"}, 413)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"message": "not JSON"}, 400)
        status, reason = await self.runtime.live.receive(request.path_params["secret"], payload)
        return JSONResponse({"status": reason}, status)


class _Serving:
    """The app's one lifecycle cell: the :class:`Served` of the running lifespan, or None.

    The runtime and its handlers never change once built; only this cell is set
    when the lifespan has opened them and cleared when it closes them. Called, it
    is ``/graphql`` (an ASGI app, HTTP and WebSocket).
    """

    def __init__(self) -> None:
        self.served: Served | None = None

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Hands Starlette the handler's own coroutine to await: no extra frame per request.
        served = self.served
        if served is None:
            return _not_ready(scope, receive, send)
        return served.graphql(scope, receive, send)

    async def readyz(self, request: Request) -> Response:
        served = self.served
        return _not_ready_response() if served is None else await served.readyz(request)

    async def hooks(self, request: Request) -> Response:
        served = self.served
        return _not_ready_response() if served is None else await served.hooks(request)

    async def metrics(self, request: Request) -> Response:
        served = self.served
        return _not_ready_response() if served is None else await served.metrics(request)


def _not_ready_response() -> Response:
    return JSONResponse({"message": "not ready"}, 503)


async def _not_ready(scope: Scope, receive: Receive, send: Send) -> None:
    """``/graphql`` outside the lifespan: 503, or a WebSocket closed as unavailable."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1011})
        return
    await _not_ready_response()(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    schema: strawberry.Schema | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve_host: HostResolver = system_resolver,
) -> Starlette:
    """The facade as an ASGI app.

    ``schema`` is what it executes (by default ``graph.schema.schema_for``, with or
    without the short paths as ``settings.short_paths`` says, and as the Apollo
    Federation subgraph when ``settings.federation``). ``transport`` lets
    tests route upstream calls in-process; ``resolve_host`` lets them answer REST
    Hook target names without DNS. The lifespan opens the runtime
    (:meth:`Runtime.open`) and closes it; ``app.state.runtime`` is it meanwhile.
    """
    settings = settings or Settings.load()
    federation = settings.federation_version if settings.federation else None
    served_schema = schema if schema is not None else schema_for(settings.short_paths, federation)
    serving = _Serving()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await Runtime.open(
            settings, schema=served_schema, transport=transport, resolve_host=resolve_host
        )
        try:
            served = Served(runtime)
            app.state.runtime = runtime
            app.state.graphql_ws = served.graphql.ws
            serving.served = served
            gc_tuning.tune(settings.gc_threshold)
            try:
                yield
            finally:
                serving.served = None
                del app.state.runtime, app.state.graphql_ws
        finally:
            await runtime.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

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
            Route("/hooks/{secret}", serving.hooks, methods=["POST"]),
            Route("/graphql", serving),
            WebSocketRoute("/graphql", serving),
            Route("/healthz", healthz),
            Route("/readyz", serving.readyz),
            Route("/metrics", serving.metrics),
            *ide,
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.schema = served_schema
    return app
