"""The sandbox's Starlette app, with a shorter road to the ``/api/v1`` dispatcher.

Every ``/api/v1`` request ends in one endpoint (``sandbox.app``'s dispatcher), which
answers every failure itself; Starlette's layers on the way there (error middleware,
exception middleware, router, route, request/response wrapper, each wrapping ``send``)
cost more CPU than the dispatch of a typical GET. :class:`SandboxApp` matches the two
``/api/v1`` routes exactly as the router would (same regexes, same methods, the router
sees them first) and calls the endpoint directly, doing what those layers would have
done for it: the scope keys they set, and the error middleware's 500 answer (then the
exception is raised on, as Starlette does). Anything else (other paths, other methods,
lifespan, websockets) goes through Starlette unchanged.

The exception middleware is skipped because nothing under the dispatcher raises
Starlette's ``HTTPException`` (the handlers raise ``ApiError``, answered inside); were
one raised, it would get the 500 answer here rather than its own status.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class SandboxApp(Starlette):
    """Starlette, except that ``fast`` routes (the first routes) are served directly."""

    def __init__(self, *, fast: Sequence[Route], on_error: ErrorHandler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Only routes the router would try first qualify: a request they match is theirs.
        assert list(self.router.routes[: len(fast)]) == list(fast)
        self._fast = [(route, route.path_regex, route.methods or set()) for route in fast]
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # User middleware (none by default) must see every request: then no shortcut.
        if scope["type"] == "http" and not self.user_middleware:
            path = get_route_path(scope)
            for route, regex, methods in self._fast:
                found = regex.match(path)
                if found is None:
                    continue
                if scope["method"] not in methods:
                    break  # Starlette's 405 (and its Allow header) it is
                await self._serve(route, found.groupdict(), scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(
        self, route: Route, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        # What Starlette.__call__, Router.app and Route.matches put in the scope (the
        # path convertor of these routes is the identity).
        scope["app"] = self
        scope.setdefault("router", self.router)
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), **params}
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            endpoint: Endpoint = route.endpoint
            response = await endpoint(Request(scope, receive, sending))
            await response(scope, receive, sending)
        except Exception as exc:
            # ServerErrorMiddleware: the installed handler's answer unless an answer has
            # begun, and the exception goes on (servers log it, test clients see it).
            answer = await self._on_error(Request(scope), exc)
            if not started:
                await answer(scope, receive, send)
            raise


@functools.lru_cache(maxsize=4096)
def _path_of(scheme: str, server: tuple[str, int] | None, path: str, host: bytes | None) -> str:
    headers = [] if host is None else [(b"host", host)]
    scope = {
        "scheme": scheme,
        "server": server,
        "path": path,
        "query_string": b"",
        "headers": headers,
    }
    return URL(scope=scope).path


def url_path(request: Request) -> str:
    """``request.url.path``, without building and parsing the whole URL each request.

    Starlette's URL is ``scheme://host`` + path (``?#\\`` escaped) + ``?query``, split
    again; its path depends on the scheme, server, first Host header and path only
    (the query follows the first ``?``), so it is computed once per such combination by
    Starlette itself. A non-ASCII query (which may not decode: Starlette raises) or an
    unusual scope takes Starlette's own road.
    """
    scope = request.scope
    server = scope.get("server")
    query: bytes = scope.get("query_string", b"")
    if not query.isascii() or not (server is None or type(server) is tuple):
        return request.url.path
    host = next((value for key, value in scope["headers"] if key == b"host"), None)
    return _path_of(scope.get("scheme", "http"), server, scope["path"], host)
