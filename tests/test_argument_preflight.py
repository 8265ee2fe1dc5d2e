"""Argument refusals in pre-flight (issue 11): the whole operation, before any upstream call.

Every refused request here has a sibling field that would call upstream
(`viewer`), and asserts BAD_USER_INPUT, no `data`, and zero upstream calls.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType, parse
from graphql.language import FragmentDefinitionNode, OperationDefinitionNode

import spaces_graphql.arguments as arguments
from graph.lookup import customer_key, invoice_key, node_key, space_key
from graph.node import from_global_id, to_global_id
from graph.schema import schema
from resolvers.errors import BadUserInput
from resolvers.pagination import (
    MAX_CURSOR_LENGTH,
    check_relay_args,
    encode_cursor,
    page_request,
    parse_cursor,
)
from spaces_graphql.arguments import argument_errors, connection_scopes, scope_shape
from tests.support import Harness

ROOT_SCOPES, NESTED_SHAPES = connection_scopes(schema._schema)

SIBLING = "viewer { name }"


def _refused(result: dict[str, Any], h: Harness, count: int = 1) -> list[dict[str, Any]]:
    """The request was refused whole in pre-flight: no data, BAD_USER_INPUT, no upstream call."""
    assert "data" not in result, result
    errors: list[dict[str, Any]] = result["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"] * count, errors
    assert h.upstream.calls == [], h.upstream.routes()
    return errors


# --- Relay arguments -----------------------------------------------------------------

RELAY_CASES = [
    ("first: 101", "`first` must be within 1..100"),
    ("first: 0", "`first` must be within 1..100"),
    ("first: -3", "`first` must be within 1..100"),
    ('last: 101, before: "x"', "`last` must be within 1..100"),
    ("last: 5", "`last` needs `before`: the Spaces API pages backward only from a cursor"),
    ('first: 2, last: 2, before: "x"', "give `first` or `last`, not both"),
    ('after: "x", before: "y"', "give `after` or `before`, not both"),
    ('first: 2, before: "x"', "`before` goes with `last`, not `first`"),
    ('after: "not-a-cursor"', "`after` is not a valid cursor"),
]


@pytest.mark.parametrize(("args", "message"), RELAY_CASES)
async def test_relay_literals_refused_before_siblings_run(
    h: Harness, args: str, message: str
) -> None:
    result = await h.query(f"{{ {SIBLING} customers({args}) {{ nodes {{ id }} }} }}")
    (error,) = _refused(result, h)
    assert error["message"] == message
    assert error["path"] == ["customers"]
    assert error["locations"] == [{"line": 1, "column": 19}]


@pytest.mark.parametrize(("args", "message"), RELAY_CASES)
def test_relay_messages_are_page_requests(args: str, message: str) -> None:
    """Pre-flight and execution share `check_relay_args`: the same refusal, the same words."""
    values: dict[str, Any] = {"first": None, "after": None, "last": None, "before": None}
    for part in args.split(", "):
        name, _, raw = part.partition(": ")
        values[name] = json.loads(raw)
    with pytest.raises(BadUserInput) as caught:
        page_request("customers", **values)
    assert caught.value.message == message


async def test_relay_variables_refused(h: Harness) -> None:
    query = (
        "query($f: Int, $l: Int, $a: String, $b: String) { "
        f"{SIBLING} invoices(first: $f, last: $l, after: $a, before: $b) {{ nodes {{ id }} }} }}"
    )
    for variables in ({"f": 101}, {"l": 3}, {"f": 1, "l": 1, "b": "x"}, {"a": "x", "b": "y"}):
        _refused(await h.query(query, variables), h)


async def test_nested_connection_refused_with_its_path(h: Harness) -> None:
    query = (
        f"{{ {SIBLING} customers(first: 2) {{ nodes {{ subscriptions(first: 2) "
        "{ nodes { invoices(first: 500) { nodes { id } } } } } } }"
    )
    (error,) = _refused(await h.query(query), h)
    assert error["path"] == ["customers", "nodes", "subscriptions", "nodes", "invoices"]
    assert error["extensions"]["argument"] == "first"


async def test_every_error_is_reported_up_to_five(h: Harness) -> None:
    two = f"{{ {SIBLING} a: customers(first: 0) {{ nodes {{ id }} }} b: spaces(last: 3) {{ nodes {{ id }} }} }}"
    errors = _refused(await h.query(two), h, count=2)
    assert [e["path"] for e in errors] == [["a"], ["b"]]
    many = " ".join(f"c{i}: customers(first: {200 + i}) {{ nodes {{ id }} }}" for i in range(9))
    _refused(await h.query(f"{{ {SIBLING} {many} }}"), h, count=5)


async def test_fragments_and_inline_fragments(h: Harness) -> None:
    query = f"""
    query {{ {SIBLING} customers(first: 1) {{ nodes {{ ...Bad }} }}
             again: customers(first: 1) {{ nodes {{ ...Bad }} }}
             events(first: 2) {{ nodes {{ resource {{ ... on Customer {{ invoices(last: 9) {{ nodes {{ id }} }} }} }} }} }} }}
    fragment Bad on Customer {{ invoices(first: 101) {{ nodes {{ id }} }} }}
    """
    errors = _refused(await h.query(query), h, count=2)
    # The fragment is judged once, at its first spread.
    assert errors[0]["path"] == ["customers", "nodes", "invoices"]
    assert errors[1]["path"] == ["events", "nodes", "resource", "invoices"]
    assert errors[1]["message"].startswith("`last` needs `before`")


async def test_skipped_fields_are_not_judged(h: Harness) -> None:
    query = (
        "query($no: Boolean!) { viewer { name } "
        "customers(first: 101) @skip(if: true) { nodes { id } } "
        "spaces(first: 500) @include(if: $no) { nodes { id } } }"
    )
    data = await h.data(query, {"no": False})
    assert data["viewer"]["name"] and "customers" not in data


# --- cursors ---------------------------------------------------------------------------


async def _cursors(h: Harness) -> dict[str, str]:
    """Real cursors of a few connections (then the upstream log is cleared)."""
    data = await h.data(
        "{ customers(first: 1) { nodes { invoices(first: 1) { pageInfo { endCursor } } } "
        "pageInfo { endCursor } } invoices(first: 1) { pageInfo { endCursor } } "
        "events(first: 1, types: [INVOICE_PAID, CUSTOMER_CREATED]) { pageInfo { endCursor } } }"
    )
    h.upstream.reset()
    return {
        "customers": data["customers"]["pageInfo"]["endCursor"],
        "customer.invoices": data["customers"]["nodes"][0]["invoices"]["pageInfo"]["endCursor"],
        "invoices": data["invoices"]["pageInfo"]["endCursor"],
        "events.typed": data["events"]["pageInfo"]["endCursor"],
    }


async def test_cursor_from_another_root_connection(h: Harness) -> None:
    cursors = await _cursors(h)
    query = f"query($a: String) {{ {SIBLING} customers(after: $a) {{ nodes {{ id }} }} }}"
    (error,) = _refused(await h.query(query, {"a": cursors["invoices"]}), h)
    assert error["message"] == "`after` is a cursor from another connection"


async def test_events_cursor_is_tied_to_its_types(h: Harness) -> None:
    cursors = await _cursors(h)
    query = (
        "query($a: String, $t: [EventType!]) { viewer { name } "
        "events(first: 1, after: $a, types: $t) { nodes { id } } }"
    )
    for types in (None, ["INVOICE_PAID"], ["INVOICE_PAID", "CUSTOMER_CREATED", "INVOICE_CREATED"]):
        _refused(await h.query(query, {"a": cursors["events.typed"], "t": types}), h)
    # The same set in another order and with a repeat is the same list: accepted.
    same = {"a": cursors["events.typed"], "t": ["CUSTOMER_CREATED", "INVOICE_PAID", "INVOICE_PAID"]}
    data = await h.data(query, same)
    assert data["events"] is not None


async def test_root_cursor_given_to_a_nested_connection(h: Harness) -> None:
    cursors = await _cursors(h)
    query = (
        f"query($a: String) {{ {SIBLING} customers(first: 2) {{ nodes {{ "
        "invoices(first: 1, after: $a) { nodes { id } } } } }"
    )
    for wrong in (cursors["customers"], cursors["invoices"]):
        (error,) = _refused(await h.query(query, {"a": wrong}), h)
        assert error["message"] == "`after` is a cursor from another connection"
        assert error["path"] == ["customers", "nodes", "invoices"]


async def test_nested_cursor_of_another_parent_stays_an_execution_check(h: Harness) -> None:
    """Which customer a `Customer.invoices` cursor came from is known only at execution."""
    cursors = await _cursors(h)
    query = (
        "query($a: String) { customers(first: 2) { nodes { customerId "
        "invoices(first: 1, after: $a) { nodes { id } } } } }"
    )
    result = await h.query(query, {"a": cursors["customer.invoices"]})
    nodes = result["data"]["customers"]["nodes"]
    assert nodes[0]["invoices"] is not None and nodes[1]["invoices"] is None
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["customers", "nodes", 1, "invoices"]


FORGED = [
    "x" * (MAX_CURSOR_LENGTH + 1),
    encode_cursor("customers", "cus_1") + "!",  # base64 would skip the "!"
    encode_cursor("customers", "cus_1").replace("Y", "\u0661"),
    encode_cursor("customers", "cus_1\n"),
    encode_cursor("customers", "../x"),
    encode_cursor("customers", ""),
    encode_cursor("customers", "a").replace("YzE", "YzI", 1),  # prefix "c2", not "c1"
    encode_cursor("customers\x1fextra", "a"),  # four parts
]


async def test_forged_and_oversized_cursors(h: Harness) -> None:
    query = f"query($b: String) {{ {SIBLING} customers(last: 2, before: $b) {{ nodes {{ id }} }} }}"
    for cursor in FORGED:
        (error,) = _refused(await h.query(query, {"b": cursor}), h)
        assert error["message"] == "`before` is not a valid cursor", cursor
    assert parse_cursor(encode_cursor("customers", "cus_1"), "after") == ("customers", "cus_1")


def test_scope_tables_cover_every_connection() -> None:
    for type_ in schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for name, field in type_.fields.items():
            if {"first", "after", "last", "before"} <= set(field.args):
                known = name in ROOT_SCOPES if type_.name == "Query" else None
                assert known or (type_.name, name) in NESTED_SHAPES, (type_.name, name)


async def test_scope_tables_match_the_cursors_execution_makes(h: Harness) -> None:
    """A drift test: the static tables against the scopes graph/ really encodes."""
    page = "(first: 1) { pageInfo { endCursor } }"
    roots = " ".join(f"{name}{page}" for name in ROOT_SCOPES)
    data = await h.data(f"{{ {roots} }}")
    for name, scope in ROOT_SCOPES.items():
        cursor = data[name]["pageInfo"]["endCursor"]
        if cursor is not None:  # an empty list has no cursor to compare
            assert parse_cursor(cursor, "after")[0] == scope, name
    nested = await h.data(
        "{ spaces(first: 3) { nodes { customers" + page + " capturedEmails" + page + " } } "
        "subscriptions(first: 20) { nodes { invoices"
        + page
        + " customer { subscriptions"
        + page
        + " invoices"
        + page
        + " } } } }"
    )
    seen: dict[tuple[str, str], set[str]] = {}
    for space in nested["spaces"]["nodes"]:
        for field in ("customers", "capturedEmails"):
            cursor = space[field]["pageInfo"]["endCursor"]
            if cursor:
                seen.setdefault(("Space", field), set()).add(
                    scope_shape(parse_cursor(cursor, "a")[0])
                )
    for sub in nested["subscriptions"]["nodes"]:
        cursor = sub["invoices"]["pageInfo"]["endCursor"]
        if cursor:
            seen.setdefault(("Subscription", "invoices"), set()).add(
                scope_shape(parse_cursor(cursor, "a")[0])
            )
        for field in ("subscriptions", "invoices"):
            cursor = sub["customer"][field]["pageInfo"]["endCursor"]
            if cursor:
                seen.setdefault(("Customer", field), set()).add(
                    scope_shape(parse_cursor(cursor, "a")[0])
                )
    assert set(seen) == set(NESTED_SHAPES)
    for key, shapes in seen.items():
        assert shapes == {NESTED_SHAPES[key]}, key


# --- IDs ----------------------------------------------------------------------------------

BAD_IDS = [
    ("space", "\u00b3"),  # superscript three: isdigit() but not int()
    ("space", "\u0663"),  # Arabic-Indic three: int() says 3
    ("space", to_global_id("Space", "\u0663")),
    ("space", "1" * 19),
    ("customer", "../../account"),
    ("customer", "c" * 600),
    ("customer", "cus_1\n"),
    ("customer", to_global_id("Invoice", "in_1")),
    ("invoice", "in_<script>"),
    ("node", "garbage"),
    ("node", to_global_id("Subscription", "cus_1")),
    ("node", to_global_id("Space", "\u00b3")),
    ("node", to_global_id("Customer", "cus\u0661")),
]


@pytest.mark.parametrize(("field", "value"), BAD_IDS)
async def test_bad_ids_refused_without_echo(h: Harness, field: str, value: str) -> None:
    query = f"query($i: ID!) {{ {SIBLING} {field}(id: $i) {{ id }} }}"
    (error,) = _refused(await h.query(query, {"i": value}), h)
    assert error["path"] == [field]
    assert error["extensions"]["argument"] == "id"
    if len(value) > 3:
        assert value not in json.dumps(error, ensure_ascii=False)


async def test_bad_id_literal_refused(h: Harness) -> None:
    (error,) = _refused(await h.query(f'{{ {SIBLING} space(id: "\u00b3") {{ id }} }}'), h)
    assert error["message"] == "`id` is not a valid Space ID"


async def test_nodes_over_the_limit_and_bad_entries(h: Harness) -> None:
    query = f"query($ids: [ID!]!) {{ {SIBLING} nodes(ids: $ids) {{ id }} }}"
    good = to_global_id("Customer", "cus_nope")
    (error,) = _refused(await h.query(query, {"ids": [good] * 101}), h)
    assert error["message"] == "`ids` takes at most 100 IDs"
    errors = _refused(await h.query(query, {"ids": [good, "\u0663", good, "x" * 900]}), h, 2)
    assert [e["path"] for e in errors] == [["nodes", 1], ["nodes", 3]]
    literal = f'{{ {SIBLING} nodes(ids: ["{good}", "junk"]) {{ id }} }}'
    _refused(await h.query(literal), h)


async def test_valid_ids_and_cursors_still_answer(h: Harness) -> None:
    customer = (await h.rest("customers", limit=1))["data"][0]
    h.upstream.reset()
    data = await h.data(
        "query($c: ID!, $g: ID!) { viewer { name } customer(id: $c) { customerId } "
        "node(id: $g) { id } space(id: 1) { spaceId } nodes(ids: [$g]) { id } }",
        {"c": customer["id"], "g": to_global_id("Customer", customer["id"])},
    )
    assert data["customer"]["customerId"] == customer["id"]
    assert data["node"]["id"] == to_global_id("Customer", customer["id"])
    assert h.upstream.calls


async def test_mutation_ids_stay_user_errors(h: Harness) -> None:
    """Mutation inputs are judged by their mutation (userErrors), not by pre-flight."""
    for value in ("\u00b3", "\u0663", "x" * 600, "in_1\n"):
        result = await h.query(
            "mutation($i: ID!) { payInvoice(input: {id: $i}) { invoice { id } "
            "userErrors { field code } } }",
            {"i": value},
        )
        payload = result["data"]["payInvoice"]
        assert payload["invoice"] is None
        assert payload["userErrors"][0]["field"] == ["input", "id"], value
    for value in ("\u0663", to_global_id("Subscription", "cus_1/tok\n")):
        result = await h.query(
            "mutation($i: ID!) { cancelSubscription(input: {id: $i}) { userErrors { field } } }",
            {"i": value},
        )
        assert result["data"]["cancelSubscription"]["userErrors"][0]["field"] == ["input", "id"]
    assert h.upstream.calls == [], h.upstream.routes()


# --- execution keeps the same rules (second line) ----------------------------------------


async def test_execution_refuses_non_ascii_ids_without_preflight(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pre-flight switched off, the resolvers refuse the same IDs (not masked, not Space 3)."""
    monkeypatch.setattr("spaces_graphql.preflight.argument_errors", lambda *_: [])
    for field, value in [b for b in BAD_IDS if b[0] in {"space", "node"}]:
        result = await h.query(f"query($i: ID!) {{ {field}(id: $i) {{ id }} }}", {"i": value})
        assert result["data"] == {field: None}, (field, value)
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    result = await h.query("{ customers(first: 101) { nodes { id } } }")
    assert result["data"] == {"customers": None}
    assert h.upstream.calls == []


@pytest.mark.parametrize("value", ["\u00b3", "\u0663", "\uff13", "3\n", " 3", "+3", "1" * 19])
def test_space_key_takes_ascii_digits_only(value: str) -> None:
    with pytest.raises(BadUserInput):
        space_key(value)
    with pytest.raises(BadUserInput):
        node_key(to_global_id("Space", value))


def test_id_parsers_accept_what_the_facade_makes() -> None:
    assert space_key("3") == 3 and space_key(to_global_id("Space", 3)) == 3
    assert (
        customer_key("cus_1") == "cus_1" and invoice_key(to_global_id("Invoice", "in_1")) == "in_1"
    )
    key = ("cus_" + "a" * 124, "s" * 128)
    assert node_key(to_global_id("Subscription", "/".join(key))) == ("Subscription", key)
    gid = to_global_id("Space", 3)
    assert from_global_id(gid + "=") == ("Space", "3")  # padded, as some clients send
    assert from_global_id(gid[:2] + "!" + gid[2:]) is None
    assert from_global_id(gid[:-1] + chr(ord(gid[-1]) + 1)) is None  # spare bits differ


# --- linear time -----------------------------------------------------------------------------


def _operation(query: str) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]]:
    document = parse(query)
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    frags = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return ops[0], frags


def test_each_fragment_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """F0 spreads F1 twice, F1 spreads F2 twice …: 2^40 paths, 41 fragment bodies."""
    depth = 40
    fragments = "\n".join(
        f"fragment F{i} on Customer {{ a: invoices(first: 1) {{ nodes {{ id }} }} ...F{i + 1} ...F{i + 1} }}"
        for i in range(depth)
    )
    query = (
        "{ customers { nodes { ...F0 } } }\n"
        + fragments
        + f"\nfragment F{depth} on Customer {{ invoices(first: 101) {{ nodes {{ id }} }} }}"
    )
    calls = 0

    def counting(*args: Any) -> None:
        nonlocal calls
        calls += 1
        check_relay_args(*args)

    monkeypatch.setattr(arguments, "check_relay_args", counting)
    operation, frags = _operation(query)
    errors = argument_errors(schema._schema, operation, frags, {})
    assert [e.message for e in errors] == ["`first` must be within 1..100"]
    assert calls == depth + 1  # one per fragment body (`customers` has no arguments)


async def test_status_follows_the_media_type(h: Harness) -> None:
    """A request error: 400 for application/graphql-response+json, 200 for application/json."""
    body = {"query": f"{{ {SIBLING} customers(first: 101) {{ nodes {{ id }} }} }}"}
    for accept, status in (("application/graphql-response+json", 400), ("application/json", 200)):
        response = await h.facade.post(
            "/graphql", json=body, headers={"Authorization": "Bearer demo-alice", "Accept": accept}
        )
        assert response.status_code == status, accept
        assert "data" not in response.json()
    assert h.upstream.calls == []
