"""Upstream dialects: how the upstream speaks, apart from what its resources are.

The facade's client, loaders, pagination, cache and error mapping all speak one
*canonical* dialect: Spaces' own (``../shared/spaces-api.md``, ``docs/dialects.md``).
Another dialect is a transport under the one ``httpx.AsyncClient``
(:class:`resolvers.dialects.base.DialectTransport`): it turns each canonical
request into that dialect's wire request, and each wire answer back into the
canonical answer, so nothing above it knows which dialect the upstream speaks.
Each dialect lives in its own module here, ``resolvers/dialects/<name>.py``,
exposing ``DIALECT``, a :class:`resolvers.dialects.base.Dialect`.
"""

from __future__ import annotations

import importlib
from enum import StrEnum

from resolvers.dialects.base import Dialect


class DialectName(StrEnum):
    """The dialects ``upstream_dialect`` may name."""

    SPACES = "spaces"
    SPOTCAP = "spotcap"
    LAUNCH27 = "launch27"


def dialect(name: str) -> Dialect:
    """The dialect called ``name``; ``ValueError`` for an unknown one."""
    module = importlib.import_module(f"resolvers.dialects.{DialectName(name).value}")
    found = module.DIALECT
    if not isinstance(found, Dialect):  # pragma: no cover - a programming error
        raise TypeError(f"resolvers.dialects.{name}.DIALECT is not a Dialect")
    return found


__all__ = ["Dialect", "DialectName", "dialect"]
