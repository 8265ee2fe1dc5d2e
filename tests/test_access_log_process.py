"""The served process's real stderr: JSON lines only, one access line per operation, no secrets.

``spaces-graphql sandbox`` and ``spaces-graphql serve`` run as processes; the facade's stderr
goes to a file, which is read after the process has stopped (everything flushed).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.processes import free_port, start_sandbox, stop, wait_for

pytestmark = pytest.mark.e2e

TOKEN = "demo-alice"
#: A refused token and a variable's value: neither may reach the log.
BOGUS_TOKEN = "bogus-token-5f1c9e0d"
SECRET_VALUE = "cus_variable_value_8d2e47"
FIND = "query Find($id: ID!) { customer(id: $id) { name } viewer { name } }"
ACCESS_FIELDS = {
    "ts", "level", "logger", "pid", "request_id", "transport", "operation", "type", "status", "outcome",
    "duration_ms", "cost", "upstream_requests", "cache_hits", "caller",
}  # fmt: skip


@dataclass
class Run:
    raw: str
    lines: list[dict[str, Any]]
    upstream_for_find: int
    ws_error: str | None = None

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("logger") == "spaces_graphql.access"]

    def by_request_id(self, rid: str) -> dict[str, Any]:
        (line,) = [line for line in self.access() if line.get("request_id") == rid]
        return line


def clean_env() -> dict[str, str]:
    """The environment without any ``SPACES_GRAPHQL_*``: the defaults are what is tested."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SPACES_GRAPHQL_")}


def serve(sandbox: str, stderr: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with stderr.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spaces_graphql.cli", "serve", "--port", str(port),
             "--upstream", f"{sandbox}/api/v1", *extra],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=clean_env(),
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc)
    except BaseException:
        stop(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


def parse(raw: str) -> list[dict[str, Any]]:
    """Every non-empty line as a JSON object (a line that is not one fails the test)."""
    lines = []
    for text in raw.splitlines():
        if text.strip():
            value = json.loads(text)
            assert isinstance(value, dict), text
            lines.append(value)
    return lines


async def ws_query(facade: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One query over ``graphql-transport-ws``; the token in ``connection_init``."""
    url = facade.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {TOKEN}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        payload = {"query": query, "variables": variables, "operationName": "Find"}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        result: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return result


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    proc, url = start_sandbox()
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def run(sandbox: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One facade process: an HTTP query, a refused token, a WebSocket query; then stopped."""
    stderr = tmp_path_factory.mktemp("facade") / "stderr.log"
    proc, facade = serve(sandbox, stderr)
    ws_error = None
    try:
        httpx.post(f"{sandbox}/_sandbox/stats/reset")
        r = httpx.post(
            f"{facade}/graphql",
            json={"query": FIND, "variables": {"id": SECRET_VALUE}, "operationName": "Find"},
            headers={"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "access-http-1"},
            timeout=15,
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["customer"] is None and r.json()["data"]["viewer"]["name"]
        upstream = httpx.get(f"{sandbox}/_sandbox/stats").json()["requests"]
        refused = httpx.post(
            f"{facade}/graphql",
            json={"query": "{ viewer { name } }"},
            headers={"Authorization": f"Bearer {BOGUS_TOKEN}", "X-Request-Id": "access-http-2"},
            timeout=15,
        )
        assert refused.status_code == 401
        try:
            answer = asyncio.run(ws_query(facade, FIND, {"id": SECRET_VALUE}))
            assert answer["type"] == "next", answer
        except Exception as exc:  # reported by the WebSocket test, not fatal to the HTTP ones
            ws_error = repr(exc)
    finally:
        stop(proc)
    raw = stderr.read_text()
    return Run(raw, parse(raw), upstream, ws_error)


def test_every_stderr_line_is_a_json_record(run: Run) -> None:
    assert run.lines, "the facade wrote nothing to stderr"
    for line in run.lines:
        assert {"ts", "level", "logger", "pid"} <= line.keys(), line
        datetime.fromisoformat(line["ts"])


def test_uvicorn_error_log_is_json_and_its_access_log_is_off(run: Run) -> None:
    messages = [line["message"] for line in run.lines if line["logger"] == "uvicorn.error"]
    assert any(m.startswith("Started server process") for m in messages), messages
    assert any(m.startswith("Application shutdown complete") for m in messages), messages
    assert not [line for line in run.lines if line["logger"] == "uvicorn.access"]
    # Only GraphQL operations are access lines: /healthz polls and the like are not.
    assert {line["request_id"] for line in run.access()} >= {"access-http-1", "access-http-2"}


def test_http_operation_access_line(run: Run) -> None:
    line = run.by_request_id("access-http-1")
    assert line.keys() >= ACCESS_FIELDS, line
    assert line["level"] == "INFO"
    assert line["transport"] == "http-post"  # the pipeline's names: http-get, http-post, ws
    assert (line["operation"], line["type"], line["status"], line["outcome"]) == (
        "Find",
        "query",
        200,
        "ok",
    )
    # The line's count is the upstream's own count of what this operation cost it.
    assert line["upstream_requests"] == run.upstream_for_find >= 2
    assert isinstance(line["cost"], int) and line["cost"] >= 1
    assert isinstance(line["cache_hits"], int)
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] > 0
    assert line["caller"] and line["caller"] != TOKEN


def test_refused_operation_access_line(run: Run) -> None:
    line = run.by_request_id("access-http-2")
    # One upstream request: the upstream is what refuses a well-formed unknown token.
    assert (line["status"], line["outcome"], line["upstream_requests"]) == (
        401,
        "unauthenticated",
        1,
    )


def test_no_token_and_no_variable_value_anywhere_in_stderr(run: Run) -> None:
    for secret in (TOKEN, BOGUS_TOKEN, SECRET_VALUE):
        assert secret not in run.raw
    for line in run.access():
        assert not {"variables", "token", "authorization"} & {k.lower() for k in line}


def test_websocket_operation_access_line(run: Run) -> None:
    assert run.ws_error is None, run.ws_error
    (line,) = [line for line in run.access() if line.get("transport") == "ws"]
    assert line.keys() >= ACCESS_FIELDS, line
    assert (line["operation"], line["type"], line["outcome"]) == ("Find", "query", "ok")
    assert line["status"] is None  # no HTTP status on a WebSocket operation
    # The same operation as over HTTP, the same upstream requests (the token check at
    # connection_init is the connection's, not the operation's).
    assert line["upstream_requests"] == run.upstream_for_find
    assert (
        line["duration_ms"] > 0 and line["caller"] == run.by_request_id("access-http-1")["caller"]
    )


def test_workers_each_write_json_access_lines(sandbox: str, tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.log"
    proc, facade = serve(sandbox, stderr, "--workers", "2")
    try:
        with httpx.Client(timeout=15) as client:
            for i in range(6):
                # A fresh connection each time, so the kernel may hand it to either worker.
                r = client.post(
                    f"{facade}/graphql",
                    json={"query": "{ viewer { name } }"},
                    headers={
                        "Authorization": f"Bearer {TOKEN}",
                        "X-Request-Id": f"worker-{i}",
                        "Connection": "close",
                    },
                )
                assert r.status_code == 200, r.text
    finally:
        stop(proc)
    raw = stderr.read_text()
    lines = parse(raw)
    access = [line for line in lines if line["logger"] == "spaces_graphql.access"]
    assert sorted(line["request_id"] for line in access) == [f"worker-{i}" for i in range(6)]
    started = [
        line for line in lines if line.get("message", "").startswith("Started server process")
    ]
    assert len({line["pid"] for line in started}) == 2  # both workers applied the config
    assert TOKEN not in raw
