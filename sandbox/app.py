"""The sandbox ASGI app: routing, auth, latency, stats, ETags and JSON errors.

All of ``/api/v1`` goes through one dispatcher so that every request (including
unknown routes, wrong methods and failures) is counted, delayed and answered as JSON
the same way.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
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
from sandbox.api import ROUTES, Call, Handler
from sandbox.config import SandboxConfig
from sandbox.errors import ApiError
from sandbox.faults import inject, token_of
from sandbox.state import SandboxState
from sandbox.store import dumps

__all__ = ["SandboxConfig", "create_app"]

log = logging.getLogger("sandbox")

API_PREFIX = "/api/v1"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _Route:
    def __init__(self, method: str, template: str, handler: Handler, public: bool) -> None:
        self.method = method
        self.template = template
        self.regex: re.Pattern[str] = compile_path(template)[0]
        self.handler = handler
        self.public = public


_COMPILED = [_Route(*r) for r in ROUTES]


def _match(method: str, path: str) -> tuple[_Route | None, dict[str, str], list[str]]:
    """The route for ``method path``, its path parameters, and the methods the path allows."""
    allowed: list[str] = []
    template_hit: _Route | None = None
    for route in _COMPILED:
        found = route.regex.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict(), [route.method]
        allowed.append(route.method)
        template_hit = template_hit or route
    return template_hit, {}, allowed


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps({"message": message}), status, headers, media_type="application/json")


def authenticate(request: Request, state: SandboxState) -> str:
    """The access token from HTTP Basic auth (the username; the password is ignored)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise ApiError(401, "Authentication required: HTTP Basic with the access token as username")
    try:
        token = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "Malformed HTTP Basic credentials") from None
    if not token or state.store.account(token) is None:
        raise ApiError(401, "Invalid access token")
    return token


def _etag_matches(header: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison: W/ prefixes do not matter.
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _api_routes(state: SandboxState) -> list[Route]:
    async def dispatch(request: Request) -> Response:
        method = request.method
        path = "/" + request.path_params.get("rest", "")
        route, params, allowed = _match(method, path)
        template = route.template if route is not None else "/{unknown}"
        key = f"{method} {API_PREFIX}{template}"
        state.stats.hit(key)
        fault = state.faults.take(method, key, request.url.path, token_of(request))
        if fault is not None:
            injected = await inject(fault, request, state.faults)
            if injected is not None:
                return injected
        if state.config.latency_ms > 0:
            await asyncio.sleep(state.config.latency_ms / 1000)
        try:
            if route is None:
                raise ApiError(404, f"Unknown route: {method} {request.url.path}")
            if route.method != method:
                return error(
                    405,
                    f"Method {method} not allowed on {request.url.path}",
                    {"Allow": ", ".join(allowed)},
                )
            account = "" if route.public else authenticate(request, state)
            payload = await route.handler(Call(state, request, account, params))
        except ApiError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="Spaces"'} if exc.status == 401 else None
            return error(exc.status, exc.message, headers)
        except Exception:
            log.exception("unhandled error in %s %s", method, request.url.path)
            return error(500, "Internal server error")
        body = dumps(payload).encode()
        if method != "GET" or not state.config.etag:
            return Response(body, 200, media_type="application/json")
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        match = request.headers.get("if-none-match")
        if match is not None and _etag_matches(match, etag):
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, 200, {"ETag": etag}, media_type="application/json")

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
    """A seeded sandbox of the Spaces REST API.

    ``hook_transport`` replaces the network for REST Hooks deliveries (tests use an
    ``httpx.ASGITransport`` to another app). ``app.state.sandbox`` is the
    :class:`~sandbox.state.SandboxState` (config, stats, ``drain()``).
    """
    state = SandboxState(config or SandboxConfig(), hook_transport)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.aclose()

    app = Starlette(
        routes=[*_api_routes(state), *_sandbox_routes(state)],
        exception_handlers={404: _http_error, 405: _http_error, Exception: _http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app
