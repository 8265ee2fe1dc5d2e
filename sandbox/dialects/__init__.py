"""The upstream dialects the sandbox speaks (docs/dialects.md).

The handlers and the store are dialect-free; a :class:`~sandbox.dialects.base.Dialect`
translates at the edges of the dispatcher (``sandbox.app``). ``spaces`` is the base
class itself; each other dialect is a module here exposing ``DIALECT`` (its class).
"""

from __future__ import annotations

import importlib

from sandbox.config import SandboxConfig
from sandbox.dialects.base import Dialect

#: The dialects ``SandboxConfig.dialect`` (``--dialect``) may name.
DIALECTS = ("spaces", "spotcap", "launch27")


def dialect_for(config: SandboxConfig) -> Dialect:
    """The dialect ``config`` names; ``ValueError`` for an unknown one."""
    if config.dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {config.dialect!r}; one of {', '.join(DIALECTS)}")
    if config.dialect == "spaces":
        return Dialect(config)
    cls: type[Dialect] = importlib.import_module(f"sandbox.dialects.{config.dialect}").DIALECT
    assert issubclass(cls, Dialect)
    return cls(config)


__all__ = ["DIALECTS", "Dialect", "dialect_for"]
