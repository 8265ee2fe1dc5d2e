"""Fault injection: ``/_sandbox/faults`` makes chosen routes misbehave on purpose.

A loopback helper for resilience tests and demonstrations, never part of the
Spaces contract. A fault matches requests by ``route`` (``"GET
/api/v1/customers/{id}"``, the form ``/_sandbox/stats`` uses) or by ``prefix``
(a path prefix, optionally with ``method``), optionally only for one access
``token``; it lasts for ``count`` matching requests, for ``duration`` seconds,
or until cleared. What it does (``kind``):

=============  ===============================================================
``status``     answer ``status`` (default 503) with a JSON error body
``hang``       wait ``delay`` seconds, then answer normally (a slow upstream);
               a client that gives up first is counted as ``cancelled``
``reset``      close the connection without answering (on a real socket the
               transport is aborted; in-process the app raises
               :class:`FaultConnectionReset`, an ``httpx`` transport error)
``malformed``  answer 200 with truncated JSON
``huge``       answer 200 with a valid JSON body of ``size`` bytes, streamed
``rate_limit`` answer 429 with ``Retry-After: retry_after``
=============  ===============================================================
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sandbox.errors import ApiError
from sandbox.model import Json
from sandbox.store import dumps

KINDS = ("status", "hang", "reset", "malformed", "huge", "rate_limit")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_CHUNK = 64 * 1024


class FaultConnectionReset(httpx.RemoteProtocolError):
    """An in-process stand-in for a reset connection.

    Over ``httpx.ASGITransport`` the app's exception reaches the client as is,
    so subclassing an ``httpx`` transport error makes an in-process client see
    what it would see when a socket is closed without an answer.
    """


@dataclass
class Fault:
    """One active fault and what is left of it."""

    id: str
    kind: str
    method: str | None
    route: str | None
    prefix: str | None
    token: str | None
    status: int
    delay: float
    retry_after: int
    size: int
    remaining: int | None
    expires_at: float | None
    hits: int = 0

    def matches(self, method: str, route: str, path: str, token: str | None) -> bool:
        """Whether a request (``route`` is ``"METHOD /api/v1/template"``) is affected."""
        if self.token is not None and token != self.token:
            return False
        if self.route is not None:
            return route == self.route
        if self.method is not None and method != self.method:
            return False
        return self.prefix is not None and path.startswith(self.prefix)

    def describe(self, now: float) -> Json:
        return {
            "id": self.id,
            "kind": self.kind,
            "route": self.route,
            "method": self.method,
            "prefix": self.prefix,
            "token": self.token,
            "status": self.status,
            "delay": self.delay,
            "retry_after": self.retry_after,
            "size": self.size,
            "remaining": self.remaining,
            "expires_in": None if self.expires_at is None else max(0.0, self.expires_at - now),
            "hits": self.hits,
        }


def _number(spec: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(400, f"{name} must be a number within {low}..{high}")
    return float(value)


def _text(spec: Mapping[str, Any], name: str) -> str | None:
    value = spec.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ApiError(400, f"{name} must be a non-empty string")
    return value


def _normalise_route(route: str) -> str:
    method, _, template = route.strip().partition(" ")
    method = method.upper()
    template = template.strip()
    if method not in METHODS or not template.startswith("/"):
        raise ApiError(400, 'route must look like "GET /api/v1/customers/{id}"')
    if not template.startswith("/api/v1"):
        template = "/api/v1" + template
    return f"{method} {template}"


class FaultTable:
    """The active faults of one sandbox app, plus counters of hung requests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.hangs = {"started": 0, "completed": 0, "cancelled": 0}

    def add(self, spec: Any) -> Fault:
        """Validate a ``POST /_sandbox/faults`` body and activate the fault."""
        if not isinstance(spec, Mapping):
            raise ApiError(400, "the body must be a JSON object")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ApiError(400, f"kind must be one of {', '.join(KINDS)}")
        route, prefix, method = _text(spec, "route"), _text(spec, "prefix"), _text(spec, "method")
        if (route is None) == (prefix is None):
            raise ApiError(400, "give exactly one of route or prefix")
        if method is not None and method.upper() not in METHODS:
            raise ApiError(400, f"method must be one of {', '.join(METHODS)}")
        count = spec.get("count")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ApiError(400, "count must be a positive integer")
        duration = spec.get("duration")
        expires_at = None
        if duration is not None:
            expires_at = self._clock() + _number(spec, "duration", 0, 0.001, 86_400)
        status = int(_number(spec, "status", 503, 100, 599))
        if kind == "status" and status < 400:
            raise ApiError(400, "status must be an error status (400..599)")
        fault = Fault(
            id=f"flt_{next(self._ids)}",
            kind=kind,
            method=method.upper() if method else None,
            route=_normalise_route(route) if route else None,
            prefix=prefix,
            token=_text(spec, "token"),
            status=status,
            delay=_number(spec, "delay", 30, 0, 3600),
            retry_after=int(_number(spec, "retry_after", 1, 0, 86_400)),
            size=int(_number(spec, "size", 11_000_000, 1, 1_000_000_000)),
            remaining=count,
            expires_at=expires_at,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, route: str, path: str, token: str | None) -> Fault | None:
        """The first active fault matching this request, consuming one of its uses."""
        now = self._clock()
        with self._lock:
            self._faults = [f for f in self._faults if f.expires_at is None or f.expires_at > now]
            for fault in self._faults:
                if fault.matches(method, route, path, token):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def describe(self, fault: Fault) -> Json:
        """One fault as ``GET /_sandbox/faults`` lists it."""
        return fault.describe(self._clock())

    def snapshot(self) -> Json:
        now = self._clock()
        with self._lock:
            active = [f for f in self._faults if f.expires_at is None or f.expires_at > now]
            return {"faults": [f.describe(now) for f in active], "hangs": dict(self.hangs)}

    def clear(self, fault_id: str | None = None) -> int:
        """Remove one fault (by id) or all of them; returns how many were removed."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]
            return before - len(self._faults)


async def _disconnected(request: Request) -> None:
    """Return when the client goes away (ASGI ``http.disconnect``)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _hang(fault: Fault, request: Request, table: FaultTable) -> bool:
    """Wait ``fault.delay`` seconds; False when the client went away first."""
    # Read the body first: the disconnect watcher consumes ASGI messages, and the
    # handler that runs after the delay still needs it (Starlette caches it).
    await request.body()
    table.hangs["started"] += 1
    watcher = asyncio.ensure_future(_disconnected(request))
    sleeper = asyncio.ensure_future(asyncio.sleep(fault.delay))
    try:
        await asyncio.wait({watcher, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # In-process (ASGITransport) the client's cancellation arrives as our own.
        table.hangs["cancelled"] += 1
        raise
    finally:
        watcher.cancel()
        sleeper.cancel()
    if not sleeper.done() or sleeper.cancelled():
        table.hangs["cancelled"] += 1
        return False
    table.hangs["completed"] += 1
    return True


def _abort(request: Request) -> Response:
    # uvicorn's receive is a bound method of its request cycle, which holds the
    # socket transport: aborting it closes the connection without an answer, and
    # the cycle then drops whatever the app sends. Elsewhere, raise.
    cycle = getattr(request.receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()
        return Response(status_code=500)
    raise FaultConnectionReset("connection reset by an injected sandbox fault")


async def _huge(size: int) -> AsyncIterator[bytes]:
    head = b'{"object":"list","count":0,"has_more":false,"data":[],"padding":"'
    tail = b'"}'
    padding = max(0, size - len(head) - len(tail))
    yield head
    while padding > 0:
        n = min(padding, _CHUNK)
        padding -= n
        yield b"x" * n
    yield tail


def _plain_error(exc: ApiError) -> Response:
    return Response(
        dumps({"message": exc.message}),
        exc.status,
        exc.headers or None,
        media_type="application/json",
    )


async def inject(
    fault: Fault,
    request: Request,
    table: FaultTable,
    error: Callable[[ApiError], Response] = _plain_error,
) -> Response | None:
    """Apply ``fault``: a response to send instead, or ``None`` to answer normally.

    ``error`` writes the injected error answers (the sandbox dialect's envelope).
    """
    if fault.kind == "hang":
        # Nobody reads an answer to a client that left (499 is nginx's word for it).
        return None if await _hang(fault, request, table) else Response(status_code=499)
    if fault.kind == "reset":
        return _abort(request)
    if fault.kind == "malformed":
        return Response(b'{"object": "list", "data": [{"id": ', 200, media_type="application/json")
    if fault.kind == "huge":
        return StreamingResponse(_huge(fault.size), 200, media_type="application/json")
    if fault.kind == "rate_limit":
        return error(
            ApiError(
                429,
                "Too many requests (injected fault)",
                headers={"Retry-After": str(fault.retry_after)},
            )
        )
    return error(ApiError(fault.status, f"injected fault ({fault.status})"))
