"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support import Harness, harness


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
