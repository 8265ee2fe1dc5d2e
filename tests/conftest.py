"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

import graph.schema

#: ``SPACES_GRAPHQL_SHORT_PATHS=false`` (CI's second run): the whole suite against the
#: schema without the execution short paths. Patched before anything imports the schema.
SHORT_PATHS = os.environ.get("SPACES_GRAPHQL_SHORT_PATHS", "true").lower() not in {
    "false",
    "0",
    "off",
    "no",
}
if not SHORT_PATHS:
    _plain = graph.schema.build_schema(short_paths=False)
    _schema_for = graph.schema.schema_for
    graph.schema.schema = _plain
    # A federation subgraph (docs/federation.md) likewise without them.
    graph.schema.schema_for = lambda short_paths=True, federation=None: (
        _plain if federation is None else _schema_for(False, federation)
    )

# Apps started in this process keep the collector as pytest has it: tuning it is a
# serving process's business (tests/test_gc_tuning.py checks it), and a full collection
# per app start would slow the suite. Processes the tests spawn inherit this unless
# they set their own (tests/test_gc_tuning.py does).
os.environ.setdefault("SPACES_GRAPHQL_GC_THRESHOLD", "0")

from tests.support import Harness, harness  # noqa: E402


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    """The facade over a fresh sandbox (batch-by-ids on, auto-detected)."""
    async with harness() as ready:
        yield ready


@pytest.fixture
async def h_nobatch() -> AsyncIterator[Harness]:
    """The facade over a sandbox without batch-by-ids."""
    from sandbox.app import SandboxConfig

    async with harness(SandboxConfig(batch_ids=False), batch_ids="off") as ready:
        yield ready
