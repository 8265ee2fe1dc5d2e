"""The facade's ASGI app: ``/graphql``, ``/healthz``, ``/readyz``, ``/metrics``, ``/hooks/…``."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET

from graph.context import Caller, Context
from graph.schema import schema
from resolvers.errors import SpacesGraphQLError, Unauthenticated
from resolvers.targets import HostResolver, system_resolver
from spaces_graphql import graphiql
from spaces_graphql.auth import token_from_headers
from spaces_graphql.cli import EXAMPLE_QUERY
from spaces_graphql.http import GraphQLHTTP
from spaces_graphql.runtime import Runtime
from spaces_graphql.settings import Settings

log = logging.getLogger("spaces_graphql")
MAX_HOOK_BODY = 1_000_000


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's view, for what it does best: WebSockets, and GraphiQL in development.

    GraphQL over HTTP (GET and POST) is :class:`GraphQLHTTP`'s.
    """

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.development else None,
            allow_queries_via_get=True,
        )
        self.rt = runtime
        self.settings = runtime.settings

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the package's own assets (development profile only)."""
        return graphiql.render_page(
            request, query=EXAMPLE_QUERY, headers=self.settings.ide_default_headers
        )

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        try:
            caller = Caller.from_token(token_from_headers(request.headers))
        except Unauthenticated:
            # A WebSocket may authenticate later, in ``connection_init``; until then
            # an anonymous caller's upstream calls would be refused with 401.
            caller = Caller(token="", key="anonymous")
        return self.rt.context(request, response, caller)

    def encode_json(self, data: object) -> str:
        # A str goes out as a text frame: graphql-transport-ws messages are JSON text,
        # and browsers' graphql-ws (GraphiQL's) cannot read binary frames.
        return orjson.dumps(data).decode()

    async def on_ws_connect(self, context: Context) -> Any:
        """Authenticate a WebSocket: the upgrade's header, else ``connection_init``'s."""
        if not context.caller.token:
            params = context.connection_params or {}
            header = params.get("Authorization") or params.get("authorization")
            try:
                token = token_from_headers({"authorization": str(header or "")})
            except Unauthenticated as exc:
                raise ConnectionRejectionError({"message": exc.message}) from exc
            context.rebind(Caller.from_token(token), self.rt.client.session(token))
        try:
            # One cheap upstream read proves the token before anything is registered.
            await context.upstream.get("account")
        except SpacesGraphQLError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        return UNSET


class GraphQLRoute:
    """``/graphql``: the IDE page for browsers, WebSockets to Strawberry, HTTP to ours."""

    def __init__(self, runtime: Runtime) -> None:
        self.view = GraphQLView(runtime)
        self.http = GraphQLHTTP(runtime)
        self.settings = runtime.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            origin = dict(scope.get("headers") or []).get(b"origin")
            if not self._origin_ok(origin):
                await WebSocket(scope, receive, send).close(code=4403, reason="origin not allowed")
                return
            await self.view(scope, receive, send)
            return
        request = Request(scope, receive)
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_ide and self.settings.development and "query" not in request.query_params:
            response = await self.view.render_graphql_ide(request)
        elif request.method in ("GET", "POST"):
            response = await self.http(request)
        else:
            response = JSONResponse(
                {
                    "errors": [
                        {"message": "use GET or POST", "extensions": {"code": "METHOD_NOT_ALLOWED"}}
                    ]
                },
                405,
                headers={"Allow": "GET, POST"},
            )
        await response(scope, receive, send)

    def _origin_ok(self, origin: bytes | None) -> bool:
        # Browsers always send Origin on WebSockets; other clients need no check.
        if origin is None or self.settings.development:
            return True
        return origin.decode("latin-1") in self.settings.origins


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
                                 "extensions": {"code": "BAD_REQUEST"}}]},
                    status,
                )  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


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

    async def metrics(request: Request) -> Response:
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")

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
    if settings.origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id", "traceparent"],
                expose_headers=[
                    "X-Request-Id",
                    "X-RateLimit-Limit",
                    "X-RateLimit-Remaining",
                    "X-RateLimit-Reset",
                    "Retry-After",
                    "ETag",
                ],
                max_age=600,
            )
        )
    app = Starlette(
        routes=[
            Route("/hooks/{secret}", hooks, methods=["POST"]),
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            *ide,
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    return app
