"""``schema.graphql`` is the printed schema; this fails when it drifts."""

from __future__ import annotations

from pathlib import Path

from spaces_graphql.printschema import printed

ROOT = Path(__file__).resolve().parent.parent


def test_schema_file_matches_printed_schema() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == printed(), "schema.graphql drifted: run `make schema` and commit it"


def test_every_field_and_type_has_a_description() -> None:
    from graphql import GraphQLObjectType, GraphQLUnionType

    from graph.schema import schema

    missing = []
    for name, t in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "ID", "Float"}:
            continue
        if not t.description:
            missing.append(name)
        if isinstance(t, GraphQLObjectType) and not isinstance(t, GraphQLUnionType):
            missing += [f"{name}.{f}" for f, d in t.fields.items() if not d.description]
    assert not missing, missing
