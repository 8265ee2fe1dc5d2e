"""``@defer`` and ``@stream``: incremental delivery, on the operation pipeline.

The wire format is graphql-core 3.3's (graphql-js 17's): a first payload with
``data``, ``pending`` (``id``, ``path``, ``label``) and ``hasNext``, then
payloads with ``incremental`` (``id``, ``data`` or ``items``, ``subPath``,
``errors``), ``completed`` (``id``, ``errors`` when the whole part failed),
new ``pending`` and ``hasNext``; the last says ``hasNext: false``. Apollo
Client 4 reads it with ``GraphQL17Alpha9Handler`` (``@apollo/client/incremental``).

Over HTTP each payload is one part of a ``multipart/mixed`` body, written as
Strawberry's ``MultipartTransport`` writes them (boundary ``graphql``, each part
with its own ``Content-Type`` and ``Content-Length``, ``--graphql--`` at the end)
and flushed as one ASGI message as soon as it is produced. Over WebSocket each
payload is one ``next`` message. A client that did not accept ``multipart/mixed``
over HTTP gets the operation executed without incremental delivery (the
directives removed: one JSON answer with everything), as graphql-js recommends.

An incremental operation runs in one task from its start to its last payload
(:func:`deliver`), so that its upstream scope (the operation deadline, the
cancellation of its reads), its tracing span and its loaders cover the deferred
parts too: Strawberry's own ``on_execute`` hooks end with the first payload.
Over HTTP that task is :class:`Parts`' and the response reads from it; over
WebSocket it is the operation's own task. Cancelling the task (the client left,
or sent ``complete``) closes graphql-core's pending work and cancels every
upstream read still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import aclosing
from typing import Any

import orjson
from graphql import (
    BREAK,
    REMOVE,
    DirectiveNode,
    DocumentNode,
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    Visitor,
    visit,
)
from graphql.execution import InitialIncrementalExecutionResult
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.types import ExecutionResult

from graph.context import Context
from resolvers.errors import ErrorCode, SpacesGraphQLError
from resolvers.resilience import operation_scope
from spaces_graphql.media import weighted
from spaces_graphql.pipeline import Operation, Outcome, Pipeline, cost_extension, error_code

log = logging.getLogger("spaces_graphql.incremental")

MULTIPART = "multipart/mixed"
BOUNDARY = "graphql"
#: The answer's media type; Apollo Client reads the boundary from it.
CONTENT_TYPE = f'{MULTIPART}; boundary="{BOUNDARY}"'
#: The directives that make an operation incremental.
DIRECTIVES = frozenset({"defer", "stream"})
#: What :func:`deliver` yields first: a whole answer (nothing was deferred after all, or
#: the first payload's token was refused), else the first payload; then payloads.
Part = ExecutionResult | dict[str, Any]

_OPEN = f"--{BOUNDARY}".encode()
_END = f"\r\n--{BOUNDARY}".encode()
_CLOSE = b"--\r\n"


#: ``deferSpec=20220824``: the 2022 format (``spaces_graphql/incremental_2022.py``).
DEFER_2022 = "20220824"
#: graphql-js 17's current format (``incrementalSpec=v0.2``, or no parameter).
CURRENT = "current"


def multipart_format(accept: str | None) -> str | None:
    """Which incremental format ``Accept`` asks for: :data:`CURRENT`, :data:`DEFER_2022`
    (``deferSpec=20220824`` without ``incrementalSpec``: Apollo Client 3, and Apollo
    Client 4's ``Defer20220824Handler``), or None without ``multipart/mixed`` (q above 0).

    Wildcards do not count: ``*/*`` is what clients send that read one JSON body.
    """
    for part in (accept or "").split(","):
        ((media, q),) = weighted(part)
        if media != MULTIPART or q <= 0:
            continue
        params = part.lower().replace(" ", "")
        if "deferspec=20220824" in params and "incrementalspec=" not in params:
            return DEFER_2022
        return CURRENT
    return None


class _Finder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        if node.name.value in DIRECTIVES:
            self.found = True
            return BREAK
        return None


class _Stripper(Visitor):
    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        return REMOVE if node.name.value in DIRECTIVES else None


def is_incremental(document: DocumentNode) -> bool:
    """Whether the document writes ``@defer`` or ``@stream`` anywhere."""
    # Every operation asks: a text without either name (most) needs no walk of its AST.
    # Names, not "@defer": GraphQL allows a space between ``@`` and the name.
    text = document.loc.source.body if document.loc is not None else None
    if text is not None and not any(name in text for name in DIRECTIVES):
        return False
    finder = _Finder()
    visit(document, finder)
    return finder.found


def without_incremental(document: DocumentNode) -> DocumentNode:
    """The same document without ``@defer``/``@stream``: what runs when a client
    cannot read incremental payloads. Removing them keeps a valid document valid
    (they only ever add constraints), and the answer is what the incremental
    payloads merge to. The original (pre-flight's cached one) is not modified."""
    stripped: DocumentNode = visit(document, _Stripper())
    return stripped


async def deliver(
    pipeline: Pipeline, op: Operation, context: Context
) -> AsyncGenerator[Part, None]:
    """Run an admitted operation that may defer or stream; its parts, as produced.

    Iterate it from one task only, to its end or to ``aclose``: its upstream scope
    and tracing span are context managers of that task.
    """
    rt = pipeline.rt
    errors: list[GraphQLError] = []
    try:
        with (
            rt.tracing.operation(op.headers, op.name, op.type) as span,
            # Outlives Strawberry's on_execute scope (which ends with the first payload):
            # deferred reads keep the operation's deadline and end with the operation.
            operation_scope(context.config.operation_deadline_seconds),
        ):
            result: Any = await rt.schema.execute(
                op.query,
                variable_values=op.variables,
                context_value=context,
                operation_name=op.operation_name,
            )
            if not isinstance(result, ExperimentalIncrementalExecutionResults):
                unauthenticated = await pipeline.settle(op, result)
                rt.tracing.finish(span, 401 if unauthenticated else 200)
                yield result
                return
            initial: InitialIncrementalExecutionResult = result.initial_result
            errors += initial.errors or ()
            if any(error_code(e) == ErrorCode.UNAUTHENTICATED for e in errors):
                # A refused token voids the answer, as without @defer: one whole (401) answer.
                whole = ExecutionResult(data=None, errors=list(errors))
                await pipeline.settle(op, whole)
                rt.tracing.finish(span, 401)
                await result.subsequent_results.aclose()
                yield whole
                return
            payload = dict(initial.formatted)
            payload.pop("extensions", None)
            payload["extensions"] = cost_extension(op, context)
            yield payload
            async with aclosing(result.subsequent_results) as rest:
                async for item in rest:
                    found = _masked(rt, _errors_of(item.incremental, item.completed))
                    errors += found
                    payload = dict(item.formatted)
                    if not item.has_next:
                        payload["extensions"] = cost_extension(op, context)
                    yield payload
            await pipeline.settle(op, ExecutionResult(data=initial.data, errors=errors or None))
            rt.tracing.finish(span, 200)
    finally:
        context.loaders.release()


def _errors_of(*groups: Iterable[Any] | None) -> list[Any]:
    """The results (incremental or completed) of a payload that carry errors."""
    return [r for group in groups for r in group or () if r.errors]


def _masked(rt: Any, results: list[Any]) -> list[GraphQLError]:
    """Log what is a bug and mask it, as the schema's MaskErrors does for the first
    payload (it never sees the later ones); every error, for the outcome."""
    out: list[GraphQLError] = []
    for r in results:
        rt.schema.process_errors(r.errors)  # logs only unexpected errors
        r.errors = [_mask(e) for e in r.errors]
        out += r.errors
    return out


def _mask(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, SpacesGraphQLError):
        return error
    return GraphQLError(
        "Internal server error.",
        error.nodes,
        error.source,
        error.positions,
        error.path,
        original_error=None,
    )


# --- HTTP: the parts in their own task, and the multipart/mixed body ------------------


class _End:
    """The last item of :class:`Parts`' queue: the source ended (with ``error``)."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class Parts:
    """Drives :func:`deliver` in a task of its own; the HTTP response reads its parts.

    Its own task, because the HTTP layer waits for the first part while watching for
    a disconnect and the response streams the rest from another task; the queue
    holds one part, so a slow reader slows the producer instead of piling up parts.
    """

    def __init__(self, source: AsyncGenerator[Part, None]) -> None:
        self._queue: asyncio.Queue[Part | _End] = asyncio.Queue(maxsize=1)
        self._task = asyncio.create_task(self._pump(source))

    async def _pump(self, source: AsyncGenerator[Part, None]) -> None:
        try:
            async with aclosing(source):
                async for part in source:
                    await self._queue.put(part)
        except Exception as exc:
            log.exception("incremental delivery failed")
            await self._queue.put(_End(exc))
            return
        await self._queue.put(_End(None))

    async def next(self) -> Part | None:
        """The next part; None after the last one. Raises what stopped the source."""
        item = await self._queue.get()
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            return None
        return item

    async def cancel(self) -> None:
        """Stop the operation (pending deferred work and upstream reads) and wait for it."""
        if self._task.done():
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def encode_part(payload: Any, *, first: bool = False, last: bool = False) -> bytes:
    """One payload (or its JSON bytes) as a ``multipart/mixed`` part, with the opening
    boundary if ``first`` and the closing delimiter if ``last``: one ASGI message."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    head = b"\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n"
    chunk = (_OPEN if first else b"") + head % len(body) + body + _END
    return chunk + _CLOSE if last else chunk


class MultipartResponse(Response):
    """A ``multipart/mixed`` answer: the first payload, then each part as it is produced.

    It watches for the client's disconnect itself (the pending parts may wait on a
    slow upstream, with nothing to send that would notice): a disconnect cancels
    :class:`Parts`, and with it the pending work. ``finished(outcome)`` runs once at
    the end (the access-log line): None after the last part, else ``client_gone``
    or ``error`` (the operation failed mid-stream: the body ends without its
    closing delimiter, which clients report as a cut-off answer).
    """

    media_type = CONTENT_TYPE

    def __init__(
        self,
        first: dict[str, Any],
        parts: Parts,
        headers: Mapping[str, str],
        finished: Callable[[str | None], None],
        convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(None, 200, {**headers, "Cache-Control": "no-store"})
        del self.headers["content-length"]  # a streamed body has no length up front
        self.first = first
        self.parts = parts
        self.finished = finished
        #: Each payload's rewriting into the format asked for (None: as produced).
        self.convert = convert

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        state = {"streaming": True, "gone": False}

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    # Only while streaming: after it, nothing is left to cancel.
                    if state["streaming"]:
                        state["gone"] = True
                        task.cancel()
                    return

        watcher = asyncio.create_task(watch())
        outcome: str | None = None
        try:
            await self._stream(send)
        except asyncio.CancelledError:
            if not state["gone"]:
                raise
            task.uncancel()
            outcome = Outcome.CLIENT_GONE.value
        except OSError:  # the server noticed the disconnect on a send first
            outcome = Outcome.CLIENT_GONE.value
        except Exception:  # logged by Parts; end the body, without its closing delimiter
            outcome = Outcome.ERROR.value
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            state["streaming"] = False
            watcher.cancel()
            await self.parts.cancel()
            self.finished(outcome)

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        payload: Any = self.first
        first = True
        while True:
            last = not payload.get("hasNext", False)
            if self.convert is not None:
                payload = self.convert(payload)
            chunk = encode_part(payload, first=first, last=last)
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
            if last:
                return
            first = False
            following = await self.parts.next()
            if following is None:  # the source ended without saying so: close the body
                await send({"type": "http.response.body", "body": _CLOSE, "more_body": False})
                return
            payload = following


def one_part(response: Response) -> Response:
    """A one-shot answer for a client that accepts only ``multipart/mixed``: one part."""
    if response.status_code == 304 or not response.body:
        return response
    dropped = ("content-length", "content-type")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in dropped}
    headers["Content-Type"] = CONTENT_TYPE
    return Response(encode_part(bytes(response.body), first=True, last=True),
                    response.status_code, headers)  # fmt: skip
