"""Custom scalars."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition


def _serialize(value: int | datetime) -> str:
    if isinstance(value, datetime):
        value = int(value.timestamp())
    return _iso(value)


@functools.lru_cache(maxsize=1 << 14)
def _iso(seconds: int) -> str:
    # One runs per date per object, and the same objects come back operation after
    # operation: remembered, a date costs a dictionary lookup instead of ~1.5 µs.
    # time.gmtime + strftime is twice as fast as datetime's.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _parse(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


#: Held as the upstream's Unix seconds; serialised as ISO 8601 in UTC.
DateTime = NewType("DateTime", int)

DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description="An instant in ISO 8601 form, always UTC (e.g. `2026-11-23T08:15:00Z`).",
    serialize=_serialize,
    parse_value=_parse,
)

#: For ``StrawberryConfig(scalar_map=...)``.
SCALAR_MAP: dict[object, ScalarDefinition] = {DateTime: DATETIME_SCALAR}
