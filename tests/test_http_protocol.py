"""GraphQL over HTTP to the letter, abuse limits, profiles, persisted queries, headers.

Every refusal here is asserted to cost zero upstream requests.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Harness, harness

GRJ = "application/graphql-response+json"
AUTH = {"Authorization": "Bearer demo-alice"}
# Production: /metrics answers only this bearer secret.
METRICS_TOKEN = "metrics-secret-0123456789abcdef"


@pytest.fixture
async def prod() -> AsyncIterator[Harness]:
    """The facade in its production profile (serve's default)."""
    async with harness(profile="production", metrics_token=METRICS_TOKEN) as ready:
        yield ready


async def post(h: Harness, body: Any, accept: str | None = GRJ, **headers: str) -> Any:
    hdrs = {**AUTH, **headers}
    if accept:
        hdrs["Accept"] = accept
    return await h.facade.post("/graphql", json=body, headers=hdrs)


async def test_media_types_and_status_codes(prod: Harness) -> None:
    ok = await post(prod, {"query": "{ viewer { name } }"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith(GRJ)
    legacy = await post(prod, {"query": "{ viewer { name } }"}, accept=None)
    assert legacy.headers["content-type"].startswith("application/json")
    star = await post(prod, {"query": "{ viewer { name } }"}, accept="*/*")
    assert star.headers["content-type"].startswith("application/json")
    prefer = await post(
        prod, {"query": "{ viewer { name } }"}, accept=f"application/json;q=0.5, {GRJ}"
    )
    assert prefer.headers["content-type"].startswith(GRJ)
    prod.upstream.reset()
    # Request errors: 4xx and no `data` with graphql-response+json, 200 with JSON.
    for query in (
        "{ viewer { nope } }",
        "{ viewer {",
        "query($n: Int!) { customers(first: $n) { nodes { name } } }",
    ):
        r = await post(prod, {"query": query, "variables": {"n": "ten"}})
        assert r.status_code == 400 and "data" not in r.json(), query
        legacy = await post(
            prod, {"query": query, "variables": {"n": "ten"}}, accept="application/json"
        )
        assert legacy.status_code == 200 and "data" not in legacy.json()
    assert (
        await post(prod, {"query": "{ viewer { name } }"}, accept="text/html")
    ).status_code == 406
    assert prod.upstream.calls == []


async def test_bodies_that_are_refused(prod: Harness) -> None:
    form = await prod.facade.post("/graphql", data={"query": "{ viewer { name } }"}, headers=AUTH)
    assert form.status_code == 415
    multi = await prod.facade.post(
        "/graphql", files={"f": ("a", b"x")}, data={"operations": "{}"}, headers=AUTH
    )
    assert multi.status_code == 415
    batch = await post(prod, [{"query": "{ viewer { name } }"}, {"query": "{ viewer { email } }"}])
    assert batch.status_code == 400 and "batch" in batch.json()["errors"][0]["message"]
    big = await prod.facade.post(
        "/graphql",
        content=b'{"query": "' + b" " * 1_100_000 + b'{ viewer { name } }"}',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert big.status_code == 413
    broken = await prod.facade.post(
        "/graphql", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    for bad in ({"query": 5}, {"query": "{ viewer { name } }", "variables": []}, {}):
        assert (await post(prod, bad)).status_code == 400, bad
    put = await prod.facade.put("/graphql", json={"query": "{ viewer { name } }"}, headers=AUTH)
    assert put.status_code == 405 and "POST" in put.headers["allow"]
    assert prod.upstream.calls == []


@pytest.mark.parametrize(
    ("query", "what"),
    [
        ("{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(16)) + " }", "aliases"),
        ("{ viewer { " + " ".join(["name"] * 2100) + " } }", "2000 tokens"),
        ("{ viewer { name " + "@include(if: true) " * 51 + "} }", "directives"),
        ("{ viewer { " + "name " * 11 + "} }", "times in one selection set"),
        ("{ node(id: \"x\") { ...A } } fragment A on Customer { "
         + "invoices { nodes { customer { " * 5 + "name" + " } } }" * 5 + " }", "levels deep"),
        ("{ customers(first: 100) { nodes { subscriptions(first: 100) { nodes { invoices(first: 100) { nodes { paid } } } } } } }", "upstream requests"),
    ],
)  # fmt: skip
async def test_abuse_limits(prod: Harness, query: str, what: str) -> None:
    r = await post(prod, {"query": query})
    assert r.status_code == 400, r.text
    (error, *_) = r.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert what in error["message"]
    assert prod.upstream.calls == []


async def test_validation_stops_after_five_errors(prod: Harness) -> None:
    query = "{ viewer { " + " ".join(f"bad{i}" for i in range(30)) + " } }"
    errors = (await post(prod, {"query": query})).json()["errors"]
    assert len(errors) <= 6 and "limit" in errors[-1]["message"].lower()


async def test_cost_is_reported(prod: Harness) -> None:
    q = "{ customers(first: 3) { nodes { name invoices(first: 2) { nodes { paid } } } } }"
    body = (await post(prod, {"query": q})).json()
    assert body["extensions"]["cost"] == {"requested": 4, "upstreamRequests": 4}


async def test_production_offers_no_introspection_suggestions_or_ide(prod: Harness) -> None:
    intro = (await post(prod, {"query": "{ __schema { types { name } } }"})).json()
    assert "introspection" in intro["errors"][0]["message"].lower()
    typo = (await post(prod, {"query": "{ viewer { nam } }"})).json()
    assert "did you mean" not in typo["errors"][0]["message"].lower()
    page = await prod.facade.get("/graphql", headers={"Accept": "text/html", **AUTH})
    assert "<html" not in page.text.lower()
    get = await prod.facade.get("/graphql", params={"query": "{ viewer { name } }"}, headers=AUTH)
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    assert prod.upstream.calls == []


async def test_development_keeps_introspection_and_suggestions(h: Harness) -> None:
    intro = await h.data("{ __schema { queryType { name } } }")
    assert intro["__schema"]["queryType"]["name"] == "Query"
    typo = await h.query("{ viewer { nam } }")
    assert "did you mean" in typo["errors"][0]["message"].lower()


def _apq(query: str | None, digest: str) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if query is not None:
        body["query"] = query
    return body


async def test_automatic_persisted_queries(prod: Harness) -> None:
    query = "{ viewer { name } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    miss = (await post(prod, _apq(None, digest))).json()
    assert miss["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert (await post(prod, _apq(query, "0" * 64))).status_code == 400
    stored = (await post(prod, _apq(query, digest))).json()
    assert stored["data"]["viewer"]["name"]
    again = (await post(prod, _apq(None, digest))).json()
    assert again["data"] == stored["data"]
    # Production allows GET for persisted queries, and they are cacheable.
    params = {"extensions": json.dumps(_apq(None, digest)["extensions"])}
    got = await prod.facade.get("/graphql", params=params, headers=AUTH)
    assert got.status_code == 200 and got.json()["data"] == stored["data"]
    assert got.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in got.headers["vary"]
    etag = got.headers["etag"]
    cached = await prod.facade.get(
        "/graphql", params=params, headers={**AUTH, "If-None-Match": etag}
    )
    assert cached.status_code == 304 and cached.headers["etag"] == etag and not cached.content


async def test_allowlist_mode_runs_only_the_manifest(tmp_path: Path) -> None:
    allowed = "query Me { viewer { name } }"
    digest = hashlib.sha256(allowed.encode()).hexdigest()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1,
                                    "operations": [{"id": digest, "name": "Me", "type": "query", "body": allowed}]}))  # fmt: skip
    async with harness(profile="production", persisted_query_manifest=str(manifest)) as h:
        assert (await post(h, _apq(None, digest))).json()["data"]["viewer"]["name"]
        assert (await post(h, {"query": allowed})).json()["data"]["viewer"]["name"]
        other = await post(h, {"query": "{ viewer { email } }"})
        assert other.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        unknown = await post(h, _apq(None, "a" * 64))
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        h.upstream.reset()
        await post(h, {"query": "{ viewer { email } }"})
        assert h.upstream.calls == []


async def test_rate_limit_by_cost_points() -> None:
    async with harness(profile="production", rate_limit_points=30) as h:
        q = "{ customers(first: 20) { nodes { invoices(first: 1) { nodes { paid } } } } }"  # 21
        first = await post(h, {"query": q})
        assert first.status_code == 200
        assert first.headers["x-ratelimit-limit"] == "30"
        assert first.headers["x-ratelimit-remaining"] == "9"
        assert int(first.headers["x-ratelimit-reset"]) > 0
        h.upstream.reset()
        second = await post(h, {"query": q})
        assert second.status_code == 429
        assert second.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(second.headers["retry-after"]) >= 1
        assert h.upstream.calls == []
        # Another token has its own bucket.
        other = await post(h, {"query": q}, Authorization="Bearer demo-bob")
        assert other.status_code == 200


async def test_request_ids_logs_and_no_token_leaks(
    prod: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    r = await post(prod, {"query": "query Who { viewer { name } }"}, **{"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    bad = await post(
        prod, {"query": "{ viewer { name } }"}, **{"X-Request-Id": "no spaces allowed"}
    )
    assert (
        bad.headers["x-request-id"] != "no spaces allowed"
        and len(bad.headers["x-request-id"]) == 32
    )
    lines = [
        json.loads(rec.getMessage())
        for rec in caplog.records
        if rec.name == "spaces_graphql.access"
    ]
    mine = next(line for line in lines if line["request_id"] == "abc-123")
    assert mine["operation"] == "Who" and mine["type"] == "query" and mine["outcome"] == "ok"
    assert mine["upstream_requests"] == 1 and mine["duration_ms"] > 0
    assert "demo-alice" not in caplog.text


async def test_only_allowlisted_headers_go_upstream(prod: Harness) -> None:
    await post(
        prod,
        {"query": "{ viewer { name } }"},
        **{"X-Forwarded-For": "10.0.0.1", "Cookie": "s=1", "X-Custom": "1",
           "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )  # fmt: skip
    (call,) = prod.upstream.calls
    assert not {"x-forwarded-for", "cookie", "x-custom", "x-request-id"} & set(call.headers)
    assert call.headers["authorization"].startswith("Basic ")


async def test_oversized_and_malformed_headers(prod: Harness) -> None:
    r = await post(prod, {"query": "{ viewer { name } }"}, **{"X-Big": "a" * 20_000})
    assert r.status_code == 431
    token = await post(prod, {"query": "{ viewer { name } }"}, Authorization="Bearer " + "a" * 600)
    assert token.status_code == 401
    assert prod.upstream.calls == []


async def test_metrics_endpoint(prod: Harness) -> None:
    await post(prod, {"query": "{ viewer { name } }"})
    await post(prod, {"query": "{ viewer { nope } }"})
    scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    text = (await prod.facade.get("/metrics", headers=scraper)).text
    assert 'spaces_graphql_operations_total{outcome="ok",type="query"}' in text
    assert "spaces_graphql_operation_seconds_bucket" in text
    assert "spaces_graphql_active_subscriptions" in text


async def test_cors_allowlist() -> None:
    async with harness(profile="production", allowed_origins="https://app.example") as h:
        pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
        ok = await h.facade.options("/graphql", headers=pre)
        assert ok.headers.get("access-control-allow-origin") == "https://app.example"
        evil = await h.facade.options("/graphql", headers={**pre, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
