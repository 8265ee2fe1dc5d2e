"""Metrics (Prometheus text) and one structured access-log record per operation."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from spaces_graphql.logs import redact

access_log = logging.getLogger("spaces_graphql.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def request_id(headers: Mapping[str, str]) -> str:
    """The caller's ``X-Request-Id`` when it is sane, else a new one."""
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else secrets.token_hex(16)


def child_traceparent(headers: Mapping[str, str]) -> str:
    """A W3C ``traceparent`` for upstream calls: the caller's trace, our own span."""
    match = _TRACEPARENT.match(headers.get("traceparent", "").strip().lower())
    trace_id = match.group(1) if match and match.group(1) != "0" * 32 else secrets.token_hex(16)
    flags = match.group(3) if match else "01"
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


class _Live(Collector):
    """Gauges read at scrape time from whoever owns the numbers."""

    def __init__(self, read: Callable[[], Mapping[str, float]]) -> None:
        self.read = read

    def collect(self) -> Iterable[Metric]:
        for name, value in self.read().items():
            family = GaugeMetricFamily(f"spaces_graphql_{name}", name.replace("_", " "))
            family.add_metric([], value)
            yield family

    def describe(self) -> Iterable[Metric]:
        return []


class Metrics:
    """One registry per app, so tests and workers never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.operations = Counter(
            "spaces_graphql_operations",
            "GraphQL operations by type and outcome",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.operation_seconds = Histogram(
            "spaces_graphql_operation_seconds",
            "GraphQL operation latency by type and outcome",
            ["type", "outcome"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.upstream = Counter(
            "spaces_graphql_upstream_requests",
            "Upstream requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.upstream_seconds = Histogram(
            "spaces_graphql_upstream_seconds",
            "Upstream request latency by route template",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._upstream_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.rejections = Counter(
            "spaces_graphql_limit_rejections",
            "Requests refused by a limit, by reason",
            ["reason"],
            registry=self.registry,
        )

    def watch(self, read: Callable[[], Mapping[str, float]]) -> None:
        """Expose gauges computed at scrape time (cache counters, breaker, subscribers)."""
        self.registry.register(_Live(read))

    def observe_upstream(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._upstream_children.get(key)
        if children is None:
            # ``labels()`` validates and locks on every call (~4 µs, twice per upstream
            # request); the children it returns are stable, and route templates few.
            children = self._upstream_children[key] = (
                self.upstream.labels(method, route, str(status)),
                self.upstream_seconds.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class AccessFields(dict[str, Any]):
    """An access-log record's message: its fields, which the JSON formatter lays out as
    top-level keys (:mod:`spaces_graphql.logs`). As text (``getMessage()``, the text format,
    test captures) it reads as the same fields in compact JSON."""

    def __str__(self) -> str:
        return json.dumps(self, separators=(",", ":"), default=str)


def log_operation(**fields: Any) -> None:
    """One access-log line per operation, on the ``spaces_graphql.access`` logger.

    Callers pass ``request_id``, ``transport``, ``operation``, ``type``, ``status``,
    ``outcome``, ``duration_ms``, ``cost``, ``upstream_requests``, ``cache_hits`` and
    ``caller`` (a hash, never the token). Any key named like a token, an authorization or
    variables is dropped, whoever passes it: the log never carries credentials or data.
    """
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(AccessFields(redact(fields)))
