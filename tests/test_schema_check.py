"""scripts/schema_check.py: the schema never breaks silently (README, "Schema evolution").

The policy is checked as a pure function (old SDL, new SDL, changelog text -> report) on small
schemas; ``main`` in a throwaway git repository (tags, ``CI=true``); and once on this
repository: ``schema.graphql`` against its last release tag with ``CHANGELOG.md``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from graphql import BreakingChangeType, DangerousChangeType

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schema_check", ROOT / "scripts/schema_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is being made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sc = _load()

BASE = """
directive @d(a: Int, b: Int) repeatable on FIELD | QUERY
interface I { x: Int }
type A implements I { x: Int y: Int }
type B { z: Int }
union U = A | B
enum E { ONE TWO }
input In { p: Int q: Int = 1 }
scalar S
type Query {
  a(arg: Int, o: Int = 1): A
  u: U
  e: E
  s: S
  i(in: In): Int
  f: Int
}
"""


def _edit(*pairs: tuple[str, str]) -> str:
    sdl = BASE
    for old, new in pairs:
        assert old in sdl, old
        sdl = sdl.replace(old, new)
    return sdl


def _changelog(*items: str, section: str = "## Unreleased") -> str:
    body = "\n".join(f"- {item}" for item in items)
    return f"# Changelog\n\n{section}\n\n### Schema\n- other things\n\n### Breaking\n{body}\n"


# Every change type graphql-core reports, with the coordinate the check must read off it.
CASES: list[tuple[str, tuple[tuple[str, str], ...], str]] = [
    ("TYPE_REMOVED", (("scalar S\n", ""), ("  s: S\n", "")), "S"),
    ("TYPE_CHANGED_KIND", (("scalar S", "enum S { V }"),), "S"),
    ("TYPE_REMOVED_FROM_UNION", (("union U = A | B", "union U = A"),), "U"),
    ("VALUE_REMOVED_FROM_ENUM", (("enum E { ONE TWO }", "enum E { ONE }"),), "E.TWO"),
    ("REQUIRED_INPUT_FIELD_ADDED", (("q: Int = 1 }", "q: Int = 1 r: Int! }"),), "In.r"),
    ("IMPLEMENTED_INTERFACE_REMOVED", (("type A implements I", "type A"),), "A"),
    ("FIELD_REMOVED", (("  f: Int\n", ""),), "Query.f"),
    ("FIELD_CHANGED_KIND", (("  f: Int\n", "  f: String\n"),), "Query.f"),
    ("REQUIRED_ARG_ADDED", (("  f: Int\n", "  f(n: Int!): Int\n"),), "Query.f(n:)"),
    ("ARG_REMOVED", (("a(arg: Int, o", "a(o"),), "Query.a(arg:)"),
    ("ARG_CHANGED_KIND", (("a(arg: Int,", "a(arg: String,"),), "Query.a(arg:)"),
    ("ARG_CHANGED_KIND", (("@d(a: Int,", "@d(a: String,"),), "@d(a:)"),
    (
        "DIRECTIVE_REMOVED",
        (("directive @d(a: Int, b: Int) repeatable on FIELD | QUERY", ""),),
        "@d",
    ),
    ("DIRECTIVE_ARG_REMOVED", (("@d(a: Int, b: Int)", "@d(a: Int)"),), "@d(b:)"),
    ("REQUIRED_DIRECTIVE_ARG_ADDED", (("b: Int)", "b: Int, c: Int!)"),), "@d(c:)"),
    ("DIRECTIVE_REPEATABLE_REMOVED", ((" repeatable", ""),), "@d"),
    ("DIRECTIVE_LOCATION_REMOVED", (("FIELD | QUERY", "FIELD"),), "@d"),
    ("VALUE_ADDED_TO_ENUM", (("enum E { ONE TWO }", "enum E { ONE TWO THREE }"),), "E.THREE"),
    ("TYPE_ADDED_TO_UNION", (("union U = A | B", "type C { w: Int }\nunion U = A | B | C"),), "U"),
    ("OPTIONAL_INPUT_FIELD_ADDED", (("q: Int = 1 }", "q: Int = 1 r: Int }"),), "In.r"),
    ("OPTIONAL_ARG_ADDED", (("  f: Int\n", "  f(n: Int): Int\n"),), "Query.f(n:)"),
    (
        "IMPLEMENTED_INTERFACE_ADDED",
        (("type B { z: Int }", "type B implements I { z: Int x: Int }"),),
        "B",
    ),
    ("ARG_DEFAULT_VALUE_CHANGE", (("o: Int = 1", "o: Int = 2"),), "Query.a(o:)"),
    ("INPUT_FIELD_DEFAULT_VALUE_CHANGE", (("q: Int = 1", "q: Int = 2"),), "In.q"),
]


@pytest.mark.parametrize(("kind", "edits", "coordinate"), CASES, ids=[c[0] for c in CASES])
def test_every_change_type_names_its_coordinate(
    kind: str, edits: tuple[tuple[str, str], ...], coordinate: str
) -> None:
    report = sc.check(BASE, _edit(*edits), "")
    found = {(c.kind, c.coordinate) for c in report.breaking + report.dangerous}
    assert (kind, coordinate) in found, found


def test_the_cases_cover_every_change_type_graphql_core_has() -> None:
    # A graphql-core upgrade adding a change type (or rewording one) fails here, not silently.
    every = {t.name for t in BreakingChangeType} | {t.name for t in DangerousChangeType}
    assert {kind for kind, _, _ in CASES} == every
    assert {t.name for t in sc._PATTERNS} == every


def test_undeclared_breaking_change_fails_naming_it_and_how_to_declare() -> None:
    report = sc.check(BASE, _edit(("  f: Int\n", "  f: String\n")), _changelog())
    assert not report.ok
    [error] = report.errors
    assert "breaking change not declared: Query.f:" in error
    assert "### Breaking" in error and "- `Query.f`:" in error


def test_declared_breaking_change_passes() -> None:
    changelog = _changelog("`Query.f`: an `Int` became a `String`; parse it.")
    report = sc.check(BASE, _edit(("  f: Int\n", "  f: String\n")), changelog)
    assert report.ok, report.errors
    assert [c.coordinate for c in report.breaking] == ["Query.f"]


def test_a_declaration_elsewhere_than_unreleased_breaking_does_not_count() -> None:
    new = _edit(("  f: Int\n", "  f: String\n"))
    released = _changelog("`Query.f`: changed in an earlier release.", section="## 0.1.0")
    assert not sc.check(BASE, new, released).ok
    under_schema = "## Unreleased\n\n### Schema\n- `Query.f`: became a String\n"
    assert not sc.check(BASE, new, under_schema).ok


def test_one_item_may_declare_several_coordinates_over_several_lines() -> None:
    new = _edit(("  f: Int\n", "  f: String\n"), ("a(arg: Int,", "a(arg: String,"))
    changelog = _changelog("`Query.f`, `Query.a(arg:)`: both take\n  and give strings now.")
    report = sc.check(BASE, new, changelog)
    assert report.ok, report.errors
    [declaration] = report.declarations
    assert declaration.coordinates == ("Query.f", "Query.a(arg:)")
    assert declaration.text.endswith("give strings now.")


@pytest.mark.parametrize(
    "item", ["UserError.code changed", "`not a coordinate!`: text", "`Query.f`", "`Query.f`:  "]
)
def test_a_malformed_declaration_fails(item: str) -> None:
    report = sc.check(BASE, BASE, _changelog(item))
    assert not report.ok
    assert "CHANGELOG.md ### Breaking" in report.errors[0]


def test_dangerous_change_warns_but_passes() -> None:
    report = sc.check(BASE, _edit(("enum E { ONE TWO }", "enum E { ONE TWO THREE }")), "")
    assert report.ok
    assert [c.coordinate for c in report.dangerous] == ["E.THREE"]
    assert report.warnings == ["dangerous: E.THREE: Enum value E.THREE was added."]


def test_additions_and_descriptions_are_safe() -> None:
    new = _edit(
        ("  f: Int\n", '  f: Int\n  """Log in."""\n  login(email: String!): Int\n'),
        ("scalar S", '"""A scalar."""\nscalar S\ntype New { n: Int }'),
    )
    report = sc.check(BASE, new, "")
    assert report.ok and not report.breaking and not report.dangerous and not report.warnings
    assert report.safe["FIELD_ADDED"] == 1 and report.safe["DESCRIPTION_CHANGED"] == 1


def test_removal_without_prior_deprecation_fails_even_when_declared() -> None:
    new = _edit(("  f: Int\n", ""))
    report = sc.check(BASE, new, _changelog("`Query.f`: gone."), tag="v9")
    assert not report.ok
    [error] = report.errors
    assert "removed without deprecation: Query.f" in error and "not @deprecated in v9" in error
    assert "- `Query.f` removed: <why>" in error


def test_removal_without_deprecation_passes_when_declared_removed_with_a_reason() -> None:
    new = _edit(("  f: Int\n", ""))
    changelog = _changelog("`Query.f` removed: it always answered null (the upstream has no f).")
    assert sc.check(BASE, new, changelog).ok
    # "removed" without the reason after it is not enough.
    assert not sc.check(BASE, new, _changelog("`Query.f`: removed")).ok


def test_removal_after_deprecation_and_declaration_passes() -> None:
    old = _edit(
        ("  f: Int\n", '  f: Int @deprecated(reason: "Use `a`.")\n'),
        ("enum E { ONE TWO }", "enum E { ONE TWO @deprecated }"),
        ("a(arg: Int, o", 'a(arg: Int @deprecated(reason: "unused"), o'),
        ("input In { p: Int", 'input In { p: Int @deprecated(reason: "unused")'),
    )
    new = _edit(
        ("  f: Int\n", ""),
        ("enum E { ONE TWO }", "enum E { ONE }"),
        ("a(arg: Int, o", "a(o"),
        ("input In { p: Int q", "input In { q"),
    )
    coordinates = ["Query.f", "E.TWO", "Query.a(arg:)", "In.p"]
    report = sc.check(old, new, _changelog("`Query.f`, `E.TWO`, `Query.a(arg:)`, `In.p`: gone."))
    assert report.ok, report.errors
    assert sorted(c.coordinate for c in report.breaking) == sorted(coordinates)
    # Deprecated first is not declared: still a failure.
    assert len(sc.check(old, new, _changelog()).errors) == 4


def test_a_type_counts_as_deprecated_when_every_use_of_it_was() -> None:
    old = _edit(("  s: S\n", '  s: S @deprecated(reason: "Use `f`.")\n'))
    new = _edit(("scalar S\n", ""), ("  s: S\n", ""))
    assert sc.check(old, new, _changelog("`S`, `Query.s`: gone after deprecation.")).ok
    # Not deprecated (one use left undeprecated): the type's removal needs the reason.
    report = sc.check(BASE, new, _changelog("`S`, `Query.s`: gone."))
    assert {e.split(":")[1].strip() for e in report.errors} == {"S", "Query.s"}


def test_a_directive_cannot_be_deprecated_so_its_removal_gives_the_reason() -> None:
    new = _edit(("directive @d(a: Int, b: Int) repeatable on FIELD | QUERY", ""))
    assert not sc.check(BASE, new, _changelog("`@d`: gone.")).ok
    assert sc.check(BASE, new, _changelog("`@d` removed: no resolver ever read it.")).ok


def test_a_declaration_that_matches_no_change_warns() -> None:
    report = sc.check(BASE, BASE, _changelog("`Query.f`: changed."), tag="v1")
    assert report.ok
    assert report.warnings == [
        "declared in CHANGELOG.md but not a breaking change since v1: Query.f"
    ]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        check=True,
        capture_output=True,
    )  # fmt: skip


def _repo(tmp_path: Path, *, tag: bool) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "schema.graphql").write_text(BASE, encoding="utf-8")
    (repo / "CHANGELOG.md").write_text("# Changelog\n\n## Unreleased\n", encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    if tag:
        _git(repo, "tag", "-a", "v0.1.0", "-m", "v0.1.0")
    return repo


def test_main_without_a_tag_passes_locally_and_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, tag=False)
    monkeypatch.delenv("CI", raising=False)
    assert sc.main(["--repo", str(repo)]) == 0
    assert "skipped: no release tag to compare with" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    assert sc.main(["--repo", str(repo)]) == 1
    assert "FAIL: no release tag to compare with" in capsys.readouterr().out


def test_main_compares_the_working_tree_with_the_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, tag=True)
    (repo / "schema.graphql").write_text(_edit(("  f: Int\n", "  f: String\n")), encoding="utf-8")
    assert sc.main(["--repo", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "against v0.1.0" in out and "breaking change not declared: Query.f" in out
    (repo / "CHANGELOG.md").write_text(_changelog("`Query.f`: a String now."), encoding="utf-8")
    assert sc.main(["--repo", str(repo)]) == 0
    assert "schema-check: ok: 1 breaking" in capsys.readouterr().out


def test_this_repository_against_its_last_release_tag(capsys: pytest.CaptureFixture[str]) -> None:
    nothing = sc.release_tag(ROOT) is None and sc.released_snapshot(ROOT) is None
    if nothing and os.environ.get("CI", "").lower() != "true":
        pytest.skip("no v* release tag in this checkout (git clone carries them)")
    assert sc.main(["--repo", str(ROOT)]) == 0, capsys.readouterr().out


def test_the_kept_release_schema_is_the_tags() -> None:
    """docs/releases/ keeps each release's schema for checkouts without tags; it must be
    exactly what the tag holds, and the newest one must be the newest tag."""
    snapshot = sc.released_snapshot(ROOT)
    assert snapshot is not None, "docs/releases/schema-v*.graphql is missing"
    name, path = snapshot
    tag = sc.release_tag(ROOT)
    if tag is None:
        pytest.skip("no v* tag in this checkout: nothing to compare the kept schema with")
    assert name == tag
    assert path.read_text(encoding="utf-8") == sc._git(ROOT, "show", f"{tag}:schema.graphql")


def test_main_without_a_tag_compares_with_the_kept_release_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, tag=False)
    releases = repo / "docs" / "releases"
    releases.mkdir(parents=True)
    (releases / "schema-v0.1.0.graphql").write_text(
        (repo / "schema.graphql").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (releases / "schema-v0.0.9.graphql").write_text("type Query { old: Int }\n", encoding="utf-8")
    (repo / "schema.graphql").write_text(_edit(("  f: Int\n", "  f: String\n")), encoding="utf-8")
    monkeypatch.setenv("CI", "true")
    assert sc.main(["--repo", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "against v0.1.0" in out and "breaking change not declared: Query.f" in out
