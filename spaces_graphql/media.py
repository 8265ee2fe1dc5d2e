"""Header lists with weights (``Accept``, ``Accept-Encoding``): one reading of ``q``."""

from __future__ import annotations

import math
from collections.abc import Iterator


def weighted(header: str | None) -> Iterator[tuple[str, float]]:
    """Each item of a comma-separated header, lower-cased, with its weight (``q``).

    No ``q`` is 1. An unreadable or out-of-range weight (not a number within 0..1) is 0:
    refused rather than guessed.
    """
    for part in (header or "").split(","):
        token, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0 or math.isnan(q):
                    q = 0.0
        yield token.lower(), q
