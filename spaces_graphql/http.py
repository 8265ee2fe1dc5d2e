"""GraphQL over HTTP, to the letter of the GraphQL-over-HTTP specification.

Everything that can refuse a request happens here, before execution and
before any upstream call: method, media types, body size, batching, auth,
persisted queries, parse/validation limits, variables, cost and rate limit.
Execution itself is Strawberry's (``schema.execute``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from graphql import GraphQLError, OperationType
from starlette.requests import Request
from starlette.responses import Response

from graph.context import Caller, Context
from graph.schema import schema
from resolvers.errors import Unauthenticated
from spaces_graphql.auth import token_from_headers
from spaces_graphql.observability import child_traceparent, log_operation, request_id
from spaces_graphql.persisted import PersistedQueryError
from spaces_graphql.preflight import Prepared, RequestError
from spaces_graphql.runtime import Runtime

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
T = TypeVar("T")


class Refusal(Exception):
    """An HTTP answer decided before execution."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        headers: Mapping[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        self.errors = errors or [{"message": message, "extensions": {"code": code}}]
        self.code = code


class ClientGone(Exception):
    """The client disconnected: its operation was cancelled."""


@dataclass
class Outcome:
    """What the access log and metrics record about one request."""

    request_id: str
    started: float = field(default_factory=time.perf_counter)
    operation_type: str = "unknown"
    operation_name: str | None = None
    outcome: str = "ok"
    cost: int = 0
    caller: str = ""
    context: Context | None = None


def negotiate(accept: str | None) -> str | None:
    """The response media type: graphql-response+json when preferred, JSON by default."""
    if not accept:
        return JSON
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        media = media.lower()
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate = (q, 1, GRAPHQL_RESPONSE)
        elif media in (JSON, "application/*", "*/*"):
            candidate = (q, 0, JSON)
        else:
            continue
        # Higher q wins; on a tie the newer media type does.
        if best is None or candidate[:2] > best[:2]:
            best = candidate
        del index
    return best[2] if best else None


class GraphQLHTTP:
    """The ``/graphql`` endpoint for GET and POST."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.settings = runtime.settings

    async def __call__(self, request: Request) -> Response:
        out = Outcome(request_id(request.headers))
        try:
            response = await self._handle(request, out)
        except Refusal as exc:
            out.outcome = exc.code.lower()
            response = self._refusal(exc, request)
        except ClientGone:
            out.outcome = "client_gone"
            response = Response(status_code=499)
        response.headers["X-Request-Id"] = out.request_id
        self._record(out, response.status_code)
        return response

    # --- the pipeline -------------------------------------------------------------------

    async def _handle(self, request: Request, out: Outcome) -> Response:
        s = self.settings
        media = negotiate(request.headers.get("accept"))
        if media is None:
            raise Refusal(406, f"accept {GRAPHQL_RESPONSE} or {JSON}", "NOT_ACCEPTABLE")
        try:
            caller = Caller.from_token(token_from_headers(request.headers))
        except Unauthenticated as exc:
            raise Refusal(401, exc.message, "UNAUTHENTICATED", _www_auth()) from None
        out.caller = caller.key[:16]
        params = await self._params(request)
        query_text, extensions = params.get("query"), params.get("extensions")
        try:
            if s.persisted_queries or self.rt.persisted.allowlist:
                query, by_hash = await self.rt.persisted.resolve(query_text, extensions)
            elif query_text is None:
                raise PersistedQueryError("send `query`", "BAD_REQUEST")
            else:
                query, by_hash = query_text, False
        except PersistedQueryError as exc:
            status = 200 if exc.code == "PERSISTED_QUERY_NOT_FOUND" else 400
            if exc.code == "PERSISTED_QUERY_NOT_ALLOWED":
                self.rt.metrics.rejections.labels("not_allowlisted").inc()
            raise Refusal(status, exc.message, exc.code) from None
        if request.method == "GET" and not s.development and not by_hash:
            raise Refusal(
                405,
                "GET runs only persisted queries here; send the query with POST",
                "METHOD_NOT_ALLOWED",
                {"Allow": "POST"},
            )
        try:
            prepared = self.rt.preflight.prepare(
                query, params.get("variables"), params.get("operationName")
            )
        except RequestError as exc:
            if exc.code == "QUERY_TOO_COMPLEX":
                self.rt.metrics.rejections.labels("complexity").inc()
            status = 400 if media == GRAPHQL_RESPONSE or exc.code == "BAD_REQUEST" else 200
            raise Refusal(
                status, exc.errors[0].message, exc.code, errors=[_format(e) for e in exc.errors]
            ) from None
        out.operation_type = prepared.operation_type.value
        out.operation_name = prepared.operation_name
        out.cost = prepared.cost
        if request.method == "GET" and prepared.operation_type != OperationType.QUERY:
            raise Refusal(
                405,
                f"{prepared.operation_type.value}s cannot be sent with GET; send them with POST",
                "METHOD_NOT_ALLOWED",
                {"Allow": "POST"},
            )
        if prepared.operation_type == OperationType.SUBSCRIPTION:
            raise Refusal(
                400, "subscriptions run over WebSocket (graphql-transport-ws)", "BAD_REQUEST"
            )
        limit_headers: dict[str, str] = {}
        if s.rate_limited:
            decision = await self.rt.limiter.take(caller.key, max(1, prepared.cost))
            limit_headers = {
                "X-RateLimit-Limit": str(decision.limit),
                "X-RateLimit-Remaining": str(decision.remaining),
                "X-RateLimit-Reset": str(decision.reset_at),
            }
            if not decision.allowed:
                self.rt.metrics.rejections.labels("rate_limit").inc()
                raise Refusal(
                    429,
                    f"rate limit: this operation costs {max(1, prepared.cost)} points and "
                    f"{decision.remaining} are left; retry in {decision.retry_after} s",
                    "RATE_LIMITED",
                    {**limit_headers, "Retry-After": str(decision.retry_after)},
                )
        context = self.rt.context(request, None, caller, child_traceparent(request.headers))
        out.context = context
        try:
            with self.rt.client.tracing.operation(
                request.headers, prepared.operation_name, prepared.operation_type.value
            ) as span:
                body, status, extra = await self._execute(
                    request, query, params, prepared, context, out
                )
                self.rt.client.tracing.finish(span, status)
        finally:
            context.loaders.release()
        headers = {**limit_headers, **extra, "Content-Type": f"{media}; charset=utf-8"}
        if request.method == "GET":
            return self._cacheable(request, body, status, headers)
        return Response(body, status, headers)

    async def _execute(
        self,
        request: Request,
        query: str,
        params: Mapping[str, Any],
        prepared: Prepared,
        context: Context,
        out: Outcome,
    ) -> tuple[bytes, int, dict[str, str]]:
        result = await _unless_disconnected(
            request,
            schema.execute(
                query,
                variable_values=params.get("variables"),
                context_value=context,
                operation_name=params.get("operationName"),
            ),
        )
        errors = [_format(e) for e in result.errors or ()]
        extensions = {
            **(result.extensions or {}),
            "cost": {"requested": prepared.cost, "upstreamRequests": context.upstream.requests},
        }
        headers: dict[str, str] = {}
        if any(_code(e) == "UNAUTHENTICATED" for e in errors):
            # An upstream 401 voids the answer: nothing partial for a refused token.
            out.outcome = "unauthenticated"
            refused = {"data": None, "errors": [e for e in errors if _code(e) == "UNAUTHENTICATED"]}
            return orjson.dumps(refused), 401, _www_auth()
        retry = [
            e["extensions"]["retryAfter"] for e in errors if "retryAfter" in e.get("extensions", {})
        ]
        if retry:
            headers["Retry-After"] = str(max(int(r) for r in retry))
        if errors:
            out.outcome = "partial" if result.data else "error"
        doc: dict[str, Any] = {"data": result.data}
        if errors:
            doc["errors"] = errors
        doc["extensions"] = extensions
        return orjson.dumps(doc), 200, headers

    async def _params(self, request: Request) -> dict[str, Any]:
        """The request's GraphQL parameters, checked for type (400 otherwise)."""
        s = self.settings
        if request.method == "GET":
            raw: dict[str, Any] = dict(request.query_params)
            for key in ("variables", "extensions"):
                if key in raw:
                    try:
                        raw[key] = orjson.loads(raw[key])
                    except orjson.JSONDecodeError:
                        raise Refusal(400, f"`{key}` is not JSON", "BAD_REQUEST") from None
        else:
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != JSON:
                raise Refusal(415, f"send the request body as {JSON}", "UNSUPPORTED_MEDIA_TYPE")
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > s.max_body_bytes):
                self.rt.metrics.rejections.labels("body_size").inc()
                raise Refusal(
                    413, f"the body exceeds {s.max_body_bytes} bytes", "PAYLOAD_TOO_LARGE"
                )
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > s.max_body_bytes:
                    self.rt.metrics.rejections.labels("body_size").inc()
                    raise Refusal(
                        413, f"the body exceeds {s.max_body_bytes} bytes", "PAYLOAD_TOO_LARGE"
                    )
            try:
                raw = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise Refusal(400, "the body is not valid JSON", "BAD_REQUEST") from None
            if isinstance(raw, list):
                raise Refusal(400, "batched requests are not supported", "BAD_REQUEST")
            if not isinstance(raw, dict):
                raise Refusal(400, "the body must be a JSON object", "BAD_REQUEST")
        for key, kind in (
            ("query", str),
            ("operationName", str),
            ("variables", dict),
            ("extensions", dict),
        ):
            value = raw.get(key)
            if value is not None and not isinstance(value, kind):
                raise Refusal(
                    400,
                    f"`{key}` must be a {kind.__name__ if kind is str else 'map'}",
                    "BAD_REQUEST",
                )
        return raw

    # --- answers ------------------------------------------------------------------------

    def _refusal(self, exc: Refusal, request: Request) -> Response:
        media = negotiate(request.headers.get("accept")) or JSON
        return Response(
            orjson.dumps({"errors": exc.errors}),
            exc.status,
            {**exc.headers, "Content-Type": f"{media}; charset=utf-8"},
        )

    def _cacheable(
        self, request: Request, body: bytes, status: int, headers: dict[str, str]
    ) -> Response:
        etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {
            **headers,
            "ETag": etag,
            "Cache-Control": "private, no-cache",
            "Vary": "Authorization, Accept",
        }
        wanted = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
        if status == 200 and (etag in wanted or "*" in wanted):
            headers.pop("Content-Type", None)
            return Response(status_code=304, headers=headers)
        return Response(body, status, headers)

    def _record(self, out: Outcome, status: int) -> None:
        seconds = time.perf_counter() - out.started
        m = self.rt.metrics
        m.operations.labels(out.operation_type, out.outcome).inc()
        m.operation_seconds.labels(out.operation_type, out.outcome).observe(seconds)
        ctx = out.context
        log_operation(
            request_id=out.request_id,
            operation=out.operation_name,
            type=out.operation_type,
            status=status,
            outcome=out.outcome,
            duration_ms=round(seconds * 1000, 2),
            cost=out.cost,
            upstream_requests=ctx.upstream.requests if ctx else 0,
            cache_hits=getattr(ctx.upstream, "cache_hits", 0) if ctx else 0,
            caller=out.caller,
        )


def _www_auth() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="spaces-graphql"'}


def _format(error: GraphQLError) -> dict[str, Any]:
    return dict(error.formatted)


def _code(error: Mapping[str, Any]) -> str | None:
    ext = error.get("extensions") or {}
    return ext.get("code") if isinstance(ext, Mapping) else None


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Run ``work``, cancelling it (and its upstream requests) if the client goes away."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    if task in done:
        watcher.cancel()
        return task.result()
    task.cancel()
    raise ClientGone()
