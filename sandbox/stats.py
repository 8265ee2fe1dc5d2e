"""Exact request counters for ``/_sandbox/stats`` (benchmarks count upstream round trips)."""

from __future__ import annotations

import threading
from typing import Any


class Stats:
    """Requests under ``/api/v1``, in total and per ``"METHOD /route/{template}"``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._by_route: dict[str, int] = {}

    def hit(self, route: str) -> None:
        with self._lock:
            self._requests += 1
            self._by_route[route] = self._by_route.get(route, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self._requests, "by_route": dict(sorted(self._by_route.items()))}

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._by_route = {}
