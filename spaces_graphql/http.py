"""GraphQL over HTTP, to the letter of the GraphQL-over-HTTP specification.

Only the HTTP mapping lives here: media negotiation, body parsing, the
token's header, status codes and headers, ETags for GET and cancelling an
operation whose client went away. ``@defer``/``@stream`` answer
``multipart/mixed`` to a client that accepts it (``spaces_graphql/incremental.py``),
one JSON answer otherwise. Every limit and policy is the operation
pipeline's (``spaces_graphql/pipeline.py``), the same as for WebSockets.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import ExecutionResult

from graph.context import Caller, Context
from resolvers.errors import ErrorCode, Unauthenticated
from spaces_graphql.auth import anonymous_caller, optional_token
from spaces_graphql.incremental import (
    DEFER_2022,
    MULTIPART,
    MultipartResponse,
    Parts,
    deliver,
    is_incremental,
    multipart_format,
    one_part,
    without_incremental,
)
from spaces_graphql.incremental_2022 import Defer2022
from spaces_graphql.media import weighted
from spaces_graphql.observability import request_id
from spaces_graphql.pipeline import (
    Code,
    Operation,
    Outcome,
    Pipeline,
    Refused,
    Transport,
    cost_extension,
)
from spaces_graphql.ratelimit import Decision
from spaces_graphql.runtime import Runtime

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
T = TypeVar("T")


class Refusal(Exception):
    """An HTTP answer decided before the pipeline (media type, body, token)."""

    def __init__(
        self, status: int, message: str, code: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        self.errors = [{"message": message, "extensions": {"code": code}}]
        self.code = code


class ClientGone(Exception):
    """The client disconnected: its operation was cancelled."""


def negotiate(accept: str | None) -> str | None:
    """The response media type: graphql-response+json when preferred, JSON by default."""
    if not accept:
        return JSON
    best: tuple[float, int, str] | None = None
    for media, q in weighted(accept):
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
    return best[2] if best else None


class GraphQLHTTP:
    """The ``/graphql`` endpoint for GET and POST."""

    def __init__(self, runtime: Runtime, pipeline: Pipeline) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.pipeline = pipeline

    async def __call__(self, request: Request) -> Response:
        transport = Transport.HTTP_GET if request.method == "GET" else Transport.HTTP_POST
        op = Operation(
            transport,
            request_id(request.headers),
            client=request.client.host if request.client else "",
            headers=request.headers,
        )
        accept = request.headers.get("accept")
        media, multipart = negotiate(accept), multipart_format(accept)
        try:
            response = await self._handle(request, op, media, multipart)
        except Refusal as exc:
            op.outcome = exc.code.lower()
            response = self._answer(exc.errors, exc.status, exc.headers, media)
        except Refused as exc:
            response = self._answer(exc.errors, _status(exc.code, media), _headers(exc), media)
        except ClientGone:
            op.outcome = Outcome.CLIENT_GONE.value
            response = Response(status_code=499)
        if media is None and multipart is not None and not isinstance(response, MultipartResponse):
            response = one_part(response)
        response.headers["X-Request-Id"] = op.request_id
        if isinstance(response, MultipartResponse):
            # Streamed: its access-log line is written after the last part (or the client left).
            return response
        self.pipeline.finish(op, response.status_code)
        return response

    async def _handle(
        self, request: Request, op: Operation, media: str | None, multipart: str | None
    ) -> Response:
        if media is None and multipart is None:
            raise Refusal(
                406,
                f"accept {GRAPHQL_RESPONSE}, {JSON} or {MULTIPART}",
                ErrorCode.NOT_ACCEPTABLE,
            )
        try:
            # No header: an anonymous caller, which the pipeline admits for `login` only.
            token = optional_token(request.headers)
            op.caller = anonymous_caller(op.client) if token is None else Caller.from_token(token)
        except Unauthenticated as exc:
            raise Refusal(401, exc.message, ErrorCode.UNAUTHENTICATED, _www_auth()) from None
        params = await self._params(request)
        op.query = params.get("query")
        op.variables = params.get("variables")
        op.operation_name = params.get("operationName")
        op.extensions = params.get("extensions")
        await self.pipeline.admit(op)
        context = self.pipeline.context(op, request)
        assert op.prepared is not None
        if is_incremental(op.prepared.document):
            if multipart is not None:
                return await self._incremental(request, op, context, media, multipart)
            # The client reads one JSON answer: the same operation, delivered whole.
            context.document = without_incremental(op.prepared.document)
        result = await _unless_disconnected(request, self.pipeline.execute(op, context))
        return self._whole(request, op, result, context, media)

    async def _incremental(
        self, request: Request, op: Operation, context: Context, media: str | None, form: str
    ) -> Response:
        """``@defer``/``@stream`` for a client that reads ``multipart/mixed``.

        The status is decided on the first payload (401 for a refused token, as
        without the directives); the rest streams after it.
        """
        parts = Parts(deliver(self.pipeline, op, context))
        try:
            first = await _unless_disconnected(request, parts.next())
        except BaseException:
            await parts.cancel()
            raise
        if first is None or isinstance(first, ExecutionResult):
            # Nothing was deferred after all (`if: false`), or the token was refused.
            await parts.cancel()
            whole = first if first is not None else ExecutionResult(data=None, errors=None)
            return self._whole(request, op, whole, context, media)

        def finished(outcome: str | None) -> None:
            if outcome is not None:
                op.outcome = outcome
            self.pipeline.finish(op, 200)

        convert = Defer2022().convert if form == DEFER_2022 else None
        return MultipartResponse(first, parts, _limit_headers(op.limit), finished, convert)

    def _whole(
        self,
        request: Request,
        op: Operation,
        result: ExecutionResult,
        context: Context,
        media: str | None,
    ) -> Response:
        body, status, extra = self._result(op, result, context)
        headers = {
            **_limit_headers(op.limit),
            **extra,
            "Content-Type": f"{media or JSON}; charset=utf-8",
        }
        if request.method == "GET":
            return self._cacheable(request, body, status, headers)
        return Response(body, status, headers)

    def _result(
        self, op: Operation, result: ExecutionResult, context: Context
    ) -> tuple[bytes, int, dict[str, str]]:
        errors = [_format(e) for e in result.errors or ()]
        if op.outcome == Outcome.UNAUTHENTICATED.value:
            # An upstream 401 voids the answer: nothing partial for a refused token.
            refused = {
                "data": None,
                "errors": [e for e in errors if _code(e) == ErrorCode.UNAUTHENTICATED],
            }
            return orjson.dumps(refused), 401, _www_auth()
        headers: dict[str, str] = {}
        retry = [
            e["extensions"]["retryAfter"] for e in errors if "retryAfter" in e.get("extensions", {})
        ]
        if retry:
            headers["Retry-After"] = str(max(int(r) for r in retry))
        doc: dict[str, Any] = {"data": result.data}
        if errors:
            doc["errors"] = errors
        doc["extensions"] = {**(result.extensions or {}), **cost_extension(op, context)}
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
                        raise Refusal(400, f"`{key}` is not JSON", ErrorCode.BAD_REQUEST) from None
        else:
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != JSON:
                raise Refusal(
                    415, f"send the request body as {JSON}", ErrorCode.UNSUPPORTED_MEDIA_TYPE
                )
            length = request.headers.get("content-length")
            if length is not None and (
                not (length.isascii() and length.isdigit()) or int(length) > s.max_body_bytes
            ):
                self.rt.metrics.rejections.labels("body_size").inc()
                raise Refusal(
                    413, f"the body exceeds {s.max_body_bytes} bytes", ErrorCode.PAYLOAD_TOO_LARGE
                )
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > s.max_body_bytes:
                    self.rt.metrics.rejections.labels("body_size").inc()
                    raise Refusal(
                        413,
                        f"the body exceeds {s.max_body_bytes} bytes",
                        ErrorCode.PAYLOAD_TOO_LARGE,
                    )
            try:
                raw = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise Refusal(400, "the body is not valid JSON", ErrorCode.BAD_REQUEST) from None
            if isinstance(raw, list):
                raise Refusal(400, "batched requests are not supported", ErrorCode.BAD_REQUEST)
            if not isinstance(raw, dict):
                raise Refusal(400, "the body must be a JSON object", ErrorCode.BAD_REQUEST)
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
                    ErrorCode.BAD_REQUEST,
                )
        return raw

    # --- answers ------------------------------------------------------------------------

    @staticmethod
    def _answer(
        errors: list[dict[str, Any]], status: int, headers: Mapping[str, str], media: str | None
    ) -> Response:
        return Response(
            orjson.dumps({"errors": errors}),
            status,
            {**headers, "Content-Type": f"{media or JSON}; charset=utf-8"},
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


def _status(code: Code, media: str | None) -> int:
    """A pipeline refusal's HTTP status (GraphQL over HTTP: 200 for JSON, 4xx for GRJ)."""
    fixed = {
        Code.PERSISTED_QUERY_NOT_FOUND: 200,  # APQ clients retry with the query on this answer
        Code.PERSISTED_QUERY_NOT_ALLOWED: 400,
        Code.PERSISTED_QUERY_NOT_SUPPORTED: 400,
        Code.BAD_REQUEST: 400,
        Code.METHOD_NOT_ALLOWED: 405,
        Code.UNAUTHENTICATED: 401,
        Code.RATE_LIMITED: 429,
    }
    if code in fixed:
        return fixed[code]
    return 400 if media == GRAPHQL_RESPONSE else 200


def _headers(refusal: Refused) -> dict[str, str]:
    if refusal.code is Code.METHOD_NOT_ALLOWED:
        return {"Allow": "POST"}
    if refusal.code is Code.UNAUTHENTICATED:
        return _www_auth()
    if refusal.code is Code.RATE_LIMITED and refusal.limit is not None:
        return {
            **_limit_headers(refusal.limit),
            "Retry-After": str(max(1, refusal.limit.retry_after)),
        }
    return {}


def _limit_headers(decision: Decision | None) -> dict[str, str]:
    if decision is None:
        return {}
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_at),
    }


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
