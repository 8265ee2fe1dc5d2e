"""Pre-flight in linear time, a cost that is an upper bound, bounded caches (issue 11).

Work is asserted as AST selections visited (``Preflight.nodes_visited``), never
as wall time; every refusal through the app makes zero upstream calls.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

import spaces_graphql.preflight as preflight
from graph.node import to_global_id
from graph.schema import schema
from sandbox.app import SandboxConfig
from spaces_graphql.cost import CostCalculator
from spaces_graphql.preflight import DocumentCache, Limits, Preflight, RequestError
from spaces_graphql.shape import measure
from tests.support import Harness, harness

SCHEMA = schema._schema


def bomb(levels: int, leaf: str = "name", on: str = "Customer") -> str:
    """``levels`` fragments, each spreading the next three times: 3^levels leaves."""
    parts = ["query { customers(first: 1) { nodes { ...F0 } } }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} ...F{i + 1} }}")
    parts.append(f"fragment F{levels} on {on} {{ {leaf} }}")
    return "\n".join(parts)


def _operation(query: str) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]]:
    document = parse(query)
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    frags = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return ops[0], frags


def _runtime_preflight(h: Harness) -> Preflight:
    app: Any = h.facade._transport.app  # type: ignore[attr-defined]
    found: Preflight = app.state.runtime.preflight
    return found


# --- the fragment bomb -------------------------------------------------------------------


@pytest.mark.parametrize("levels", [15, 30])
def test_fragment_bomb_is_refused_before_the_spec_rules(
    levels: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_validation(*_: Any, **__: Any) -> Any:
        raise AssertionError("the spec's rules ran on a document refused for its shape")

    monkeypatch.setattr(preflight, "validate", no_validation)
    p = Preflight(SCHEMA, Limits())
    with pytest.raises(RequestError) as refused:
        p.prepare(bomb(levels), None, None)
    assert refused.value.code == "QUERY_TOO_COMPLEX"
    assert "more than 2000 fields with its fragments expanded" in refused.value.errors[0].message
    # Each fragment's three spreads and its body once: linear, not 3^levels.
    assert p.nodes_visited <= 7 * (levels + 2), p.nodes_visited


def test_bomb_work_grows_linearly() -> None:
    work = {}
    for levels in (10, 20, 40, 80):
        p = Preflight(SCHEMA, Limits(max_tokens=10_000))
        with pytest.raises(RequestError):
            p.prepare(bomb(levels), None, None)
        work[levels] = p.nodes_visited
    assert work[80] - work[40] == 2 * (work[40] - work[20]) == 4 * (work[20] - work[10])


def test_cost_of_a_bomb_is_computed_once_per_fragment() -> None:
    """Bypassing the shape limit: the price is exact (3^30 pages) and the work is linear."""
    operation, fragments = _operation(bomb(30, leaf="subscriptions(first: 2) { nodes { id } }"))
    calculator = CostCalculator(SCHEMA, fragments, {})
    assert calculator.operation(operation) == 1 + 3**30
    assert calculator.visited <= 4 * 33, calculator.visited


def test_shape_of_long_fragment_chains_needs_no_recursion() -> None:
    chain = 5000  # far beyond Python's recursion limit
    text = "{ viewer { ...F0 } }\n" + "\n".join(
        f"fragment F{i} on Account {{ name ...F{i + 1} }}" for i in range(chain)
    )
    text += f"\nfragment F{chain} on Account {{ email }}"
    shape = measure(parse(text), cap=10**9)
    assert (shape.depth, shape.fields) == (2, 1 + chain + 1)
    cyclic = measure(parse("{ viewer { ...A } } fragment A on Account { ...B name } "
                           "fragment B on Account { ...A email }"), cap=100)  # fmt: skip
    assert cyclic.fields == 3  # a cycle is cut (the spec rules report it)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (bomb(12, leaf="name"), "fields with its fragments expanded"),
        (bomb(3, leaf="a: name b: email c: id d: customerId e: createdAt f: name g: email "
                      "h: id i: name j: email k: id l: name m: email n: id o: name p: id"),
         "aliases"),
        ("{ customers { nodes { ...A } } } fragment A on Customer { invoices { nodes { customer "
         "{ ...B } } } } fragment B on Customer { invoices { nodes { customer { ...C } } } } "
         "fragment C on Customer { invoices { nodes { customer { name } } } }", "levels deep"),
    ],
)  # fmt: skip
async def test_shape_refusals_through_the_app(h: Harness, text: str, message: str) -> None:
    result = await h.query(text)
    assert "data" not in result, result
    assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert message in result["errors"][0]["message"]
    assert h.upstream.calls == []


def test_fields_merged_from_many_fragments_are_refused_before_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The spec's field-merging rule is quadratic in the fields of one name it merges."""

    def many(n: int, inline: bool) -> str:
        if inline:
            return "{ " + " ".join(["... on Query { customers { nodes { name } } }"] * n) + " }"
        spreads = " ".join(f"...F{i}" for i in range(n))
        frags = " ".join(f"fragment F{i} on Customer {{ id }}" for i in range(n))
        return f"{{ customers {{ nodes {{ {spreads} }} }} }} {frags}"

    for inline in (True, False):
        assert measure(parse(many(30, inline)), cap=100).merged == 30
        Preflight(SCHEMA, Limits()).prepare(many(30, inline), None, None)

    def no_validation(*_: Any, **__: Any) -> Any:
        raise AssertionError("the spec's rules ran on a document refused for its shape")

    monkeypatch.setattr(preflight, "validate", no_validation)
    for inline in (True, False):
        with pytest.raises(RequestError) as refused:
            Preflight(SCHEMA, Limits()).prepare(many(31, inline), None, None)
        assert "merges 31 fields of one name" in refused.value.errors[0].message


async def test_another_callers_request_is_answered_meanwhile(h: Harness) -> None:
    p = _runtime_preflight(h)
    before = p.nodes_visited
    normal = "{ customers(first: 2) { nodes { name } } }"
    refused, answered = await asyncio.gather(h.query(bomb(30)), h.query(normal))
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert len(answered["data"]["customers"]["nodes"]) == 2
    assert h.upstream.routes() == ["GET customers"]
    assert p.nodes_visited - before < 300  # both pre-flights together


# --- the cost is an upper bound ----------------------------------------------------------


async def _ids(h: Harness) -> dict[str, str]:
    customer = (await h.rest("customers", limit=1))["data"][0]["id"]
    event = (await h.rest("events", limit=1))["data"][0]["id"]
    return {
        "customer": to_global_id("Customer", customer),
        "space": to_global_id("Space", 1),
        "event": to_global_id("Event", event),
    }


COST_CASES = [
    # Nested abstract fragments: Node inside the Node lookup, Customer inside Node.
    ("{ node(id: $customer) { ... on Node { ... on Customer { subscriptions(first: 5) "
     "{ nodes { invoices(first: 5) { nodes { id } } } } } } } }", 1 + 1 + 5),
    # Node inside EventResource inside an event of customers: one page per snapshot.
    ("{ events(first: 5, types: [CUSTOMER_CREATED]) { nodes { resource { ... on Node "
     "{ ... on Customer { subscriptions(first: 3) { nodes { id } } } } } } } }", 1 + 5),
    # EventResource inside Node: a fragment on a union spread in an interface.
    ("{ node(id: $customer) { ...R } } fragment R on EventResource "
     "{ ... on Customer { invoices(first: 4) { nodes { id } } } }", 1 + 1),
    # Several fragments on one type add up.
    ("{ customers(first: 2) { nodes { ...A ...B ...A } } } "
     "fragment A on Customer { invoices(first: 2) { nodes { id } } } "
     "fragment B on Customer { subscriptions(first: 3) { nodes { id } } }", 1 + 2 * 3),
    # Mixed IDs: each priced on its own type (Space lookups 2, listed objects 2).
    ("{ nodes(ids: [$customer, $space, $event]) { ... on Customer { invoices(first: 2) "
     "{ nodes { id } } } ... on Event { id } } }", (1 + 1) + 2 + 2),
    # Snapshots may lack their embedded objects; upstream objects never do.
    ("{ events(first: 3, types: [CUSTOMER_CREATED]) { nodes { resource { ... on Customer "
     "{ space { id } } } } } customers(first: 3) { nodes { space { id } } } }", (1 + 3) + 1),
    ("{ invoices(first: 3) { nodes { subscription { customer { name } } customer { name } } } }",
     1 + 3),
    ("{ webhooks(first: 2) { nodes { event { resource { ... on Invoice { customer { name } } } } } } }",
     1 + 2),
    ("{ viewer { name } }", 1),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), COST_CASES)
@pytest.mark.parametrize("batch", [True, False], ids=["batch-by-ids", "no-batch-by-ids"])
async def test_cost_bounds_known_shapes(batch: bool, text: str, expected: int) -> None:
    mode = "auto" if batch else "off"
    async with harness(SandboxConfig(batch_ids=batch), batch_ids=mode) as h:
        await _cost_case(h, text, expected)


async def _cost_case(h: Harness, text: str, expected: int) -> None:
    ids = await _ids(h)
    used = {k: v for k, v in ids.items() if f"${k}" in text}
    query = text
    if used:
        query = "query(" + ", ".join(f"${k}: ID!" for k in used) + ") " + text
    h.upstream.reset()
    result = await h.query(query, used)
    assert "errors" not in result, result["errors"]
    cost = result["extensions"]["cost"]
    assert cost["requested"] == expected
    assert len(h.upstream.calls) <= expected, h.upstream.routes()
    assert cost["upstreamRequests"] == len(h.upstream.calls)


async def test_a_mutation_costs_its_write_and_its_payload(h: Harness) -> None:
    invoice = next(i for i in (await h.rest("invoices", limit=50))["data"] if not i["paid"])
    text = (
        "mutation($id: ID!) { payInvoice(input: {id: $id}) { invoice { customer "
        "{ invoices(first: 2) { nodes { id } } } } userErrors { code } } }"
    )
    h.upstream.reset()
    result = await h.query(text, {"id": invoice["id"]})
    assert result["extensions"]["cost"]["requested"] == 1 + 1
    assert len(h.upstream.calls) <= 2


# --- the document cache ------------------------------------------------------------------


def test_documents_are_cached_and_large_ones_are_not() -> None:
    p = Preflight(SCHEMA, Limits(cache_entry_bytes=4096))
    small = "{ customers(first: 2) { nodes { name } } }"
    p.prepare(small, None, None)
    first = p.nodes_visited
    assert p.prepare(small, None, None).cost == 1 + 0
    assert p.nodes_visited - first <= 3  # the cost walk only: the shape was cached
    large = "# " + "x" * 5000 + "\n" + small
    p.prepare(large, None, None)
    assert len(p.cache) == 1
    with pytest.raises(RequestError):
        p.prepare("{ viewer { nam } }", None, None)
    assert len(p.cache) == 2  # refusals are cached too


def test_the_cache_keeps_to_its_byte_budget() -> None:
    cache = DocumentCache(entry_bytes=4096, total_bytes=1024 * 1024)
    texts = [f"{{ viewer {{ name }} }} # {i:04d} " + "x" * 3000 for i in range(100)]
    for text in texts:
        cache.put(text, (None, ()))
        assert cache.bytes <= 1024 * 1024
    assert len(cache) == 2  # each is charged ~390 KB: its text and its parsed document
    older, newer = texts[-2], texts[-1]
    assert cache.get(texts[0]) is None
    cache.get(older)  # used now: the least recently used is `newer`
    cache.put("{ viewer { email } }" + "y" * 3000, (None, ()))
    assert cache.get(older) is not None and cache.get(newer) is None


RSS_SCRIPT = textwrap.dedent(
    """
    import gc, json, os
    from graph.schema import schema
    from spaces_graphql.preflight import Limits, Preflight

    def rss():
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    p = Preflight(schema._schema, Limits())
    # U+FEFF is whitespace to GraphQL and 3 bytes of UTF-8: 1 MiB of text lexes 3x faster.
    pad = "\\ufeff" * (1024 * 1024 // 3 + 1)
    p.prepare("{ viewer { name } }", None, None)
    before = rss()
    for i in range(600):
        p.prepare(f"# {i}\\n" + pad + "{ viewer { name } }", None, None)
    print(json.dumps({"delta": rss() - before, "entries": len(p.cache), "bytes": p.cache.bytes,
                      "size": len((f"# 0\\n" + pad).encode())}))
    """
)


def test_600_distinct_one_megabyte_documents_leave_memory_flat() -> None:
    # A fresh process: this one's RSS carries whatever other tests left behind.
    done = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT], capture_output=True, text=True, timeout=600, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["size"] >= 1024 * 1024
    assert report["entries"] == 1  # the small warm-up document only
    assert report["delta"] < 100 * 1024 * 1024, report
    print(f"\n600 x 1 MiB documents: RSS delta {report['delta'] / 2**20:.1f} MiB")


async def test_the_bench_case_runs_alone() -> None:
    from bench import fragment_bomb

    result = await fragment_bomb.measure(levels=(15,), rounds=2)
    row = result["levels"]["15"]
    assert row["upstream_requests"] == 0 and row["selections_visited"] < 120
    _, line = fragment_bomb.verdict({"fragment_bomb": result})
    assert "fragment bomb refused in < 50 ms" in line
