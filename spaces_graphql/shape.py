"""The shape of a document, measured in one linear pass before any spec rule runs.

Depth, aliases, directives, fields repeated in one selection set, fields of
one name merged into one selection set through its inline fragments and
spreads (what the spec's quadratic field-merging rule compares pairwise), and
the number of field selections the operation would have with every fragment
spread written out in place ("expanded fields"). Fragments are measured once
each, bottom-up in spread order, and a spread adds its fragment's measures
without walking it again: a document of 30 fragments each spreading the next
three times expands to 3^30 fields, and is measured (and refused) in 30 small
steps. No recursion: nesting as deep as the token limit allows is fine.

Works on documents that are not yet validated: unknown fragments count as
empty and fragment cycles are cut (the spec rules then report both).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


@dataclass(frozen=True, slots=True)
class Shape:
    """What a document asks for, each fragment counted at every spread of it."""

    #: The deepest operation's nesting of fields (meta leaves such as ``__typename`` aside).
    depth: int
    #: The largest operation's field selections with fragments expanded (saturates at
    #: the ``cap`` passed to :func:`measure`, so numbers stay small).
    fields: int
    #: Aliases and directives written in the document (each fragment once).
    aliases: int
    directives: int
    #: The most times one response name is written directly in one selection set.
    repeats: int
    #: The most fields of one response name merged into one selection set from its inline
    #: fragments and fragment spreads too: what the spec's field-merging rule compares
    #: pairwise (saturates at ``cap``).
    merged: int
    #: AST selections looked at (the work done; linear in the document).
    visited: int


#: Response name -> how many fields of that name one selection set gathers.
_Names = dict[str, int]


@dataclass(slots=True)
class _Body:
    """One operation's or fragment's own selections, before its spreads are added."""

    depth: int = 0
    fields: int = 0
    #: Every selection set of the body that starts a merge level (the body's own top
    #: level first, then each field's sub-selection), with the names written in it.
    levels: list[_Names] = field(default_factory=list)
    #: (fragment name, field depth at the spread, level index) for every spread.
    spreads: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class _Counts:
    aliases: int = 0
    directives: int = 0
    repeats: int = 0
    merged: int = 0
    visited: int = 0


@dataclass(slots=True)
class _Measured:
    """A fragment's totals, with its spreads added."""

    depth: int
    fields: int
    top: _Names


def measure(document: DocumentNode, cap: int) -> Shape:
    """Measure ``document`` (see the module docstring); ``cap`` bounds ``fields`` and ``merged``."""
    counts = _Counts()
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
        counts.directives += len(getattr(definition, "directives", None) or ())
        for variable in getattr(definition, "variable_definitions", None) or ():
            counts.directives += len(variable.directives or ())
    bodies = {name: _body(f.selection_set, counts) for name, f in fragments.items()}
    measured: dict[str, _Measured] = {}
    for name in _bottom_up(bodies):
        measured[name] = _resolve(bodies[name], measured, counts, cap)
    deepest = largest = 0
    for operation in operations:
        whole = _resolve(_body(operation.selection_set, counts), measured, counts, cap)
        deepest, largest = max(deepest, whole.depth), max(largest, whole.fields)
    return Shape(
        depth=deepest,
        fields=largest,
        aliases=counts.aliases,
        directives=counts.directives,
        repeats=counts.repeats,
        merged=counts.merged,
        visited=counts.visited,
    )


def _resolve(body: _Body, measured: dict[str, _Measured], counts: _Counts, cap: int) -> _Measured:
    """Add the spread fragments' measures to a body (a spread not yet measured is unknown
    or on a cycle: it adds nothing)."""
    depth, fields = body.depth, body.fields
    for spread, at, level in body.spreads:
        counts.visited += 1
        known = measured.get(spread)
        if known is None:
            continue
        depth = max(depth, at + known.depth)
        fields = min(cap, fields + known.fields)
        names = body.levels[level]
        for key, n in known.top.items():
            names[key] = min(cap, names.get(key, 0) + n)
    for names in body.levels:
        counts.merged = max(counts.merged, max(names.values(), default=0))
    return _Measured(depth, fields, body.levels[0])


def _body(selection_set: SelectionSetNode, counts: _Counts) -> _Body:
    """Walk one body (not into its spreads): own depth, own fields, levels, spreads."""
    body = _Body(levels=[{}])
    # (selection set, field depth, merge level): an inline fragment's selections merge
    # into the level around it, a field's sub-selection starts a level of its own.
    stack: list[tuple[SelectionSetNode, int, int]] = [(selection_set, 0, 0)]
    while stack:
        current, depth, level = stack.pop()
        merged = body.levels[level]
        written: _Names = {}
        for sel in current.selections:
            counts.visited += 1
            counts.directives += len(sel.directives or ())
            if isinstance(sel, FieldNode):
                key = (sel.alias or sel.name).value
                written[key] = written.get(key, 0) + 1
                merged[key] = merged.get(key, 0) + 1
                if sel.alias is not None:
                    counts.aliases += 1
                body.fields += 1
                if sel.name.value.startswith("__"):
                    # __typename: a leaf the executor answers itself. __schema/__type: the
                    # IDE's introspection (15 levels of ofType) never reaches the upstream,
                    # graphql-core's MaxIntrospectionDepthRule bounds it, and production
                    # refuses it outright; our depth and merge limits are for upstream work.
                    continue
                body.depth = max(body.depth, depth + 1)
                if sel.selection_set is not None:
                    body.levels.append({})
                    stack.append((sel.selection_set, depth + 1, len(body.levels) - 1))
            elif isinstance(sel, InlineFragmentNode):
                stack.append((sel.selection_set, depth, level))
            elif isinstance(sel, FragmentSpreadNode):
                body.spreads.append((sel.name.value, depth, level))
        counts.repeats = max(counts.repeats, max(written.values(), default=0))
    return body


def _bottom_up(bodies: dict[str, _Body]) -> Iterator[str]:
    """Fragment names, each after the fragments it spreads (cycles cut where they close)."""
    done: set[str] = set()
    for root in bodies:
        if root in done:
            continue
        done.add(root)
        stack = [(root, iter(bodies[root].spreads))]
        while stack:
            name, pending = stack[-1]
            for spread, _, _ in pending:
                if spread in bodies and spread not in done:
                    done.add(spread)
                    stack.append((spread, iter(bodies[spread].spreads)))
                    break
            else:
                stack.pop()
                yield name
