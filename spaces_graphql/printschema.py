"""Print the schema in SDL: ``python -m spaces_graphql.printschema > schema.graphql``.

``spaces-graphql schema --federation`` prints the subgraph's SDL instead (what
``_service { sdl }`` answers), for composing a supergraph offline.
"""

from __future__ import annotations

from strawberry.printer import print_schema

from graph.federation import subgraph_sdl
from graph.schema import schema_for


def printed(federation: str | None = None) -> str:
    """The schema as committed in ``schema.graphql``; with ``federation`` (a version such
    as ``"2.9"``), the Apollo Federation subgraph's SDL. Either ends with one newline."""
    if federation is None:
        return print_schema(schema_for()) + "\n"
    return subgraph_sdl(schema_for(True, federation)) + "\n"


if __name__ == "__main__":
    print(printed(), end="")
