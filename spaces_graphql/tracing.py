"""OpenTelemetry spans: one per operation, one per upstream request (never per field).

Optional: active when the ``otel`` extra is installed and ``otel`` is on in
the settings; the SDK (exporters, sampling) is configured the usual way, by
``OTEL_*`` environment variables or by the embedding application. Without
it, the facade still propagates W3C ``traceparent`` upstream on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from typing import Any

try:  # pragma: no cover - exercised when the extra is installed (it is, in dev)
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover
    trace = None  # type: ignore[assignment]


class Tracing:
    """Spans when enabled; no-ops otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and trace is not None
        self._tracer: Any = trace.get_tracer("spaces_graphql") if self.enabled else None

    @contextlib.contextmanager
    def operation(
        self, headers: MutableMapping[str, str] | Any, name: str | None, kind: str
    ) -> Iterator[Any]:
        """A server span for one GraphQL operation, continuing the caller's trace."""
        if not self.enabled:
            yield None
            return
        parent = propagate.extract(dict(headers))
        with self._tracer.start_as_current_span(
            f"graphql {kind} {name or 'anonymous'}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"graphql.operation.type": kind, "graphql.operation.name": name or ""},
        ) as span:
            yield span

    @contextlib.contextmanager
    def upstream(self, method: str, route: str, headers: MutableMapping[str, str]) -> Iterator[Any]:
        """A client span for one upstream request; injects ``traceparent`` into ``headers``."""
        if not self.enabled:
            yield None
            return
        with self._tracer.start_as_current_span(
            f"{method} {route}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.template": route},
        ) as span:
            propagate.inject(headers)
            yield span

    @staticmethod
    def finish(span: Any, status: int | None, error: BaseException | None = None) -> None:
        if span is None:
            return
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error is not None or (status is not None and status >= 500):
            span.set_status(Status(StatusCode.ERROR, str(error) if error else str(status)))
