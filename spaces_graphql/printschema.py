"""Print the schema in SDL: ``python -m spaces_graphql.printschema > schema.graphql``."""

from __future__ import annotations

from strawberry.printer import print_schema

from graph.schema import schema


def printed() -> str:
    """The schema as committed in ``schema.graphql``."""
    return print_schema(schema) + "\n"


if __name__ == "__main__":
    print(printed(), end="")
