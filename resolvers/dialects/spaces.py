"""The canonical dialect: Spaces' own conventions, sent as they are (no translation)."""

from __future__ import annotations

from resolvers.dialects.base import DIALECT

__all__ = ["DIALECT"]
