"""Local date-times without a zone <-> Unix seconds, in one IANA time zone (launch27).

A launch27 upstream writes every date-time as ISO 8601 *without* a zone
(``2015-01-31T14:30:05``), in its account's time zone; the facade speaks integer
Unix seconds. Converting a local time needs a rule for the two hours a
daylight-saving change makes special (``docs/dialects.md``):

* the **ambiguous** hour (clocks go back: 01:30 happens twice in New York) is
  read as the **earlier** instant, the first pass through it (``fold=0``);
* the **missing** hour (clocks go forward: 02:30 never happens) cannot come
  from a correct upstream; it is read with the offset *before* the change
  (``fold=0``): 02:30 on a New York spring-forward day is 07:30Z.

Both are what :mod:`zoneinfo` does for ``fold=0`` (PEP 495), which this module
relies on and its tests pin. Encoding is exact: an instant is written with the
zone's offset at that instant; an instant in the repeated hour's second pass
therefore reads back one hour early (the upstream's format cannot tell them
apart).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class UnknownZone(ValueError):
    """A time zone name that is not an IANA zone this machine knows."""


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``America/New_York``); :class:`UnknownZone` otherwise.

    Bounded memo: zone names come from upstream payloads.
    """
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise UnknownZone(f"not an IANA time zone name: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(f"unknown time zone {name!r}") from None


def to_unix(local: str, tz: ZoneInfo) -> int:
    """Unix seconds of the local date-time ``local`` in ``tz`` (whole seconds, floored).

    Accepts ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` and a bare date (midnight). A value
    that carries its own offset (not the dialect's, but harmless) keeps it.
    Raises ``ValueError`` for anything else.
    """
    parsed = datetime.fromisoformat(local)
    if parsed.tzinfo is None:
        # fold=0 (the default): the earlier instant when ambiguous, the offset before
        # the change when the local time is missing.
        parsed = parsed.replace(tzinfo=tz, fold=0)
    return int(parsed.timestamp() // 1)


def to_local(seconds: int | float, tz: ZoneInfo) -> str:
    """The local date-time of the instant ``seconds`` in ``tz``, to the second, no zone."""
    instant = datetime.fromtimestamp(int(seconds), UTC).astimezone(tz)
    return instant.replace(tzinfo=None).isoformat(timespec="seconds")
