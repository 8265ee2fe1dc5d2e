"""``make schema-check``: ``schema.graphql`` never breaks silently.

The schema has no versions (README, "Schema evolution and versioning"). This check compares
the working tree's ``schema.graphql`` with the one of the newest release tag reachable from
HEAD (``git describe --tags --abbrev=0 --match 'v*'``, read with ``git show TAG:schema.graphql``)
using graphql-core's change finders, and applies the policy:

- every **breaking** change names a schema coordinate (``Type``, ``Type.field``,
  ``Type.field(arg:)``, ``Enum.VALUE``, ``Input.field``, ``@directive``, ``@directive(arg:)``)
  that ``CHANGELOG.md`` declares: a list item under ``### Breaking`` in ``## Unreleased``
  starting with that coordinate in backticks; otherwise the check fails;
- **deprecate first**: a removed field, input field, argument, enum value, type or directive
  must have been ``@deprecated`` in the tag's schema (a type: every field, argument and input
  field that used it was deprecated; a directive cannot be deprecated). If it was not, its
  declaration must also say ``removed:`` and the reason, or the check fails;
- **dangerous** changes (an enum value or union member added, an optional argument, a default
  value changed, ...) are printed as warnings and never fail.

Each release also leaves its schema in the repository, ``docs/releases/schema-vX.Y.Z.graphql``
(a test checks it equals the tag's): a checkout without tags (an export, a shallow or
re-created history) compares with the newest of those instead. Neither: the reason is printed
and the check passes, except under ``CI=true``, where having nothing to compare with is a failure. Git and
graphql-core only; no network. The logic is :func:`check` (SDL, SDL, changelog text ->
:class:`Report`), which ``tests/test_schema_check.py`` exercises with small schemas.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from graphql import (
    BreakingChange,
    BreakingChangeType,
    DangerousChange,
    DangerousChangeType,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)

# find_schema_changes is what find_breaking_changes and find_dangerous_changes filter (both
# deprecated in its favour since graphql-core 3.3): one diff, partitioned by change class.
from graphql.utilities import find_schema_changes

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "schema.graphql"
CHANGELOG = "CHANGELOG.md"

_N = r"[_A-Za-z][_0-9A-Za-z]*"
_ARG = rf"@?{_N}(?:\.{_N})?\({_N}:\)"
#: A schema coordinate (the GraphQL schema coordinates RFC's grammar).
COORDINATE = re.compile(rf"@{_N}(?:\({_N}:\))?|{_N}(?:\.{_N}(?:\({_N}:\))?)?")

# graphql-core says which coordinate changed only in its description; one pattern per change
# type (group 1 is the coordinate). The tests build every change type, so a wording change in
# a graphql-core upgrade fails them instead of silently matching nothing.
_PATTERNS: dict[BreakingChangeType | DangerousChangeType, str] = {
    BreakingChangeType.TYPE_REMOVED: rf"^(?:Standard scalar )?({_N}) was removed",
    BreakingChangeType.TYPE_CHANGED_KIND: rf"^({_N}) changed from",
    BreakingChangeType.TYPE_REMOVED_FROM_UNION: rf"was removed from union type ({_N})\.",
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM: rf"^Enum value ({_N}\.{_N}) was removed",
    BreakingChangeType.REQUIRED_INPUT_FIELD_ADDED: rf"^A required field ({_N}\.{_N}) was",
    BreakingChangeType.IMPLEMENTED_INTERFACE_REMOVED: rf"^({_N}) no longer implements",
    BreakingChangeType.FIELD_REMOVED: rf"^Field ({_N}\.{_N}) was removed",
    BreakingChangeType.FIELD_CHANGED_KIND: rf"^Field ({_N}\.{_N}) changed type",
    BreakingChangeType.REQUIRED_ARG_ADDED: rf"^A required argument ({_ARG}) was added",
    BreakingChangeType.ARG_REMOVED: rf"^Argument ({_ARG}) was removed",
    BreakingChangeType.ARG_CHANGED_KIND: rf"^Argument ({_ARG}) has changed type",
    BreakingChangeType.DIRECTIVE_REMOVED: rf"^Directive (@{_N}) was removed",
    BreakingChangeType.DIRECTIVE_ARG_REMOVED: rf"^Argument ({_ARG}) was removed",
    BreakingChangeType.REQUIRED_DIRECTIVE_ARG_ADDED: rf"^A required argument ({_ARG}) was",
    BreakingChangeType.DIRECTIVE_REPEATABLE_REMOVED: rf"was removed from (@{_N})\.",
    BreakingChangeType.DIRECTIVE_LOCATION_REMOVED: rf"was removed from (@{_N})\.",
    DangerousChangeType.VALUE_ADDED_TO_ENUM: rf"^Enum value ({_N}\.{_N}) was added",
    DangerousChangeType.TYPE_ADDED_TO_UNION: rf"was added to union type ({_N})\.",
    DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED: rf"^An optional field ({_N}\.{_N}) was",
    DangerousChangeType.OPTIONAL_ARG_ADDED: rf"^An optional argument ({_ARG}) was added",
    DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED: rf"implemented by ({_N})\.",
    DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE: rf"^({_ARG}) (?:defaultValue|has changed)",
    DangerousChangeType.INPUT_FIELD_DEFAULT_VALUE_CHANGE: rf"^({_N}\.{_N}) (?:default|has)",
}

#: Removals: the "deprecate first" rule applies to these.
REMOVALS = frozenset(
    {
        BreakingChangeType.TYPE_REMOVED,
        BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
        BreakingChangeType.FIELD_REMOVED,
        BreakingChangeType.ARG_REMOVED,
        BreakingChangeType.DIRECTIVE_REMOVED,
        BreakingChangeType.DIRECTIVE_ARG_REMOVED,
    }
)

_UNRELEASED = re.compile(r"^##\s+Unreleased\b", re.IGNORECASE)
_BREAKING = re.compile(r"^###\s+Breaking\b", re.IGNORECASE)
_ITEM = re.compile(r"^[-*]\s+(.*)$")
_LEADING_COORDINATES = re.compile(r"^((?:`[^`]+`\s*,\s*)*`[^`]+`)(.*)$", re.DOTALL)
#: The word ``removed``, later a colon, then the reason.
_REMOVED_WITH_REASON = re.compile(r"\bremoved\b[^:]*:\s*\S", re.IGNORECASE)

DECLARE_HINT = (
    'declare it in CHANGELOG.md under "## Unreleased" -> "### Breaking" as a list item that '
    "starts with the coordinate: - `{coordinate}`: <what changed, what clients do>"
)
REMOVED_HINT = (
    "it was not @deprecated in {tag}: deprecate it first (@deprecated(reason: ...)) and remove "
    "it after a release, or declare the removal with its reason: - `{coordinate}` removed: <why>"
)


@dataclass(frozen=True)
class Change:
    """One change graphql-core found, with the schema coordinate it is about."""

    kind: str
    coordinate: str
    description: str


@dataclass(frozen=True)
class Declaration:
    """One ``### Breaking`` item of ``## Unreleased``: the coordinates it names and its text."""

    coordinates: tuple[str, ...]
    text: str

    @property
    def gives_removal_reason(self) -> bool:
        """Whether the text says ``removed:`` followed by a reason."""
        return _REMOVED_WITH_REASON.search(self.text) is not None


@dataclass
class Report:
    """What :func:`check` found; ``errors`` empty means the schema may ship."""

    breaking: list[Change] = field(default_factory=list)
    dangerous: list[Change] = field(default_factory=list)
    safe: Counter[str] = field(default_factory=Counter)
    declarations: list[Declaration] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing fails the check (warnings do not)."""
        return not self.errors


def coordinate_of(change: BreakingChange | DangerousChange) -> str:
    """The schema coordinate a change is about (its description when the wording is unknown)."""
    pattern = _PATTERNS.get(change.type)
    match = re.search(pattern, change.description) if pattern else None
    return match.group(1) if match else change.description


def parse_declarations(changelog: str) -> tuple[list[Declaration], list[str]]:
    """The ``### Breaking`` items of ``## Unreleased``, and the format errors found in them.

    An item is a ``-`` or ``*`` list line (indented lines continue it) that starts with one or
    more schema coordinates in backticks, comma-separated, followed by its text.
    """
    items: list[str] = []
    in_unreleased = in_breaking = False
    for line in changelog.splitlines():
        if line.startswith("## "):
            in_unreleased, in_breaking = bool(_UNRELEASED.match(line)), False
        elif line.startswith("### "):
            in_breaking = in_unreleased and bool(_BREAKING.match(line))
        elif in_breaking:
            bullet = _ITEM.match(line)
            if bullet:
                items.append(bullet.group(1))
            elif line[:1].isspace() and line.strip() and items:
                items[-1] += " " + line.strip()
    declarations: list[Declaration] = []
    errors: list[str] = []
    for item in items:
        lead = _LEADING_COORDINATES.match(item)
        names = [n.strip() for n in re.findall(r"`([^`]+)`", lead.group(1))] if lead else []
        bad = [n for n in names if not COORDINATE.fullmatch(n)]
        text = lead.group(2).strip(" :-\u2014") if lead else ""
        if not lead or bad or not text:
            why = f"not schema coordinates: {bad}" if bad else "no coordinate or no text"
            errors.append(
                f"CHANGELOG.md ### Breaking: {why}: {item!r}; write - `Type.field`: <what changed>"
            )
            continue
        declarations.append(Declaration(tuple(names), text))
    return declarations, errors


def _type_deprecated(schema: GraphQLSchema, name: str) -> bool:
    """A type counts as deprecated when it was used, and every use of it was deprecated."""
    uses: list[str | None] = []
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for f in type_.fields.values():
                if get_named_type(f.type).name == name:
                    uses.append(f.deprecation_reason)
                uses.extend(
                    a.deprecation_reason or f.deprecation_reason
                    for a in f.args.values()
                    if get_named_type(a.type).name == name
                )
        elif isinstance(type_, GraphQLInputObjectType):
            uses.extend(
                f.deprecation_reason
                for f in type_.fields.values()
                if get_named_type(f.type).name == name
            )
    return bool(uses) and all(reason is not None for reason in uses)


def was_deprecated(schema: GraphQLSchema, coordinate: str) -> bool:
    """Whether ``coordinate`` was ``@deprecated`` in ``schema`` (see the module's rule)."""
    match = re.fullmatch(rf"(@?{_N})(?:\.({_N}))?(?:\(({_N}):\))?", coordinate)
    if not match:
        return False
    owner, member, arg = match.groups()
    if owner.startswith("@"):
        directive = schema.get_directive(owner[1:])
        argument = directive.args.get(arg) if directive and arg else None
        return argument is not None and argument.deprecation_reason is not None
    type_ = schema.get_type(owner)
    if member is None:
        return _type_deprecated(schema, owner)
    if isinstance(type_, GraphQLEnumType):
        value = type_.values.get(member)
        return value is not None and value.deprecation_reason is not None
    if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        found = type_.fields.get(member)
        if found is not None and arg is not None and not isinstance(type_, GraphQLInputObjectType):
            argument = found.args.get(arg)
            return argument is not None and argument.deprecation_reason is not None
        return found is not None and arg is None and found.deprecation_reason is not None
    return False


def check(old_sdl: str, new_sdl: str, changelog: str, *, tag: str = "the release tag") -> Report:
    """Compare two schemas (SDL) under the policy, with ``changelog``'s declarations."""
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    report = Report()
    report.declarations, report.errors = parse_declarations(changelog)
    declared: dict[str, list[Declaration]] = {}
    for item in report.declarations:
        for coordinate in item.coordinates:
            declared.setdefault(coordinate, []).append(item)
    for change in find_schema_changes(old, new):
        if isinstance(change, BreakingChange | DangerousChange):
            found = Change(change.type.name, coordinate_of(change), change.description)
            if isinstance(change, DangerousChange):
                report.dangerous.append(found)
                report.warnings.append(f"dangerous: {found.coordinate}: {found.description}")
                continue
            report.breaking.append(found)
            declarations = declared.get(found.coordinate, [])
            if not declarations:
                report.errors.append(
                    f"breaking change not declared: {found.coordinate}: {found.description}\n"
                    "  " + DECLARE_HINT.format(coordinate=found.coordinate)
                )
            elif (
                change.type in REMOVALS
                and not was_deprecated(old, found.coordinate)
                and not any(d.gives_removal_reason for d in declarations)
            ):
                report.errors.append(
                    f"removed without deprecation: {found.coordinate}: {found.description}\n"
                    "  " + REMOVED_HINT.format(coordinate=found.coordinate, tag=tag)
                )
        else:
            report.safe[change.type.name] += 1
    broken = {change.coordinate for change in report.breaking}
    report.warnings.extend(
        f"declared in CHANGELOG.md but not a breaking change since {tag}: {coordinate}"
        for coordinate in declared
        if coordinate not in broken
    )
    return report


def _git(repo: Path, *args: str) -> str | None:
    """Git's stdout, or None when git fails (no repository, no such tag or file)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def release_tag(repo: Path) -> str | None:
    """The newest ``v*`` tag reachable from HEAD, or None."""
    out = _git(repo, "describe", "--tags", "--abbrev=0", "--match", "v*")
    return (out.strip() or None) if out is not None else None


RELEASES = Path("docs/releases")
_SNAPSHOT = re.compile(r"^schema-(v\d+(?:\.\d+)*)\.graphql$")


def released_snapshot(repo: Path) -> tuple[str, Path] | None:
    """The newest release's schema kept in the repository: (its tag name, its file)."""
    folder = repo / RELEASES
    found: list[tuple[tuple[int, ...], str, Path]] = []
    for path in folder.glob("schema-v*.graphql") if folder.is_dir() else []:
        match = _SNAPSHOT.match(path.name)
        if match:
            version = tuple(int(n) for n in match.group(1)[1:].split("."))
            found.append((version, match.group(1), path))
    if not found:
        return None
    _, name, path = max(found)
    return name, path


def main(argv: list[str] | None = None) -> int:
    """Run the check on a checkout; 0 when the schema may ship, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout (default: this)")
    parser.add_argument("--tag", help="compare with this ref instead of the last v* tag")
    args = parser.parse_args(argv)
    repo: Path = args.repo
    in_ci = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
    tag = args.tag or release_tag(repo)
    snapshot = released_snapshot(repo) if tag is None else None
    if tag is None and snapshot is None:
        reason = "no release tag to compare with (no v* tag reachable from HEAD)"
        if in_ci:
            print(f"schema-check: FAIL: {reason}; CI needs one (git clone carries tags)")
            return 1
        print(f"schema-check: skipped: {reason}")
        return 0
    if snapshot is not None:
        tag, path = snapshot
        old_sdl: str | None = path.read_text(encoding="utf-8")
        sha = f"no tag here: {RELEASES / path.name}"
    else:
        assert tag is not None
        old_sdl = _git(repo, "show", f"{tag}:{SCHEMA}")
        if old_sdl is None:
            print(f"schema-check: FAIL: {tag} has no {SCHEMA} (git show {tag}:{SCHEMA})")
            return 1
        sha = (_git(repo, "rev-parse", "--short", f"{tag}^{{commit}}") or "?").strip()
    new_sdl = (repo / SCHEMA).read_text(encoding="utf-8")
    changelog_path = repo / CHANGELOG
    changelog = changelog_path.read_text(encoding="utf-8") if changelog_path.exists() else ""
    report = check(old_sdl, new_sdl, changelog, tag=tag)
    print(f"schema-check: {SCHEMA} against {tag} ({sha})")
    for change in report.breaking:
        print(f"  breaking: {change.coordinate}: {change.description}")
    for warning in report.warnings:
        print(f"  warning: {warning}")
    if report.safe:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report.safe.items()))
        print(f"  safe: {sum(report.safe.values())} ({kinds})")
    for error in report.errors:
        print(f"schema-check: FAIL: {error}")
    summary = (
        f"{len(report.breaking)} breaking, {len(report.dangerous)} dangerous, "
        f"{sum(report.safe.values())} safe change(s) since {tag}"
    )
    if report.ok:
        print(f"schema-check: ok: {summary}; every breaking change is declared in {CHANGELOG}")
    else:
        print(f"schema-check: FAILED ({len(report.errors)} error(s)): {summary}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
