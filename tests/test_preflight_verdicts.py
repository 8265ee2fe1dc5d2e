"""Pre-flight remembers the verdict of a document run again with the same small variables.

Coercion, the argument checks and the cost are pure functions of the document, the
operation's name and the variables, so a repeat is answered without walking the
document again (asserted as AST selections visited, never as time).
"""

from __future__ import annotations

import pytest

from graph.schema import schema as strawberry_schema
from spaces_graphql.preflight import (
    VERDICT_VARIABLES_BYTES,
    Limits,
    Preflight,
    RequestError,
)

SCHEMA = strawberry_schema._schema
QUERY = """query($n: Int) { customers(first: $n) { nodes { name subscriptions(first: 5) {
  nodes { status } } } } }"""


def test_a_repeat_is_answered_without_walking_the_document() -> None:
    p = Preflight(SCHEMA, Limits())
    first = p.prepare(QUERY, {"n": 10}, None)
    assert first.work > 0
    visited = p.nodes_visited
    again = p.prepare(QUERY, {"n": 10}, None)
    assert p.nodes_visited == visited and again.work == 0
    assert (again.cost, again.variables, again.document) == (
        first.cost,
        first.variables,
        first.document,
    )
    # Other variables are another verdict, with their own cost.
    other = p.prepare(QUERY, {"n": 20}, None)
    assert other.work > 0 and other.cost != first.cost


def test_refusals_and_large_variables_are_not_remembered() -> None:
    p = Preflight(SCHEMA, Limits())
    for _ in range(2):
        with pytest.raises(RequestError):
            p.prepare(QUERY, {"n": 1000}, None)  # out of range: refused each time, afresh
    # Undeclared variables are ignored by coercion, but they make the key too large to keep.
    big = {"n": 5, "pad": "x" * VERDICT_VARIABLES_BYTES}
    assert p.prepare(QUERY, big, None).work > 0
    assert p.prepare(QUERY, big, None).work > 0


def test_verdicts_leave_with_their_document() -> None:
    p = Preflight(SCHEMA, Limits(cache_bytes=200_000))
    p.prepare(QUERY, {"n": 3}, None)
    # Enough other documents to evict QUERY's entry, and its verdicts with it.
    for i in range(40):
        p.prepare(f"{{ customers(first: {i + 1}) {{ nodes {{ name }} }} }}", None, None)
    assert p.prepare(QUERY, {"n": 3}, None).work > 0
