"""The facade's ASGI app: ``/graphql``, ``/healthz``, ``/readyz``."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from graph.context import Caller, Context
from graph.schema import schema
from resolvers.client import SpacesClient
from resolvers.errors import SpacesGraphQLError, Unauthenticated
from resolvers.live.service import LiveEvents
from resolvers.loaders import Loaders
from resolvers.targets import HostResolver, system_resolver
from spaces_graphql.auth import token_from_headers
from spaces_graphql.settings import Settings

log = logging.getLogger("spaces_graphql")
MAX_HOOK_BODY = 1_000_000


def _error_body(error: SpacesGraphQLError) -> dict[str, Any]:
    return {"errors": [{"message": error.message, "extensions": error.extensions}]}


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with the facade's typed context and auth."""

    def __init__(
        self,
        settings: Settings,
        holder: ClientHolder,
        resolve_host: HostResolver = system_resolver,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.development else None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.holder = holder
        self.resolve_host = resolve_host

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
            if not (wants_ide and self.graphql_ide):
                try:
                    token_from_headers(request.headers)
                except Unauthenticated as exc:
                    response = JSONResponse(
                        _error_body(exc),
                        status_code=401,
                        headers={"WWW-Authenticate": 'Bearer realm="spaces-graphql"'},
                    )
                    await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        try:
            caller = Caller.from_token(token_from_headers(request.headers))
        except Unauthenticated:
            # Only the GraphiQL page gets here without a token (``__call__`` refuses
            # the rest); an anonymous caller's upstream calls are refused with 401.
            caller = Caller(token="", key="anonymous")
        upstream = self.holder.client.session(caller.token)
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            caller=caller,
            upstream=upstream,
            loaders=Loaders(upstream),
            memo={},
            live=self.holder.live,
            resolve_host=self.resolve_host,
        )

    async def on_ws_connect(self, context: Context) -> Any:
        """Authenticate a WebSocket: the upgrade's header, else ``connection_init``'s."""
        if not context.caller.token:
            params = context.connection_params or {}
            header = params.get("Authorization") or params.get("authorization")
            try:
                token = token_from_headers({"authorization": str(header or "")})
            except Unauthenticated as exc:
                raise ConnectionRejectionError({"message": exc.message}) from exc
            caller = Caller.from_token(token)
            context.rebind(caller, self.holder.client.session(token))
        try:
            # One cheap upstream read proves the token before anything is registered.
            await context.upstream.get("account")
        except SpacesGraphQLError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        return UNSET

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A mutation sent with GET is refused with 405 and ``Allow: POST``.

        Strawberry answers it with a bare 400; GraphQL over HTTP says 405, and
        the header tells the client what would work.
        """
        try:
            return await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as exc:
            cause = exc.__cause__
            if not isinstance(cause, InvalidOperationTypeError) or request_adapter.method != "GET":
                raise
            sub_response.status_code = 405
            sub_response.headers["Allow"] = "POST"
            message = cause.as_http_error_reason("GET") + "; send them with POST"
            return ExecutionResult(data=None, errors=[GraphQLError(message)])

    async def process_result(
        self, request: Request | WebSocket, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)  # type: ignore[arg-type]
        errors: list[Any] = list(data.get("errors") or [])
        if any(_unauth(e) for e in errors):
            # An upstream 401 voids the whole answer: nothing partial for a refused token.
            return {"data": None, "errors": [e for e in errors if _unauth(e)]}
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        if (
            isinstance(response_data, dict)
            and response_data.get("data") is None
            and any(_unauth(e) for e in response_data.get("errors") or [])
        ):
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="spaces-graphql"'
        return response


def _unauth(error: Any) -> bool:
    return bool((error.get("extensions") or {}).get("code") == "UNAUTHENTICATED")


class ClientHolder:
    """Holds the process's one upstream client between lifespan start and stop."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> None:
        self.settings = settings
        self.transport = transport
        self._client: SpacesClient | None = None
        self.live: LiveEvents | None = None

    @property
    def client(self) -> SpacesClient:
        if self._client is None:
            raise RuntimeError("the upstream client is opened by the app's lifespan")
        return self._client

    async def open(self) -> SpacesClient:
        self._client = SpacesClient(self.settings, self.transport)
        s = self.settings
        self.live = LiveEvents(
            self._client,
            public_url=s.hooks_public_url,
            redis_url=s.redis_url or None,
            state_path=Path(s.hook_state_path) if s.hook_state_path else None,
        )
        await self.live.start()
        return self._client

    async def close(self) -> None:
        if self.live is not None:
            await self.live.close()
            self.live = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None


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
    holder = ClientHolder(settings, transport)
    view = GraphQLView(settings, holder, resolve_host)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await holder.open()
        try:
            yield
        finally:
            await holder.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        # Any HTTP answer (a 401 for the anonymous probe included) proves reachability.
        try:
            response = await holder.client.http.get("account", timeout=3.0)
        except httpx.HTTPError as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, 503)
        if response.status_code >= 500:
            return JSONResponse({"status": "unavailable", "upstream": response.status_code}, 503)
        return JSONResponse({"status": "ready"})

    async def hooks(request: Request) -> Response:
        # Answer fast and never wait on subscribers: the hub only enqueues.
        if holder.live is None:
            return JSONResponse({"message": "not ready"}, 503)
        body = await request.body()
        if len(body) > MAX_HOOK_BODY:
            return JSONResponse({"message": "too large"}, 413)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"message": "not JSON"}, 400)
        status, reason = await holder.live.receive(request.path_params["secret"], payload)
        return JSONResponse({"status": reason}, status)

    app = Starlette(
        routes=[
            Route("/hooks/{secret}", hooks, methods=["POST"]),
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = holder
    return app
