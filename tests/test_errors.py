"""Errors as design.md's table says."""

from __future__ import annotations

from graph.node import to_global_id
from resolvers.pagination import encode_cursor
from tests.support import Harness


async def test_no_token_is_401(h: Harness) -> None:
    result = await h.query("{ viewer { name } }", token=None)
    assert result["_status"] == 401
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert h.upstream.calls == []


async def test_refused_token_is_401_without_data(h: Harness) -> None:
    result = await h.query("{ viewer { name } customers { nodes { name } } }", token="nobody")
    assert result["_status"] == 401
    assert result["data"] is None
    assert {e["extensions"]["code"] for e in result["errors"]} == {"UNAUTHENTICATED"}


async def test_bad_arguments_cost_no_upstream_call(h: Harness) -> None:
    bad = [
        "{ customers(first: 0) { nodes { name } } }",
        "{ customers(first: 101) { nodes { name } } }",
        "{ customers(last: 5) { nodes { name } } }",
        '{ customers(first: 2, last: 2, before: "x") { nodes { name } } }',
        '{ customers(after: "not-a-cursor") { nodes { name } } }',
        '{ customer(id: "../../account") { name } }',
        '{ node(id: "garbage") { id } }',
    ]
    for q in bad:
        result = await h.query(q)
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (q, result)
    assert h.upstream.calls == []


async def test_cursor_from_another_connection(h: Harness) -> None:
    cursor = encode_cursor("invoices", "in_x")
    result = await h.query(
        "query($a: String) { customers(after: $a) { nodes { name } } }", {"a": cursor}
    )
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another connection" in result["errors"][0]["message"]
    assert h.upstream.calls == []


async def test_wrong_type_of_global_id(h: Harness) -> None:
    gid = to_global_id("Invoice", "in_1")
    result = await h.query("query($i: ID!) { customer(id: $i) { name } }", {"i": gid})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_stale_cursor_is_bad_user_input(h: Harness) -> None:
    cursor = encode_cursor("customers", "cus_gone0000000000")
    result = await h.query(
        "query($a: String) { customers(after: $a) { nodes { name } } }", {"a": cursor}
    )
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result["data"] == {"customers": None}


async def test_upstream_failure_keeps_partial_data(h: Harness) -> None:
    customers = (await h.rest("customers", limit=3))["data"]
    broken = customers[1]["id"]
    h.upstream.faults.append(("GET", f"invoices?customer={broken}", 500))
    result = await h.query(
        "{ customers(first: 3) { nodes { customerId invoices(first: 2) { nodes { invoiceId } } } } }"
    )
    nodes = result["data"]["customers"]["nodes"]
    assert [n["customerId"] for n in nodes] == [c["id"] for c in customers]
    assert nodes[1]["invoices"] is None
    assert nodes[0]["invoices"]["nodes"] and nodes[2]["invoices"] is not None
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_ERROR"
    assert error["path"] == ["customers", "nodes", 1, "invoices"]


async def test_malformed_upstream_payload_is_upstream_error(h: Harness) -> None:
    h.upstream.faults.append(("GET", "account", 502))
    result = await h.query("{ viewer { name } spaces { nodes { spaceId } } }")
    assert result["data"]["viewer"] is None if result["data"] else True
    assert result["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
    assert result["data"]["spaces"]["nodes"]
