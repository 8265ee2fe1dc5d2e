"""One operation pipeline for every transport: GraphQL over HTTP (GET, POST) and WebSocket.

Every limit and policy is decided here, in this order, before execution and
before any upstream call:

1. persisted-query resolution (APQ, the allowlist manifest);
2. the production GET policy: GET runs only operations already persisted;
3. parse and validate (``Preflight.prepare``: tokens, depth, aliases,
   directives, field repeats, introspection and suggestions in production,
   arguments), operation selection (several operations need
   ``operationName`` on every transport), variables and cost;
4. in a federation subgraph, ``_service``'s secret and ``_entities``' list
   (``spaces_graphql/subgraph.py``); then the credential: an operation needs a
   token unless it is made only of ``login`` (:func:`login_only`) or of an admitted
   ``_service``, which run as the anonymous caller of their client address whether
   or not a token came with them (``spaces_graphql/auth.py``);
5. the transport's operation types (GET: queries; HTTP: no subscriptions);
6. the rate limit (:class:`~spaces_graphql.ratelimit.Admission`).

A refusal is one exception, :class:`Refused`, carrying a :class:`Code` and the
GraphQL errors; each transport maps it (HTTP to a status and headers, the
WebSocket to an ``error`` message). Then the operation runs the document
pre-flight parsed: the Context carries it and the schema's ``PreparedDocument``
extension hands it to Strawberry, which neither parses nor validates again.

Variables: execution gets the same raw ``variables`` pre-flight coerced, and
graphql-core coerces them again. Coercion is pure (the same raw values and
definitions give the same values, with no I/O), so pre-flight's verdict and
its cost, computed from the coerced values, hold for what runs.

Each operation, refused or run, gives one access-log line (with ``transport``)
and one sample in the operation metrics: :meth:`Pipeline.finish`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from graphql import FieldNode, GraphQLError, OperationType
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.types import ExecutionResult

from graph.context import Caller, Context
from graph.federation import Subgraph
from graph.mutation import LOGIN_REFUSED
from resolvers.errors import ErrorCode
from spaces_graphql import subgraph
from spaces_graphql.auth import MISSING_TOKEN, anonymous_caller, is_anonymous
from spaces_graphql.observability import child_traceparent, log_operation
from spaces_graphql.persisted import PersistedQueryError, Resolved
from spaces_graphql.preflight import Prepared, RequestError
from spaces_graphql.ratelimit import Admission, Decision
from spaces_graphql.runtime import Runtime


class Transport(StrEnum):
    """How an operation arrived."""

    HTTP_GET = "http-get"
    HTTP_POST = "http-post"
    WS = "ws"


#: Refusal codes are the facade's one closed set of ``extensions.code`` values.
Code = ErrorCode


def code_of(code: str | None, default: ErrorCode) -> ErrorCode:
    """``code`` as an :class:`ErrorCode`, or ``default`` when it is none of them."""
    try:
        return ErrorCode(code or "")
    except ValueError:
        return default


class Outcome(StrEnum):
    """How an admitted operation ended (refusals log their code, lower-cased)."""

    OK = "ok"
    PARTIAL = "partial"
    ERROR = "error"
    UNAUTHENTICATED = "unauthenticated"
    CLIENT_GONE = "client_gone"
    CANCELLED = "cancelled"


#: Refusals that are part of a normal exchange and cost no rate-limit points.
_FREE = frozenset({Code.PERSISTED_QUERY_NOT_FOUND, Code.RATE_LIMITED})
#: Metric reasons for ``spaces_graphql_limit_rejections``.
_REJECTION_REASON = {
    Code.QUERY_TOO_COMPLEX: "complexity",
    Code.RATE_LIMITED: "rate_limit",
    Code.PERSISTED_QUERY_NOT_ALLOWED: "not_allowlisted",
}


@dataclass
class Operation:
    """One operation through the pipeline: what was asked, and what the log records."""

    transport: Transport
    request_id: str
    caller: Caller | None = None
    client: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: str | None = None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] | None = None
    started: float = field(default_factory=time.perf_counter)
    prepared: Prepared | None = None
    type: str = "unknown"
    name: str | None = None
    cost: int = 0
    outcome: str = Outcome.OK.value
    limit: Decision | None = None
    context: Context | None = None


class Refused(Exception):
    """An operation refused before execution, with the GraphQL errors to answer."""

    def __init__(
        self, code: Code, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or [{"message": message, "extensions": {"code": code.value}}]
        #: The bucket's state for RATE_LIMITED (Retry-After, X-RateLimit-*).
        self.limit: Decision | None = None


class Pipeline:
    """Admit, run and record operations, the same way for every transport."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.admission = Admission(lambda: runtime.limiter)
        #: Serving a federation subgraph (whatever the settings say: the schema decides).
        self.subgraph = isinstance(runtime.schema, Subgraph)

    # --- admission ------------------------------------------------------------------

    async def admit(self, op: Operation) -> None:
        """Run every check in order; fills ``op`` or raises :class:`Refused`."""
        try:
            resolved = await self._resolve(op)
            prepared = self._prepare(op, resolved.query)
            service_only = self._federation_policy(op, prepared)
            self._credential_policy(op, prepared, service_only)
            if resolved.register is not None:
                await self.rt.persisted.register(resolved.register, resolved.query)
            self._transport_policy(op, prepared)
            await self._rate_limit(op, prepared.cost)
        except Refused as refusal:
            op.outcome = refusal.code.value.lower()
            reason = _REJECTION_REASON.get(refusal.code)
            if reason:
                self.rt.metrics.rejections.labels(reason).inc()
            if refusal.code not in _FREE and self.settings.rate_limited and op.caller:
                decision = await self.admission.refused_early(op.caller.key, op.client)
                if not decision.allowed:
                    raise self._rate_limited(op, decision, 1) from None
            raise

    async def _resolve(self, op: Operation) -> Resolved:
        s = self.settings
        get = op.transport is Transport.HTTP_GET
        try:
            if s.persisted_queries or self.rt.persisted.allowlist:
                # Production GET only looks up: it never registers a document.
                register = not (get and not s.development)
                resolved = await self.rt.persisted.resolve(
                    op.query, op.extensions, register=register
                )
            elif op.query is None:
                raise PersistedQueryError("send `query`", ErrorCode.BAD_REQUEST)
            else:
                resolved = Resolved(op.query, False)
        except PersistedQueryError as exc:
            raise Refused(code_of(exc.code, Code.BAD_REQUEST), exc.message) from None
        if get and not s.development and not resolved.by_hash:
            raise Refused(
                Code.METHOD_NOT_ALLOWED,
                "GET runs only persisted queries here; send the query with POST",
            )
        return resolved

    def _prepare(self, op: Operation, query: str) -> Prepared:
        try:
            prepared = self.rt.preflight.prepare(query, op.variables, op.operation_name)
        except RequestError as exc:
            code = code_of(exc.code, Code.GRAPHQL_VALIDATION_FAILED)
            raise Refused(code, str(exc), [_format(e) for e in exc.errors]) from None
        # Pre-flight's operation selection refused several operations without a name.
        op.prepared = prepared
        op.query = query
        op.type = prepared.operation_type.value
        op.name = prepared.operation_name
        op.cost = prepared.cost
        return prepared

    def _federation_policy(self, op: Operation, prepared: Prepared) -> bool:
        """The subgraph's ``_service`` secret and ``_entities`` list (``subgraph.py``);
        whether the operation is an admitted ``_service``-only query."""
        if not self.subgraph:
            return False  # the plain schema has neither field: validation refused them
        roots = subgraph.query_roots(prepared)  # walked once for every check
        if subgraph.selects_service(roots):
            refusal = subgraph.service_refusal(self.settings, op.headers)
            if refusal is not None:
                raise Refused(subgraph.SERVICE_REFUSED, refusal)
        if bad := subgraph.representation_errors(roots, prepared.variables):
            raise Refused(Code.BAD_USER_INPUT, bad[0].message, [_format(e) for e in bad])
        return subgraph.service_only(roots)

    @staticmethod
    def _credential_policy(op: Operation, prepared: Prepared, service_only: bool) -> None:
        """Only a login-only operation runs without a token; it always runs anonymous.

        Anonymous, so that every login attempt is charged to its client address
        (a token that came along proves nothing about the email and password). So
        does a subgraph's ``_service``-only query that ``_federation_policy`` let
        through: it makes no upstream call.
        """
        if op.caller is None:
            return
        if login_only(prepared) or service_only:
            op.caller = anonymous_caller(op.client)
        elif is_anonymous(op.caller):
            raise Refused(Code.UNAUTHENTICATED, MISSING_TOKEN)

    def _transport_policy(self, op: Operation, prepared: Prepared) -> None:
        kind = prepared.operation_type
        if op.transport is Transport.HTTP_GET and kind is not OperationType.QUERY:
            raise Refused(
                Code.METHOD_NOT_ALLOWED,
                f"{kind.value}s cannot be sent with GET; send them with POST",
            )
        if op.transport is not Transport.WS and kind is OperationType.SUBSCRIPTION:
            raise Refused(
                Code.BAD_REQUEST, "subscriptions run over WebSocket (graphql-transport-ws)"
            )

    async def _rate_limit(self, op: Operation, cost: int) -> None:
        if not self.settings.rate_limited or op.caller is None:
            return
        points = max(1, cost)
        decision = await self.admission.take(op.caller.key, op.client, points)
        op.limit = decision
        if not decision.allowed:
            raise self._rate_limited(op, decision, points)

    @staticmethod
    def _rate_limited(op: Operation, decision: Decision, points: int) -> Refused:
        op.limit = decision
        op.outcome = Code.RATE_LIMITED.value.lower()
        message = (
            f"rate limit: this operation costs {points} points and {decision.remaining} are "
            f"left; retry in {decision.retry_after} s"
        )
        refusal = Refused(
            Code.RATE_LIMITED,
            message,
            [
                {
                    "message": message,
                    "extensions": {
                        "code": Code.RATE_LIMITED.value,
                        "retryAfter": decision.retry_after,
                    },
                }
            ],
        )
        refusal.limit = decision
        return refusal

    # --- execution ------------------------------------------------------------------

    def context(self, op: Operation, connection: Request | WebSocket) -> Context:
        """A fresh per-operation context carrying the admitted operation's document."""
        assert op.caller is not None and op.prepared is not None
        context = self.rt.context(connection, None, op.caller, child_traceparent(op.headers))
        context.document = op.prepared.document
        op.context = context
        return context

    async def execute(self, op: Operation, context: Context) -> ExecutionResult:
        """Run an admitted query or mutation (its loaders are released after)."""
        tracing = self.rt.tracing
        try:
            with tracing.operation(op.headers, op.name, op.type) as span:
                result = await self.rt.schema.execute(
                    op.query,
                    variable_values=op.variables,
                    context_value=context,
                    operation_name=op.operation_name,
                )
                unauthenticated = await self.settle(op, result)
                tracing.finish(span, 401 if unauthenticated else 200)
        finally:
            context.loaders.release()
        return result

    async def subscribe(self, op: Operation, context: Context) -> AsyncIterator[ExecutionResult]:
        """Run an admitted subscription: its results, event by event."""
        with self.rt.tracing.operation(op.headers, op.name, op.type):
            try:
                stream = await self.rt.schema.subscribe(
                    op.query,
                    variable_values=op.variables,
                    context_value=context,
                    operation_name=op.operation_name,
                )
                async with aclosing(stream):
                    async for result in stream:
                        await self.settle(op, result)
                        yield result
            finally:
                context.loaders.release()

    async def settle(self, op: Operation, result: ExecutionResult) -> bool:
        """Record the outcome; an upstream 401 is charged to the client address. True on 401."""
        errors = result.errors or []
        unauthenticated = any(error_code(e) == Code.UNAUTHENTICATED.value for e in errors)
        refused_login = op.context is not None and op.context.memo.get(LOGIN_REFUSED)
        if refused_login and self.settings.rate_limited and op.caller is not None:
            # Wrong email or password: a userError for the caller, and for the rate limit
            # what an upstream 401 is (the address pays: guessing runs dry).
            await self.admission.refused_upstream(op.caller.key, op.client, max(1, op.cost))
        if unauthenticated:
            op.outcome = Outcome.UNAUTHENTICATED.value
            if self.settings.rate_limited and op.caller is not None:
                await self.admission.refused_upstream(op.caller.key, op.client, max(1, op.cost))
            return True
        if (
            op.caller is not None
            and op.context is not None
            and op.context.upstream.requests
            and not is_anonymous(op.caller)
        ):
            # Only an upstream answer proves a token (``{ __typename }`` proves nothing).
            self.admission.proven(op.caller.key)
        if errors and op.outcome == Outcome.OK.value:
            op.outcome = (Outcome.PARTIAL if result.data else Outcome.ERROR).value
        return False

    # --- records --------------------------------------------------------------------

    def finish(self, op: Operation, status: int | None = None) -> None:
        """One metrics sample and one access-log line for the operation."""
        seconds = time.perf_counter() - op.started
        m = self.rt.metrics
        m.operations.labels(op.type, op.outcome).inc()
        m.operation_seconds.labels(op.type, op.outcome).observe(seconds)
        ctx = op.context
        log_operation(
            request_id=op.request_id,
            transport=op.transport.value,
            operation=op.name or op.operation_name,
            type=op.type,
            status=status,
            outcome=op.outcome,
            duration_ms=round(seconds * 1000, 2),
            cost=op.cost,
            upstream_requests=ctx.upstream.requests if ctx else 0,
            cache_hits=getattr(ctx.upstream, "cache_hits", 0) if ctx else 0,
            caller=op.caller.key[:16] if op.caller else "",
        )


def cost_extension(op: Operation, context: Context) -> dict[str, Any]:
    """The ``cost`` extension every transport adds to an answer: what pre-flight
    priced, and the upstream requests the operation made (so far, mid-stream)."""
    return {"cost": {"requested": op.cost, "upstreamRequests": context.upstream.requests}}


def login_only(prepared: Prepared) -> bool:
    """Whether the operation is a mutation selecting ``login`` (and ``__typename``) only.

    Fragments at the root are not looked into: such an operation needs a token.
    """
    if prepared.operation_type is not OperationType.MUTATION:
        return False
    names = [
        s.name.value if isinstance(s, FieldNode) else None
        for s in prepared.operation.selection_set.selections
    ]
    return "login" in names and all(n in ("login", "__typename") for n in names)


def _format(error: GraphQLError) -> dict[str, Any]:
    return dict(error.formatted)


def error_code(error: GraphQLError) -> str | None:
    """The ``extensions.code`` of a GraphQL error, if it has one."""
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None
