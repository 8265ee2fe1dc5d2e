"""The collector tuning a serving process gets at start-up (spaces_graphql/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from spaces_graphql.app import create_app
from spaces_graphql.gc_tuning import tune
from spaces_graphql.settings import Settings, SettingsError


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_tune_freezes_and_raises_the_first_threshold(collector: None) -> None:
    assert tune(20_000) is True
    assert gc.get_threshold() == (20_000, 10, 10)
    assert gc.get_freeze_count() > 0
    assert tune(0) is False
    assert gc.get_threshold() == (20_000, 10, 10)  # off: left as it is


def test_the_app_tunes_the_collector_at_start_up(collector: None) -> None:
    gc.set_threshold(700, 10, 10)
    app = create_app(Settings.load({"upstream_url": "http://127.0.0.1:9/api/v1",
                                    "gc_threshold": 12_345}))  # fmt: skip
    with TestClient(app):
        assert gc.get_threshold()[0] == 12_345
    off = create_app(Settings.load({"upstream_url": "http://127.0.0.1:9/api/v1",
                                    "gc_threshold": 0}))  # fmt: skip
    gc.set_threshold(700, 10, 10)
    with TestClient(off):
        assert gc.get_threshold()[0] == 700


def test_a_negative_threshold_is_refused() -> None:
    with pytest.raises(SettingsError, match="gc_threshold"):
        Settings.load({"gc_threshold": -1})
