"""``@defer`` and ``@stream`` over HTTP, in process: the multipart answer, what it merges to,
the JSON fallback, cost and limits, errors in a deferred part, first part before a slow
upstream list, deadline and disconnect (``spaces_graphql/incremental.py``).

Every case runs with the execution short paths on and off (``graph/executor.py``,
``graph/fast_paths.py``): the answers must be the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from sandbox.app import SandboxConfig
from tests.support import ALICE, Harness, harness

MULTIPART = "multipart/mixed;incrementalSpec=v0.2, application/json"
BOUNDARY = "--graphql"

DEFER = """query Deferred {
  customers(first: 3) {
    nodes {
      id
      name
      ... @defer(label: "billing") {
        subscriptions(first: 5) { nodes { token status total { amount currency } } }
      }
    }
  }
}"""

STREAM_NODES = """query Streamed {
  customers(first: 6) {
    nodes @stream(initialCount: 2) { id name email space { url } }
    pageInfo { hasNextPage }
  }
}"""

STREAM_EDGES = """query StreamedEdges {
  invoices(first: 5) {
    edges @stream(initialCount: 1) { cursor node { invoiceId total { amount currency } } }
  }
}"""

NESTED = """query Nested {
  customers(first: 2) {
    nodes {
      id
      ...Extra @defer(label: "extra")
    }
  }
}
fragment Extra on Customer {
  email
  space { url }
  invoices(first: 3) {
    nodes @stream(initialCount: 1) { orderNumber ... @defer { items { description } } }
  }
}"""


@pytest.fixture(params=[True, False], ids=["short-paths", "no-short-paths"])
async def hs(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async with harness(short_paths=request.param) as ready:
        yield ready


# --- helpers (also used by test_incremental_transports.py) ---------------------------


def parse_multipart(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of a ``multipart/mixed`` body, checked part by part."""
    end = f"\r\n{BOUNDARY}--\r\n"
    assert text.startswith(BOUNDARY) and text.endswith(end), text[-80:]
    out = []
    for chunk in text[len(BOUNDARY) : -len(end)].split(f"\r\n{BOUNDARY}"):
        head, _, body = chunk.partition("\r\n\r\n")
        assert "Content-Type: application/json; charset=utf-8" in head, head
        length = re.search(r"Content-Length: (\d+)", head)
        assert length and int(length.group(1)) == len(body.encode()), head
        out.append(json.loads(body))
    return out


def _deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value


def merge(payloads: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """What the payloads add up to (as a client merges them): data and every error."""
    first, *rest = payloads
    assert first["hasNext"] is True
    assert [p["hasNext"] for p in rest][-1] is False
    data = first["data"]
    errors = list(first.get("errors", []))
    pending: dict[str, list[Any]] = {p["id"]: p["path"] for p in first.get("pending", [])}
    for payload in rest:
        pending.update({p["id"]: p["path"] for p in payload.get("pending", [])})
        for inc in payload.get("incremental", []):
            target = data
            for key in pending[inc["id"]] + inc.get("subPath", []):
                target = target[key]
            if "items" in inc:
                target.extend(inc["items"])
            else:
                _deep_merge(target, inc["data"])
            errors += inc.get("errors", [])
        for done in payload.get("completed", []):
            errors += done.get("errors", [])
    return data, errors


async def post(
    h: Harness, query: str, accept: str = MULTIPART, token: str = ALICE, **body: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": accept}
    return await h.facade.post("/graphql", json={"query": query, **body}, headers=headers)


def plain(query: str) -> str:
    """The query without its incremental directives (what the JSON fallback runs)."""
    return re.sub(r"@(defer|stream)(\([^)]*\))?", "", query)


@dataclass
class Slow(httpx.AsyncBaseTransport):
    """Delays upstream requests whose path (under /api/v1/) starts with ``prefix``."""

    inner: httpx.AsyncBaseTransport
    prefix: str
    seconds: float
    started: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/")
        if path.startswith(self.prefix):
            self.started.append(path)
            try:
                await asyncio.sleep(self.seconds)
            except asyncio.CancelledError:
                self.cancelled.append(path)
                raise
        return await self.inner.handle_async_request(request)


def slow(h: Harness, prefix: str, seconds: float) -> Slow:
    wrapper = Slow(h.upstream.inner, prefix, seconds)
    h.upstream.inner = wrapper
    return wrapper


@dataclass
class Driven:
    """An ASGI exchange driven by hand: each message sent, with its time."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def bodies(self) -> list[tuple[float, bytes]]:
        return [(t, m["body"]) for t, m in self.messages if m["type"] == "http.response.body"]


async def drive(
    h: Harness,
    query: str,
    accept: str = MULTIPART,
    disconnect_after: int | None = None,
    leave_when: Callable[[], bool] = lambda: True,
) -> Driven:
    """POST ``query`` straight to the facade's ASGI app (httpx's ASGI transport buffers
    the whole body), seeing each body message as sent; optionally the client leaves
    after ``disconnect_after`` body messages, once ``leave_when()`` holds."""
    app = h.facade._transport.app  # type: ignore[attr-defined]
    data = json.dumps({"query": query}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"facade.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            (b"accept", accept.encode()),
            (b"authorization", f"Bearer {ALICE}".encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("facade.test", 80),
    }
    done = asyncio.Event()
    driven = Driven()
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": data, "more_body": False}
        await done.wait()
        while not leave_when():
            await asyncio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        driven.messages.append((time.monotonic(), message))
        if message["type"] == "http.response.body":
            count = len(driven.bodies())
            if not message.get("more_body") or count == disconnect_after:
                done.set()

    await asyncio.wait_for(app(scope, receive, send), 20)
    return driven


# --- the answer ----------------------------------------------------------------------


@pytest.mark.parametrize("query", [DEFER, STREAM_NODES, STREAM_EDGES, NESTED])
async def test_parts_merge_to_the_plain_answer(hs: Harness, query: str) -> None:
    whole = await post(hs, plain(query), accept="application/json")
    assert whole.status_code == 200 and "errors" not in whole.json(), whole.text
    plain_requests = len(hs.upstream.calls)
    hs.upstream.reset()

    r = await post(hs, query)
    assert r.status_code == 200
    assert r.headers["content-type"] == 'multipart/mixed; boundary="graphql"'
    assert "etag" not in r.headers and r.headers["x-request-id"]
    parts = parse_multipart(r.text)
    assert len(parts) >= 2
    assert parts[0]["pending"] and all("id" in p and "path" in p for p in parts[0]["pending"])
    data, errors = merge(parts)
    assert errors == []
    assert data == whole.json()["data"]
    # The same upstream requests (a deferred list is the same list, later)...
    assert len(hs.upstream.calls) == plain_requests
    # ...counted in the last part's cost extension; the first says what it had used.
    cost = parts[-1]["extensions"]["cost"]
    assert cost["upstreamRequests"] == plain_requests
    assert cost["requested"] == whole.json()["extensions"]["cost"]["requested"]
    assert parts[0]["extensions"]["cost"]["upstreamRequests"] <= plain_requests


async def test_defer_labels_and_paths(hs: Harness) -> None:
    parts = parse_multipart((await post(hs, DEFER)).text)
    first = parts[0]
    nodes = first["data"]["customers"]["nodes"]
    assert all(set(n) == {"id", "name"} for n in nodes)  # nothing deferred came early
    assert [p["path"] for p in first["pending"]] == [
        ["customers", "nodes", i] for i in range(len(nodes))
    ]
    assert {p["label"] for p in first["pending"]} == {"billing"}


async def test_stream_sends_the_first_items_then_the_rest(hs: Harness) -> None:
    parts = parse_multipart((await post(hs, STREAM_NODES)).text)
    assert len(parts[0]["data"]["customers"]["nodes"]) == 2
    assert parts[0]["pending"] == [{"id": "0", "path": ["customers", "nodes"]}]
    items = [i for p in parts[1:] for inc in p.get("incremental", []) for i in inc["items"]]
    assert len(items) == 4
    assert parts[-1]["completed"] == [{"id": "0"}] or any(
        c == {"id": "0"} for p in parts[1:] for c in p.get("completed", [])
    )


async def test_without_multipart_in_accept_one_json_answer(hs: Harness) -> None:
    """graphql-js's recommendation: the operation runs without incremental delivery."""
    for accept in ("application/json", "application/graphql-response+json", "*/*"):
        hs.upstream.reset()
        r = await post(hs, DEFER, accept=accept)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(accept.replace("*/*", "application/json"))
        body = r.json()
        assert set(body) == {"data", "extensions"}  # no pending, no hasNext
        assert all("subscriptions" in n for n in body["data"]["customers"]["nodes"])
        assert body["extensions"]["cost"]["upstreamRequests"] == len(hs.upstream.calls) == 4


def merge_2022(payloads: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """What 2022-format payloads add up to, as Apollo Client 3 merges them."""
    first, *rest = payloads
    assert "pending" not in first and first["hasNext"] is True
    data = first["data"]
    errors = list(first.get("errors", []))
    for payload in rest:
        assert not {"pending", "completed"} & payload.keys()
        for entry in payload.get("incremental", []):
            assert "id" not in entry and "path" in entry
            errors += entry.get("errors", [])
            *to, last = entry["path"]
            target = data
            for key in to:
                target = target[key]
            if "items" in entry:  # the path ends with the first item's index
                assert isinstance(last, int) and len(target) == last, (entry, len(target))
                target.extend(entry["items"] or [])
            elif entry["data"] is not None:
                _deep_merge(target[last], entry["data"])
    assert rest[-1]["hasNext"] is False
    return data, errors


@pytest.mark.parametrize("query", [DEFER, STREAM_NODES, STREAM_EDGES, NESTED])
async def test_the_2022_format_for_apollo_client_3(hs: Harness, query: str) -> None:
    # Apollo Client 3 asks for deferSpec=20220824: a `path` (and `label`) in each entry,
    # a streamed entry's path ending with its first item's index, no pending/completed.
    whole = await post(hs, plain(query), accept="application/json")
    for accept in (
        "multipart/mixed;deferSpec=20220824,application/json",
        "multipart/mixed; deferSpec=20220824, application/json",
    ):
        hs.upstream.reset()
        r = await post(hs, query, accept=accept)
        assert r.headers["content-type"].startswith("multipart/mixed"), r.text
        data, errors = merge_2022(parse_multipart(r.text))
        assert errors == []
        assert data == whole.json()["data"]
    both = "multipart/mixed;deferSpec=20220824;incrementalSpec=v0.2, application/json"
    assert "pending" in parse_multipart((await post(hs, query, accept=both)).text)[0]


async def test_the_2022_format_carries_labels_and_errors(hs: Harness) -> None:
    hs.upstream.faults.append(("GET", "customers/", 500))  # only the deferred lists
    r = await post(hs, DEFER, accept="multipart/mixed;deferSpec=20220824,application/json")
    payloads = parse_multipart(r.text)
    entries = [e for p in payloads[1:] for e in p.get("incremental", [])]
    assert entries and {e["label"] for e in entries} == {"billing"}
    codes = {err["extensions"]["code"] for e in entries for err in e.get("errors", [])}
    assert codes == {"UPSTREAM_ERROR"}
    for e in entries:
        assert e["path"][:2] == ["customers", "nodes"] and isinstance(e["path"][2], int)


async def test_nothing_deferred_is_one_json_answer(hs: Harness) -> None:
    r = await post(hs, DEFER.replace('label: "billing"', 'label: "billing", if: false'))
    assert r.headers["content-type"].startswith("application/json")
    assert "hasNext" not in r.json() and "errors" not in r.json()


async def test_multipart_only_accept(hs: Harness) -> None:
    streamed = await post(hs, DEFER, accept="multipart/mixed")
    assert len(parse_multipart(streamed.text)) >= 2
    # A one-shot answer for a client that reads nothing but multipart: one part.
    single = await post(hs, "{ viewer { name } }", accept="multipart/mixed")
    assert single.headers["content-type"] == 'multipart/mixed; boundary="graphql"'
    (only,) = parse_multipart(single.text)
    assert only["data"]["viewer"]["name"]
    refused = await post(hs, DEFER, accept="text/html")
    assert refused.status_code == 406


async def test_refused_token_is_401_before_any_part(hs: Harness) -> None:
    r = await post(hs, DEFER, token="not-a-token")
    assert r.status_code == 401, r.text
    assert r.json()["data"] is None
    assert {e["extensions"]["code"] for e in r.json()["errors"]} == {"UNAUTHENTICATED"}


@pytest.mark.parametrize("short_paths", [True, False], ids=["short-paths", "no-short-paths"])
async def test_streamed_items_load_their_lists_together(short_paths: bool) -> None:
    # Early execution: the items after initialCount start at once, so their nested lists
    # are one wave (as in the plain query), not one wave per streamed item.
    query = """{ customers(first: 6) { nodes @stream(initialCount: 2) { name
        subscriptions(first: 2) { nodes { status } } } } }"""
    async with harness(SandboxConfig(latency_ms=15), short_paths=short_paths) as h:
        counts = []
        for sent in (plain(query), query):
            h.upstream.reset()
            r = await post(h, sent)
            assert r.status_code == 200, r.text
            counts.append((len(h.upstream.calls), h.upstream.waves()))
        assert counts[0] == counts[1] == (7, 2)


# --- limits and cost ------------------------------------------------------------------


async def test_cost_counts_deferred_and_streamed_selections(hs: Harness) -> None:
    costly = """{ customers(first: 100) { nodes { id ... @defer {
        subscriptions(first: 10) { nodes { invoices(first: 5) { nodes { id } } } } } } } }"""
    streamed = """{ customers(first: 100) { nodes @stream(initialCount: 1) {
        subscriptions(first: 10) { nodes { invoices(first: 5) { nodes { id } } } } } } }"""
    for query in (costly, streamed):
        hs.upstream.reset()
        r = await post(hs, query)
        assert r.status_code == 200
        body = r.json()
        assert {e["extensions"]["code"] for e in body["errors"]} == {"QUERY_TOO_COMPLEX"}
        assert "data" not in body
        assert hs.upstream.calls == []
        # The same refusal, with the same numbers, as without the directives.
        assert (await post(hs, plain(query))).json()["errors"] == body["errors"]
        assert hs.upstream.calls == []


async def test_directive_and_validation_limits_hold(hs: Harness) -> None:
    on_root_of_mutation = (
        'mutation { ... @defer { payInvoice(input: {id: "x"}) { invoice { id } } } }'
    )
    on_a_non_list = "{ viewer @stream { name } }"
    for query in (on_root_of_mutation, on_a_non_list):
        r = await post(hs, query)
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", r.text
    assert hs.upstream.calls == []


# --- errors, timing, deadline, disconnect ------------------------------------------------


async def test_an_error_in_a_deferred_part_stays_in_that_part(hs: Harness) -> None:
    hs.upstream.faults.append(("GET", "customers/", 500))  # only the deferred lists
    parts = parse_multipart((await post(hs, DEFER)).text)
    assert "errors" not in parts[0]
    assert len(parts[0]["data"]["customers"]["nodes"]) == 3
    later = [
        e
        for p in parts[1:]
        for r in p.get("incremental", []) + p.get("completed", [])
        for e in r.get("errors", [])
    ]
    assert later and {e["extensions"]["code"] for e in later} == {"UPSTREAM_ERROR"}
    assert {tuple(e["path"][:3]) for e in later} == {("customers", "nodes", i) for i in range(3)}
    assert all(e["path"][3] == "subscriptions" for e in later)


async def test_first_part_arrives_before_the_slow_list(hs: Harness) -> None:
    delay = 0.6
    slowed = slow(hs, "customers/", delay)
    started = time.monotonic()
    driven = await drive(hs, DEFER)
    bodies = driven.bodies()
    first_at, last_at = bodies[0][0] - started, bodies[-1][0] - started
    assert slowed.started  # the deferred lists did go through the slow path
    assert first_at < delay <= last_at, (first_at, last_at)
    assert b'"hasNext":true' in bodies[0][1] and bodies[-1][1].endswith(b"--graphql--\r\n")


async def test_the_deadline_ends_pending_parts(caplog: pytest.LogCaptureFixture) -> None:
    async with harness(operation_deadline_seconds=0.5) as h:
        slow(h, "customers/", 5.0)
        started = time.monotonic()
        parts = parse_multipart((await post(h, DEFER)).text)
        assert time.monotonic() - started < 4.0
    assert "errors" not in parts[0]
    _, errors = merge(parts)
    assert errors and {e["extensions"]["code"] for e in errors} == {"UPSTREAM_TIMEOUT"}


async def test_client_leaving_cancels_pending_work(
    hs: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    slowed = slow(hs, "customers/", 5.0)
    started = time.monotonic()
    # The client leaves after the first part, while the three deferred lists are upstream.
    driven = await drive(hs, DEFER, disconnect_after=1, leave_when=lambda: len(slowed.started) == 3)
    assert time.monotonic() - started < 4.0
    assert len(driven.bodies()) == 1  # the first part, then nothing
    for _ in range(50):  # the cancelled reads unwind on the next loop turns
        if len(slowed.cancelled) == 3:
            break
        await asyncio.sleep(0.02)
    assert sorted(slowed.cancelled) == sorted(slowed.started)
    (line,) = [r.msg for r in caplog.records if r.name == "spaces_graphql.access"]
    assert isinstance(line, dict)
    assert line["outcome"] == "client_gone" and line["operation"] == "Deferred"
    assert line["status"] == 200 and line["transport"] == "http-post"


async def test_one_access_log_line_after_the_last_part(
    hs: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    slow(hs, "customers/", 0.3)
    await drive(hs, DEFER)
    (line,) = [r.msg for r in caplog.records if r.name == "spaces_graphql.access"]
    assert isinstance(line, dict)
    assert line["outcome"] == "ok" and line["upstream_requests"] == 4
    assert line["duration_ms"] >= 300  # written after the slow deferred part, not before


@pytest.mark.parametrize("where", ["first part", "later part"])
async def test_a_bug_is_masked_and_logged_in_every_part(
    hs: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from graph.subscription_item import SubscriptionItem

    def broken(rec: Any) -> Any:
        raise RuntimeError("boom-item")

    monkeypatch.setattr(SubscriptionItem, "from_record", broken)
    items = "subscriptions(first: 5) { nodes { items { description } } }"
    query = (
        f"{{ customers(first: 10) {{ nodes {{ {items} ... @defer {{ name }} }} }} }}"
        if where == "first part"
        else f"{{ customers(first: 10) {{ nodes {{ name ... @defer {{ {items} }} }} }} }}"
    )
    caplog.set_level(logging.ERROR)
    parts = parse_multipart((await post(hs, query)).text)
    _, errors = merge(parts)
    assert errors and {e["message"] for e in errors} == {"Internal server error."}
    in_first = bool(parts[0].get("errors"))
    assert in_first == (where == "first part")
    logged = [r for r in caplog.records if "boom-item" in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
