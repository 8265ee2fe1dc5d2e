"""Traces continue upstream, metrics name routes not IDs, spans cover operations and calls."""

from __future__ import annotations

import pytest

from resolvers.client import route_template
from tests.support import harness

AUTH = {"Authorization": "Bearer demo-alice"}
METRICS_TOKEN = "metrics-secret-0123456789abcdef"
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_route_templates_hide_ids() -> None:
    assert (
        route_template("customers/cus_1/subscriptions/sub_2")
        == "/customers/{id}/subscriptions/{id}"
    )
    assert route_template("invoices/in_9/pay") == "/invoices/{id}/pay"
    assert route_template("account") == "/account"


async def test_traceparent_continues_upstream_and_metrics_by_route() -> None:
    async with harness(profile="production", metrics_token=METRICS_TOKEN) as h:
        q = "{ customers(first: 2) { nodes { subscriptions(first: 1) { nodes { token } } } } }"
        r = await h.facade.post(
            "/graphql", json={"query": q}, headers={**AUTH, "traceparent": PARENT}
        )
        assert r.status_code == 200
        parents = {c.headers.get("traceparent") for c in h.upstream.calls}
        assert len(parents) == 1
        (sent,) = parents
        assert sent is not None and sent.startswith("00-0af7651916cd43dd8448eb211c80319c-")
        assert sent != PARENT  # our own span id, the caller's trace id
        h.upstream.reset()
        await h.facade.post("/graphql", json={"query": "{ viewer { name } }"}, headers=AUTH)
        (fresh,) = h.upstream.calls
        assert (
            fresh.headers["traceparent"].startswith("00-")
            and "0af76519" not in fresh.headers["traceparent"]
        )
        metrics = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # production: /metrics needs it
        text = (await h.facade.get("/metrics", headers=metrics)).text
        assert 'route="/customers/{id}/subscriptions"' in text and 'status="200"' in text
        assert "cus_" not in text
        assert "spaces_graphql_upstream_seconds_bucket" in text


async def test_cache_hits_are_logged_per_operation(caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    async with harness(profile="production") as h:
        for rid in ("first", "second"):
            await h.facade.post(
                "/graphql",
                json={"query": "{ viewer { name } }"},
                headers={**AUTH, "X-Request-Id": rid},
            )
    lines = {
        json.loads(r.getMessage())["request_id"]: json.loads(r.getMessage()) for r in caplog.records
    }
    assert lines["first"]["cache_hits"] == 0
    assert lines["second"]["cache_hits"] == 1  # revalidated with If-None-Match, 304


async def test_opentelemetry_spans_for_operation_and_upstream_calls() -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    async with harness(profile="production", otel=True) as h:
        q = "query Two { customers(first: 2) { nodes { invoices(first: 1) { nodes { paid } } } } }"
        await h.facade.post("/graphql", json={"query": q}, headers={**AUTH, "traceparent": PARENT})
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert "graphql query Two" in names
    assert names.count("GET /invoices") == 2 and names.count("GET /customers") == 1
    op = next(s for s in spans if s.name == "graphql query Two")
    assert format(op.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert all(s.context.trace_id == op.context.trace_id for s in spans)
    calls = [s for s in spans if s.name.startswith("GET ")]
    assert all(s.parent is not None and s.parent.span_id == op.context.span_id for s in calls)
    assert len(spans) == 4  # one per operation and per upstream request, none per field
