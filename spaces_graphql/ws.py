"""GraphQL over WebSocket: the ``graphql-transport-ws`` protocol, on the operation pipeline.

The server side of graphql-ws's protocol (``PROTOCOL.md`` of enisdenjo/graphql-ws):
``connection_init`` within :attr:`GraphQLWS.init_timeout` seconds (else 4408),
one ``connection_ack``, then ``subscribe``/``next``/``error``/``complete`` per
operation id, and ``ping``/``pong`` at any time. Protocol violations close
the socket with the spec's codes (:class:`Close`). Frames are text (browsers'
clients read nothing else).

The connection holds only the caller and the ``connection_init`` payload.
Every ``subscribe`` goes through :class:`~spaces_graphql.pipeline.Pipeline`,
exactly as an HTTP request does (persisted queries, limits, cost, rate limit,
access log, metrics, deadline), and runs with a fresh Context: a query after
a mutation on the same connection reads current data, and paging over a
long connection accumulates nothing. Subscription events get a fresh context
each (``graph/subscription_root.py``). ``complete`` or a disconnect cancels the
operation's task, and with it the operation's upstream reads. A query with
``@defer``/``@stream`` sends each incremental payload as its own ``next``
(``spaces_graphql/incremental.py``), then ``complete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from contextlib import aclosing
from enum import IntEnum
from typing import Any

import orjson
from graphql import OperationType
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.types import ExecutionResult

from graph.context import Caller, Context
from resolvers.errors import ErrorCode, SpacesGraphQLError, Unauthenticated
from spaces_graphql.auth import token_from_headers
from spaces_graphql.incremental import deliver, is_incremental
from spaces_graphql.pipeline import (
    Operation,
    Outcome,
    Pipeline,
    Refused,
    Transport,
    cost_extension,
)
from spaces_graphql.runtime import Runtime

log = logging.getLogger("spaces_graphql.ws")

SUBPROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT_SECONDS = 10.0


class Close(IntEnum):
    """Close codes of ``graphql-transport-ws``."""

    BAD_REQUEST = 4400  # invalid JSON, an unknown message type, a missing or bad id
    UNAUTHORIZED = 4401  # subscribe before connection_ack
    FORBIDDEN = 4403  # a refused token or origin
    SUBPROTOCOL_NOT_ACCEPTABLE = 4406
    INIT_TIMEOUT = 4408
    DUPLICATE_ID = 4409  # subscribe with an id that is still running
    TOO_MANY = 4429  # a second connection_init; too many connections for one token


class GraphQLWS:
    """The ``/graphql`` WebSocket endpoint (an ASGI app for ``websocket`` scopes)."""

    def __init__(self, runtime: Runtime, pipeline: Pipeline) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.pipeline = pipeline
        self.init_timeout = INIT_TIMEOUT_SECONDS
        #: Open, authenticated connections per token hash (this process).
        self.open: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ws = WebSocket(scope, receive, send)
        if not self._origin_ok(ws.headers.get("origin")):
            await ws.close(code=Close.FORBIDDEN, reason="origin not allowed")
            return
        if SUBPROTOCOL not in scope.get("subprotocols", []):
            # The legacy ``graphql-ws`` protocol (subscriptions-transport-ws) and anything
            # else: accepted only to say why, as graphql-ws servers do.
            await ws.accept()
            await ws.close(
                code=Close.SUBPROTOCOL_NOT_ACCEPTABLE, reason="Subprotocol not acceptable"
            )
            return
        await ws.accept(subprotocol=SUBPROTOCOL)
        await Connection(self, ws).serve()

    def _origin_ok(self, origin: str | None) -> bool:
        # Browsers always send Origin on WebSockets; other clients need no check.
        if origin is None or self.settings.development:
            return True
        return origin in self.settings.origins


class Connection:
    """One WebSocket connection: its caller, its running operations."""

    def __init__(self, server: GraphQLWS, ws: WebSocket) -> None:
        self.server = server
        self.pipeline = server.pipeline
        self.ws = ws
        self.client = ws.client.host if ws.client else ""
        self.caller: Caller | None = None
        self.params: dict[str, Any] | None = None
        self.initialised = False
        self.acknowledged = False
        self.closed = False
        self.gone = False
        self.operations: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()

    async def serve(self) -> None:
        try:
            await self._receive_loop()
        finally:
            self.gone = True
            tasks = list(self.operations.values())
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            if self.acknowledged and self.caller is not None:
                self._release_slot(self.caller.key)

    async def _receive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.server.init_timeout
        while not self.closed:
            try:
                if self.initialised:
                    message = await self.ws.receive()
                else:
                    message = await asyncio.wait_for(self.ws.receive(), deadline - loop.time())
            except TimeoutError:
                await self.close(Close.INIT_TIMEOUT, "Connection initialisation timeout")
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self.close(Close.BAD_REQUEST, "WebSocket message type must be text")
                return
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                await self.close(Close.BAD_REQUEST, "Invalid message: not JSON")
                return
            if not isinstance(data, dict):
                await self.close(Close.BAD_REQUEST, "Invalid message: not a JSON object")
                return
            await self._dispatch(data)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            ident = message.get("id")
            if not isinstance(ident, str):
                await self.close(Close.BAD_REQUEST, "Invalid message: `id` must be a string")
                return
            task = self.operations.pop(ident, None)
            if task is not None:
                task.cancel()
        else:
            await self.close(Close.BAD_REQUEST, f"Invalid message: unknown type {kind!r}")

    # --- connection_init ------------------------------------------------------------

    async def _init(self, payload: Any) -> None:
        if self.initialised:
            await self.close(Close.TOO_MANY, "Too many initialisation requests")
            return
        self.initialised = True
        if payload is not None and not isinstance(payload, dict):
            await self.close(Close.BAD_REQUEST, "Invalid message: `payload` must be an object")
            return
        if await self._authenticate(payload or {}):
            self.acknowledged = True
            await self.send({"type": "connection_ack"})

    async def _authenticate(self, payload: dict[str, Any]) -> bool:
        """The upgrade's token, else ``connection_init``'s; one ``GET account`` proves it."""
        rt, admission = self.server.rt, self.pipeline.admission
        try:
            try:
                token = token_from_headers(self.ws.headers)
            except Unauthenticated:
                header = payload.get("Authorization") or payload.get("authorization")
                token = token_from_headers({"authorization": str(header or "")})
        except Unauthenticated as exc:
            await self.close(Close.FORBIDDEN, f"Forbidden: {exc.message}")
            return False
        caller = Caller.from_token(token)
        limited = self.server.settings.rate_limited
        if limited and not admission.is_proven(caller.key):
            decision = await admission.take(caller.key, self.client, 1)
            if not decision.allowed:
                rt.metrics.rejections.labels("rate_limit").inc()
                await self.close(Close.TOO_MANY, "Rate limited: retry later")
                return False
        if not self._take_slot(caller.key):
            rt.metrics.rejections.labels("ws_connections").inc()
            cap = self.server.settings.max_ws_connections_per_token
            await self.close(
                Close.TOO_MANY, f"Too many WebSocket connections for this token (limit {cap})"
            )
            return False
        try:
            await rt.client.session(token).get("account")
        except SpacesGraphQLError as exc:
            self._release_slot(caller.key)
            if limited and isinstance(exc, Unauthenticated):
                await admission.refused_upstream(caller.key, self.client, 1)
            await self.close(Close.FORBIDDEN, f"Forbidden: {exc.message}"[:120])
            return False
        admission.proven(caller.key)
        self.caller, self.params = caller, payload
        return True

    def _take_slot(self, key: str) -> bool:
        count = self.server.open.get(key, 0)
        if count >= self.server.settings.max_ws_connections_per_token:
            return False
        self.server.open[key] = count + 1
        return True

    def _release_slot(self, key: str) -> None:
        count = self.server.open.get(key, 0) - 1
        if count > 0:
            self.server.open[key] = count
        else:
            self.server.open.pop(key, None)

    # --- operations -----------------------------------------------------------------

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            await self.close(Close.UNAUTHORIZED, "Unauthorized")
            return
        ident, payload = message.get("id"), message.get("payload")
        if not isinstance(ident, str) or not ident:
            await self.close(Close.BAD_REQUEST, "Invalid message: `id` must be a non-empty string")
            return
        if not isinstance(payload, dict):
            await self.close(Close.BAD_REQUEST, "Invalid message: `payload` must be an object")
            return
        if ident in self.operations:
            await self.close(Close.DUPLICATE_ID, f"Subscriber for {ident} already exists")
            return
        task = asyncio.create_task(self._operate(ident, payload))
        self.operations[ident] = task

    async def _operate(self, ident: str, payload: dict[str, Any]) -> None:
        op = Operation(
            Transport.WS,
            secrets.token_hex(16),
            caller=self.caller,
            client=self.client,
            headers=self.ws.headers,
        )
        try:
            await self._run(ident, op, payload)
        except asyncio.CancelledError:
            op.outcome = (Outcome.CLIENT_GONE if self.gone else Outcome.CANCELLED).value
            raise
        except Exception:
            log.exception("WebSocket operation %s failed", ident)
            op.outcome = Outcome.ERROR.value
            error = {"message": "Internal server error.", "extensions": {"code": "INTERNAL"}}
            await self.send({"id": ident, "type": "error", "payload": [error]})
        finally:
            if self.operations.get(ident) is asyncio.current_task():
                del self.operations[ident]
            self.pipeline.finish(op)

    async def _run(self, ident: str, op: Operation, payload: dict[str, Any]) -> None:
        for key, kind in (
            ("query", str),
            ("operationName", str),
            ("variables", dict),
            ("extensions", dict),
        ):
            if payload.get(key) is not None and not isinstance(payload[key], kind):
                op.outcome = "bad_request"
                message = f"`{key}` must be a {kind.__name__ if kind is str else 'map'}"
                error = {"message": message, "extensions": {"code": ErrorCode.BAD_REQUEST}}
                await self.send({"id": ident, "type": "error", "payload": [error]})
                return
        op.query = payload.get("query")
        op.variables = payload.get("variables")
        op.operation_name = payload.get("operationName")
        op.extensions = payload.get("extensions")
        try:
            await self.pipeline.admit(op)
        except Refused as refusal:
            await self.send({"id": ident, "type": "error", "payload": refusal.errors})
            return
        assert op.prepared is not None
        context = self.pipeline.context(op, self.ws)
        context.connection_params = self.params
        if op.prepared.operation_type is OperationType.SUBSCRIPTION:
            async for result in self.pipeline.subscribe(op, context):
                await self.send({"id": ident, "type": "next", "payload": _payload(result)})
        elif is_incremental(op.prepared.document):
            # @defer/@stream: each incremental payload is its own `next` message.
            async with aclosing(deliver(self.pipeline, op, context)) as parts:
                async for part in parts:
                    body = part if isinstance(part, dict) else _whole(op, part, context)
                    await self.send({"id": ident, "type": "next", "payload": body})
        else:
            result = await self.pipeline.execute(op, context)
            body = _whole(op, result, context)
            await self.send({"id": ident, "type": "next", "payload": body})
        await self.send({"id": ident, "type": "complete"})

    # --- frames ---------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """One text frame; nothing once the socket is closing."""
        async with self._send_lock:
            if self.closed or self.ws.application_state is not WebSocketState.CONNECTED:
                return
            try:
                await self.ws.send_text(orjson.dumps(message).decode())
            except Exception:  # the peer went away mid-send: the receive loop ends it
                self.closed = True

    async def close(self, code: Close, reason: str) -> None:
        async with self._send_lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(Exception):
                await self.ws.close(code=int(code), reason=reason)


def _whole(op: Operation, result: ExecutionResult, context: Context) -> dict[str, Any]:
    body = _payload(result)
    body["extensions"] = {**(result.extensions or {}), **cost_extension(op, context)}
    return body


def _payload(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [dict(e.formatted) for e in result.errors]
    return body
