"""The layer contract: ``spaces_graphql`` → ``graph`` → ``resolvers``, imports go downward only.

Every module under the checked packages is parsed with ``ast`` and every import
counts: module level, inside functions, under ``TYPE_CHECKING``, relative ones,
and ``importlib.import_module("...")`` with a literal name. The sandbox (the
fake upstream) stands alone: it imports none of the facade's packages.
"""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from graph.config import GraphConfig
from resolvers.config import UpstreamConfig
from resolvers.live.service import LiveEvents
from spaces_graphql.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

#: package -> top-level packages of this project it must never import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "resolvers": frozenset({"graph", "spaces_graphql", "sandbox", "tests"}),
    "graph": frozenset({"spaces_graphql", "sandbox", "tests"}),
    "sandbox": frozenset({"spaces_graphql", "graph", "resolvers", "tests"}),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the module named ``module``) imports, anywhere in it."""
    found: set[str] = set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.add(name)
            # ``from pkg import sub`` may import the submodule ``pkg.sub``.
            found.update(f"{name}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def violations(package: str) -> list[str]:
    forbidden = FORBIDDEN[package]
    modules = sorted((ROOT / package).rglob("*.py"))
    assert len(modules) > 3, f"no modules found under {package}/"
    found = []
    for path in modules:
        name = module_name(path)
        imports = imported_modules(path.read_text(), name, path.name == "__init__.py")
        for imported in sorted(imports):
            if imported.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(ROOT)} imports {imported}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downward(package: str) -> None:
    assert violations(package) == []


def test_the_checker_sees_every_kind_of_import() -> None:
    """The check would catch an upward import wherever it is written."""
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from spaces_graphql.settings import Settings
def late():
    import graph.schema
    from .. import tracing
    from ..app import build
importlib.import_module("spaces_graphql.cli")
"""
    found = imported_modules(source, "spaces_graphql.sub.mod")
    assert {
        "spaces_graphql.settings",
        "graph.schema",
        "spaces_graphql.tracing",
        "spaces_graphql.app",
        "spaces_graphql.cli",
    } <= found


@pytest.mark.parametrize("config", [UpstreamConfig, GraphConfig])
def test_config_fields_are_settings_of_the_same_name_and_type(config: type[object]) -> None:
    """``Settings.upstream_config()``/``graph_config()`` copy same-named fields."""
    settings_hints = typing.get_type_hints(Settings)
    for name, hint in typing.get_type_hints(config).items():
        assert name in settings_hints, f"{config.__name__}.{name} is not a setting"
        assert settings_hints[name] == hint, f"{config.__name__}.{name}: {hint}"


def test_settings_build_the_config_objects() -> None:
    s = Settings(pool_timeout=1.5, operation_deadline_seconds=7.0, allow_loopback_targets=True)
    assert s.upstream_config().pool_timeout == 1.5
    assert s.graph_config() == GraphConfig(
        operation_deadline_seconds=7.0, allow_loopback_targets=True
    )


def test_live_events_defaults_are_the_settings_defaults() -> None:
    """``LiveEvents`` no longer reads the client's settings: its defaults must agree."""
    params = inspect.signature(LiveEvents).parameters
    s = Settings()
    assert params["lease_seconds"].default == s.live_lease_seconds
    assert params["workers"].default == s.workers
