"""What ``graph/`` reads of the configuration, given to it in each operation's context.

``graph/`` imports nothing from ``spaces_graphql`` (``tests/test_layers.py``
checks): the app builds this once at start-up (``Settings.graph_config()``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GraphConfig:
    """The settings resolvers and schema extensions read (same names as in ``Settings``)."""

    #: Wall-clock budget of one operation's upstream calls (``graph/operation_scope.py``).
    operation_deadline_seconds: float
    #: Whether REST Hook targets may be loopback (``graph/mutation.py``; development only).
    allow_loopback_targets: bool
