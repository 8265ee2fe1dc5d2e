"""What a GraphQL security scanner (graphql-cop's checks) would probe, against production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from spaces_graphql.app import HeaderLimit
from tests.support import Harness, harness

AUTH = {"Authorization": "Bearer demo-alice", "Content-Type": "application/json"}


@pytest.fixture
async def prod() -> AsyncIterator[Harness]:
    async with harness(profile="production") as ready:
        yield ready


async def test_scanner_findings_are_all_refused(prod: Harness) -> None:
    f = prod.facade
    checks = {
        "introspection": {"query": "{ __schema { queryType { name } } }"},
        "type introspection": {"query": '{ __type(name: "Customer") { fields { name } } }'},
        "circular introspection": {"query": "{ __schema { types { fields { type { fields { type { name } } } } } } }"},
        "field suggestions": {"query": "{ viewr { name } }"},
        "alias overloading": {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }"},
        "directive overloading": {"query": "{ __typename " + "@skip(if: false) " * 100 + "}"},
        "field duplication": {"query": "{ " + "__typename " * 500 + "}"},
    }  # fmt: skip
    for name, body in checks.items():
        r = await f.post("/graphql", json=body, headers=AUTH)
        doc = r.json()
        assert "data" not in doc or doc["data"] is None, name
        assert "did you mean" not in r.text.lower(), name
    batch = await f.post("/graphql", json=[{"query": "{ __typename }"}] * 10, headers=AUTH)
    assert batch.status_code == 400
    # CSRF vectors: GET queries, GET mutations, urlencoded POST.
    get_q = await f.get("/graphql", params={"query": "{ __typename }"}, headers=AUTH)
    assert get_q.status_code == 405
    get_m = await f.get("/graphql", params={"query": "mutation { __typename }"}, headers=AUTH)
    assert get_m.status_code == 405
    form = await f.post(
        "/graphql",
        content=b"query=%7B__typename%7D",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    # No IDE, no tracing extension, no stack traces.
    ide = await f.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in ide.text.lower()
    plain = (await f.post("/graphql", json={"query": "{ __typename }"}, headers=AUTH)).json()
    assert set(plain.get("extensions", {})) <= {"cost"}
    assert prod.upstream.calls == []


async def test_malformed_headers_are_refused() -> None:
    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("must not be reached")

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"x-evil", b"a\r\nb")],
    }
    await HeaderLimit(app, 16_384)(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
