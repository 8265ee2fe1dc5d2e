"""``graphql-transport-ws`` over a real socket: protocol hygiene, auth, origins, the per-token
cap, per-operation contexts, cancellation and the access log."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from graph.context import Context
from sandbox.app import SandboxConfig
from tests.support import BOB
from tests.transport_support import WS, Served, codes, serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dev() -> Iterator[Served]:
    with serve(profile="development") as served:
        yield served


@pytest.fixture(scope="module")
def slow() -> Iterator[Served]:
    """Every upstream call takes 1.5 s: operations stay running long enough to race."""
    with serve(SandboxConfig(latency_ms=1500), profile="development") as served:
        yield served


async def _closed_after(f: Served, *messages: Any, init: bool = True) -> tuple[int | None, str]:
    async with WS.connect(f.ws_url) as ws:
        if init:
            await ws.init()
            assert (await ws.recv())["type"] == "connection_ack"
        for message in messages:
            await ws.send(message)
        return await ws.closed()


async def _until(predicate: Any, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


# --- protocol hygiene -------------------------------------------------------------------


async def test_connection_init_timeout_closes_4408(dev: Served) -> None:
    server = dev.app.state.graphql_ws
    before, server.init_timeout = server.init_timeout, 0.3
    try:
        async with WS.connect(dev.ws_url) as ws:
            await ws.send({"type": "ping"})  # ping is fine before init; it does not count
            assert await ws.recv() == {"type": "pong"}
            assert (await ws.closed())[0] == 4408
    finally:
        server.init_timeout = before


async def test_subscribe_before_ack_closes_4401(dev: Served) -> None:
    sub = {"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}}
    assert (await _closed_after(dev, sub, init=False))[0] == 4401


@pytest.mark.parametrize(
    "message",
    [
        {"type": "subscribe", "payload": {"query": "{ __typename }"}},
        {"id": 7, "type": "subscribe", "payload": {"query": "{ __typename }"}},
        {"id": "", "type": "subscribe", "payload": {"query": "{ __typename }"}},
        {"id": "1", "type": "subscribe", "payload": "{ __typename }"},
        {"type": "complete"},
        {"id": "1", "type": "nonsense"},
        {"payload": {}},
        "{not json",
        "[1, 2]",
    ],
    ids=["no id", "int id", "empty id", "payload string", "complete no id", "unknown type",
         "no type", "invalid json", "not an object"],
)  # fmt: skip
async def test_invalid_messages_close_4400(dev: Served, message: Any) -> None:
    assert (await _closed_after(dev, message))[0] == 4400


async def test_binary_frames_close_4400(dev: Served) -> None:
    async with WS.connect(dev.ws_url) as ws:
        await ws.conn.send(b'{"type": "connection_init"}')
        assert (await ws.closed())[0] == 4400


async def test_second_connection_init_closes_4429(dev: Served) -> None:
    code, reason = await _closed_after(dev, {"type": "connection_init", "payload": {}})
    assert code == 4429 and "initialisation" in reason


async def test_duplicate_active_id_closes_4409(slow: Served) -> None:
    async with slow.ws() as ws:
        sub = {"id": "a", "type": "subscribe", "payload": {"query": "{ viewer { name } }"}}
        await ws.send(sub)
        await ws.send(sub)
        assert (await ws.closed())[0] == 4409


async def test_ids_may_be_reused_once_complete(dev: Served) -> None:
    async with dev.ws() as ws:
        for _ in range(2):
            assert [m["type"] for m in await ws.run({"query": "{ __typename }"}, "same")] == [
                "next",
                "complete",
            ]


async def test_ping_pong_and_text_frames(dev: Served) -> None:
    async with dev.ws() as ws:
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}  # recv asserts a text frame
        await ws.send({"type": "pong"})  # unsolicited pongs are ignored
        assert (await ws.run({"query": "{ __typename }"}))[0]["type"] == "next"


async def test_request_errors_are_error_messages_without_tracebacks(
    dev: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with dev.ws() as ws:
        (syntax,) = await ws.run({"query": "{ viewer { name "})
        assert syntax["type"] == "error" and codes(syntax["payload"]) == {"GRAPHQL_PARSE_FAILED"}
        (invalid,) = await ws.run({"query": "{ viewer { nope } }"}, "2")
        assert codes(invalid["payload"]) == {"GRAPHQL_VALIDATION_FAILED"}
        (typed,) = await ws.run({"query": "{ __typename }", "variables": [1]}, "3")
        assert codes(typed["payload"]) == {"BAD_REQUEST"}
        (empty,) = await ws.run({}, "4")
        assert codes(empty["payload"]) == {"BAD_REQUEST"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert dev.upstream.calls == []


@pytest.mark.parametrize("subprotocols", [["graphql-ws"], ["something-else"], []])
async def test_other_subprotocols_are_refused_4406(dev: Served, subprotocols: list[str]) -> None:
    async with WS.connect(dev.ws_url, subprotocols=subprotocols) as ws:
        code, reason = await ws.closed()
    assert (code, reason) == (4406, "Subprotocol not acceptable")


# --- auth, origins, the per-token cap ---------------------------------------------------


async def test_auth_by_init_payload_or_upgrade_header(dev: Served) -> None:
    async with dev.ws(BOB, via="header", additional_headers={"Authorization": f"Bearer {BOB}"}) as ws:  # fmt: skip
        (msg, _) = await ws.run({"query": "{ viewer { email } }"})
        assert msg["payload"]["data"]["viewer"]["email"]
    async with dev.ws(BOB) as ws:
        (msg, _) = await ws.run({"query": "{ viewer { email } }"})
        assert msg["payload"]["data"]["viewer"]["email"]


@pytest.mark.parametrize("token", [None, "nobody", "bad token with spaces"])
async def test_refused_tokens_close_4403(dev: Served, token: str | None) -> None:
    dev.upstream.reset()
    async with WS.connect(dev.ws_url) as ws:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send({"type": "connection_init", "payload": payload})
        code, _ = await ws.closed()
    assert code == 4403
    # One cheap GET account proves a well-formed token; a malformed one costs nothing.
    assert dev.upstream.routes() == (["GET account"] if token == "nobody" else [])


async def test_origins_in_production() -> None:
    with serve(profile="production", allowed_origins="https://app.example") as prod:
        async with prod.ws(origin="https://app.example") as ws:
            assert (await ws.run({"query": "{ __typename }"}))[0]["type"] == "next"
        async with prod.ws() as ws:  # no Origin: not a browser
            assert (await ws.run({"query": "{ __typename }"}))[0]["type"] == "next"
        with pytest.raises(InvalidStatus) as refused:
            async with WS.connect(prod.ws_url, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403


async def test_development_allows_any_origin(dev: Served) -> None:
    async with dev.ws(origin="https://anything.example") as ws:
        assert (await ws.run({"query": "{ __typename }"}))[0]["type"] == "next"


async def test_connections_per_token_are_capped() -> None:
    with serve(profile="development", max_ws_connections_per_token=2) as f:
        async with f.ws() as one, f.ws():
            async with WS.connect(f.ws_url) as third:
                await third.init()
                code, reason = await third.closed()
            assert code == 4429 and "Too many WebSocket connections" in reason
            async with f.ws(BOB) as other:  # another token has its own allowance
                assert (await other.run({"query": "{ __typename }"}))[0]["type"] == "next"
            assert (await one.run({"query": "{ __typename }"}))[0]["type"] == "next"
        async with f.ws(), f.ws():  # closed connections give their slots back
            pass
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"{f.url}/metrics")).text
        assert 'spaces_graphql_limit_rejections_total{reason="ws_connections"} 1.0' in text


# --- operations: fresh contexts, cancellation, the access log ---------------------------


async def test_a_read_after_a_write_on_one_connection_sees_the_write(dev: Served) -> None:
    async with dev.ws() as ws:
        (page, _) = await ws.run({"query": "{ invoices(first: 100) { nodes { id paid } } }"})
        unpaid = next(n for n in page["payload"]["data"]["invoices"]["nodes"] if not n["paid"])
        read = {"query": "query($id: ID!) { invoice(id: $id) { paid } }",
                "variables": {"id": unpaid["id"]}}  # fmt: skip
        (before, _) = await ws.run(read, "2")
        assert before["payload"]["data"]["invoice"]["paid"] is False
        pay = {"query": "mutation($id: ID!) { payInvoice(input: {id: $id}) { invoice { paid } "
                        "userErrors { message } } }", "variables": {"id": unpaid["id"]}}  # fmt: skip
        (paid, _) = await ws.run(pay, "3")
        assert paid["payload"]["data"]["payInvoice"]["userErrors"] == []
        (after, _) = await ws.run(read, "4")
        assert after["payload"]["data"]["invoice"]["paid"] is True


async def test_a_connection_keeps_no_context_between_operations(
    dev: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = dev.app.state.graphql_ws.pipeline
    made: list[weakref.ref[Any]] = []
    original = pipeline.context

    def tracked(op: Any, connection: Any) -> Context:
        context: Context = original(op, connection)
        made.append(weakref.ref(context.loaders))  # what an operation read hangs off these
        return context

    monkeypatch.setattr(pipeline, "context", tracked)
    async with dev.ws() as ws:
        after = None
        for i in range(5):
            page = {"query": "query($a: String) { customers(first: 5, after: $a) { nodes { name } "
                             "pageInfo { endCursor } } }", "variables": {"a": after}}  # fmt: skip
            (msg, _) = await ws.run(page, str(i))
            after = msg["payload"]["data"]["customers"]["pageInfo"]["endCursor"]
        await asyncio.sleep(0.1)
        gc.collect()
        assert len(made) == 5
        assert all(ref() is None for ref in made), "an operation's loaders outlived it"


async def test_complete_cancels_the_operation_and_its_upstream_calls(
    slow: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    async with slow.ws() as ws:
        await ws.send({"id": "x", "type": "subscribe",
                       "payload": {"query": "query Slow { customers(first: 3) { nodes { name } } }"}})  # fmt: skip
        await _until(lambda: slow.upstream.routes() == ["GET customers"])  # under way
        await ws.send({"id": "x", "type": "complete"})
        with pytest.raises(TimeoutError):
            await ws.recv(timeout=2.5)  # no `next`, no `complete` for a cancelled operation
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}
    assert slow.upstream.routes() == ["GET customers"]
    assert all(call.end == 0.0 for call in slow.upstream.calls), "the upstream call completed"
    lines = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "spaces_graphql.access"
    ]
    (line,) = [entry for entry in lines if entry.get("operation") == "Slow"]
    assert line["transport"] == "ws" and line["outcome"] == "cancelled"


async def test_disconnect_cancels_running_operations(
    slow: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    async with slow.ws() as ws:
        await ws.send({"id": "x", "type": "subscribe",
                       "payload": {"query": "query Left { viewer { name } }"}})  # fmt: skip
        await _until(lambda: bool(slow.upstream.calls))
    for _ in range(100):
        lines = [json.loads(r.getMessage()) for r in caplog.records
                 if r.name == "spaces_graphql.access"]  # fmt: skip
        left = [entry for entry in lines if entry.get("operation") == "Left"]
        if left:
            break
        await asyncio.sleep(0.05)
    assert left and left[0]["outcome"] == "client_gone"


async def test_one_access_log_line_per_websocket_operation(
    dev: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    async with dev.ws() as ws:
        await ws.run({"query": "query One { viewer { name } }"})
        await ws.run({"query": "query Two { viewer { nope } }", "operationName": "Two"}, "2")
        await ws.run({"query": "mutation Three { payInvoice(input: {id: \"nope\"}) { userErrors { code } } }"}, "3")  # fmt: skip
    lines = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "spaces_graphql.access"
    ]
    mine = {entry["operation"]: entry for entry in lines if entry.get("transport") == "ws"}
    assert mine["One"]["outcome"] == "ok" and mine["One"]["type"] == "query"
    assert mine["One"]["upstream_requests"] == 1 and mine["One"]["caller"]
    assert mine["Two"]["outcome"] == "graphql_validation_failed"
    assert mine["Three"]["type"] == "mutation"
    assert len([e for e in lines if e.get("transport") == "ws"]) == 3
    assert "demo-alice" not in caplog.text


async def test_the_operation_deadline_holds_over_websocket() -> None:
    with serve(
        SandboxConfig(latency_ms=1200), profile="development", operation_deadline_seconds=0.3
    ) as f:
        async with f.ws() as ws:
            (msg, done) = await ws.run({"query": "{ customers(first: 2) { nodes { name } } }"})
        assert codes(msg["payload"]["errors"]) == {"UPSTREAM_TIMEOUT"}, msg
        assert done["type"] == "complete"
