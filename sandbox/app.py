"""The sandbox ASGI app: routing, auth, latency, stats, ETags and errors.

All of ``/api/v1`` goes through one dispatcher so that every request (including
unknown routes, wrong methods and failures) is counted, delayed and answered the
same way. The dispatcher and the handlers speak the canonical (spaces) terms; the
configured dialect (``sandbox.dialects``) translates at its edges: the wire spelling
of routes, admission (version, integration key), authentication, list paging, the
answer's shape and status, and the error envelope. Stats and faults always name the
canonical route (``"GET /api/v1/captured_emails"``), whatever the dialect spells.
``/api/v1/openapi.json`` and ``/_sandbox/*`` are the sandbox's own: undialected.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, compile_path

from sandbox import activity
from sandbox.api import CREATES, ROUTES, Call, Handler
from sandbox.config import SandboxConfig
from sandbox.dialects import Dialect, dialect_for
from sandbox.errors import ApiError
from sandbox.faults import inject
from sandbox.front import SandboxApp, url_path
from sandbox.state import SandboxState
from sandbox.store import dumps

__all__ = ["SandboxConfig", "create_app"]

log = logging.getLogger("sandbox")

API_PREFIX = "/api/v1"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Canonical templates of the sandbox's own routes under /api/v1 (never dialected).
OWN = frozenset({"/openapi.json"})


class _Route:
    def __init__(
        self, method: str, template: str, wire: str, handler: Handler, public: bool
    ) -> None:
        self.method = method
        self.template = template  # canonical: stats, faults, CREATES
        self.regex: re.Pattern[str] = compile_path(wire)[0]
        self.handler = handler
        self.public = public


def _routes(dialect: Dialect) -> list[_Route]:
    return [
        _Route(method, template, template if template in OWN else dialect.spell(template),
               handler, public)
        for method, template, handler, public in [*ROUTES, *dialect.extra_routes()]
    ]  # fmt: skip


def _match(
    routes: list[_Route], method: str, path: str
) -> tuple[_Route | None, dict[str, str], list[str]]:
    """The route for ``method path``, its path parameters, and the methods the path allows."""
    allowed: list[str] = []
    template_hit: _Route | None = None
    for route in routes:
        found = route.regex.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict(), [route.method]
        allowed.append(route.method)
        template_hit = template_hit or route
    return template_hit, {}, allowed


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A spaces-shaped error (the sandbox's own routes answer so in every dialect)."""
    return Response(dumps({"message": message}), status, headers, media_type="application/json")


def authenticate(request: Request, state: SandboxState) -> str:
    """The access token from HTTP Basic auth (the username; the password is ignored)."""
    return Dialect(state.config).authenticate(request, state.store)


def _api_routes(state: SandboxState, dialect: Dialect) -> list[Route]:
    routes = _routes(dialect)
    spaces = Dialect(state.config)  # the sandbox's own routes answer in spaces terms

    async def call(request: Request, route: _Route | None, params: dict[str, str],
                   allowed: list[str]) -> Response:  # fmt: skip
        method = request.method
        own = route is not None and route.template in OWN and route.method == method
        speaker = spaces if own else dialect
        try:
            if not own:
                dialect.admit(request)
            if route is None:
                raise ApiError(404, f"Unknown route: {method} {request.url.path}")
            if route.method != method:
                raise ApiError(
                    405,
                    f"Method {method} not allowed on {request.url.path}",
                    headers={"Allow": ", ".join(allowed)},
                )
            account = "" if route.public else dialect.authenticate(request, state.store)
            if account:
                dialect.resolve(state.store, account, route.template, params)
            # A dialect's own handler (launch27's /login) may raise too: all inside.
            ctx = Call(state, request, account, params, dialect.paging)
            payload = await route.handler(ctx)
        except ApiError as exc:
            return speaker.error(exc)
        except Exception:
            log.exception("unhandled error in %s %s", method, request.url.path)
            return speaker.error(ApiError(500, "Internal server error"))
        if own:
            return spaces.respond(request, dumps(dialect.describe(payload)).encode())
        return dialect.answer(
            request,
            account,
            payload,
            window=ctx.window,
            created=f"{method} {route.template}" in CREATES,
        )

    async def dispatch(request: Request) -> Response:
        method = request.method
        path = "/" + request.path_params.get("rest", "")
        route, params, allowed = _match(routes, method, path)
        template = route.template if route is not None else "/{unknown}"
        key = f"{method} {API_PREFIX}{template}"
        state.stats.hit(key)
        token = dialect.token_of(request, state.store)
        fault = state.faults.take(method, key, url_path(request), token)
        if fault is not None:
            injected = await inject(fault, request, state.faults, dialect.error)
            if injected is not None:
                return injected
        if state.config.latency_ms > 0:
            await asyncio.sleep(state.config.latency_ms / 1000)
        return await call(request, route, params, allowed)

    return [
        Route(API_PREFIX, dispatch, methods=ALL_METHODS),
        Route(API_PREFIX + "/{rest:path}", dispatch, methods=ALL_METHODS),
    ]


def _sandbox_routes(state: SandboxState) -> list[Route]:
    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats.snapshot())

    async def reset(request: Request) -> Response:
        state.stats.reset()
        return JSONResponse(state.stats.snapshot())

    async def act(request: Request) -> Response:
        try:
            account = authenticate(request, state)
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, 'the request body must be JSON like {"type": ...}') from None
            kind = body.get("type") if isinstance(body, dict) else None
            return Response(
                dumps(activity.perform(state, account, kind)), 200, media_type="application/json"
            )
        except ApiError as exc:
            return error(exc.status, exc.message)

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state.faults.snapshot())
        if request.method == "DELETE":
            return JSONResponse({"removed": state.faults.clear()})
        try:
            try:
                spec = await request.json()
            except ValueError:
                raise ApiError(400, "the request body must be a JSON object") from None
            added = state.faults.add(spec)
        except ApiError as exc:
            return error(exc.status, exc.message)
        return JSONResponse(state.faults.describe(added), 201)

    async def fault(request: Request) -> Response:
        if not state.faults.clear(request.path_params["id"]):
            return error(404, f"No such fault: {request.path_params['id']}")
        return JSONResponse({"removed": 1})

    return [
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/faults/{id}", fault, methods=["DELETE"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/stats/reset", reset, methods=["POST"]),
        Route("/_sandbox/activity", act, methods=["POST"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return error(exc.status_code, str(exc.detail), exc.headers)
    return error(500, "Internal server error")


def create_app(
    config: SandboxConfig | None = None,
    *,
    hook_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """A seeded sandbox of the Spaces REST API, in ``config.dialect``.

    ``hook_transport`` replaces the network for REST Hooks deliveries (tests use an
    ``httpx.ASGITransport`` to another app). ``app.state.sandbox`` is the
    :class:`~sandbox.state.SandboxState` (config, stats, ``drain()``);
    ``app.state.dialect`` the :class:`~sandbox.dialects.Dialect` it speaks.
    """
    config = config or SandboxConfig()
    dialect = dialect_for(config)
    state = SandboxState(config, hook_transport, dialect.hook_body)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.aclose()

    api = _api_routes(state, dialect)
    app = SandboxApp(
        fast=api,
        on_error=_http_error,
        routes=[*api, *_sandbox_routes(state)],
        exception_handlers={404: _http_error, 405: _http_error, Exception: _http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.dialect = dialect
    return app
