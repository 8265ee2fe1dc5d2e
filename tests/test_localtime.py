"""Local date-times <-> Unix seconds across daylight-saving changes (docs/dialects.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from resolvers.dialects.localtime import UnknownZone, to_local, to_unix, zone

NEW_YORK = zone("America/New_York")
TOKYO = zone("Asia/Tokyo")


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_zone_data_is_available() -> None:
    # zoneinfo needs the system's database or the tzdata package (a dependency).
    assert str(NEW_YORK) == "America/New_York"
    assert zone("UTC").utcoffset(datetime(2024, 1, 1)) is not None


@pytest.mark.parametrize(
    ("local", "instant"),
    [
        # Winter (EST, -5) and summer (EDT, -4).
        ("2024-01-15T12:00:00", "2024-01-15T17:00:00"),
        ("2024-07-04T12:00:00", "2024-07-04T16:00:00"),
        # Spring forward, 2024-03-10: 02:00 EST becomes 03:00 EDT.
        ("2024-03-10T01:59:59", "2024-03-10T06:59:59"),
        ("2024-03-10T03:00:00", "2024-03-10T07:00:00"),
        # Fall back, 2024-11-03: 02:00 EDT becomes 01:00 EST.
        ("2024-11-03T00:59:59", "2024-11-03T04:59:59"),
        ("2024-11-03T02:00:00", "2024-11-03T07:00:00"),
    ],
)
def test_new_york_unambiguous_times(local: str, instant: str) -> None:
    assert to_unix(local, NEW_YORK) == utc(instant)
    assert to_local(utc(instant), NEW_YORK) == local


def test_missing_hour_reads_with_the_offset_before_the_change() -> None:
    # 02:30 never happens on a spring-forward day; read as EST (-5): 07:30Z, which is
    # after 03:00 EDT (07:00Z). No correct upstream writes it.
    assert to_unix("2024-03-10T02:30:00", NEW_YORK) == utc("2024-03-10T07:30:00")
    assert to_unix("2024-03-10T02:00:00", NEW_YORK) == utc("2024-03-10T07:00:00")
    assert to_unix("2024-03-10T02:59:59", NEW_YORK) == utc("2024-03-10T07:59:59")


def test_ambiguous_hour_reads_as_the_earlier_instant() -> None:
    # 01:30 happens twice on a fall-back day: first in EDT (05:30Z), then in EST (06:30Z).
    assert to_unix("2024-11-03T01:30:00", NEW_YORK) == utc("2024-11-03T05:30:00")
    assert to_unix("2024-11-03T01:00:00", NEW_YORK) == utc("2024-11-03T05:00:00")
    # Both passes are written alike, so the second pass reads one hour early (documented).
    assert to_local(utc("2024-11-03T05:30:00"), NEW_YORK) == "2024-11-03T01:30:00"
    assert to_local(utc("2024-11-03T06:30:00"), NEW_YORK) == "2024-11-03T01:30:00"
    assert to_unix(to_local(utc("2024-11-03T06:30:00"), NEW_YORK), NEW_YORK) == utc(
        "2024-11-03T05:30:00"
    )


@pytest.mark.parametrize(
    ("start", "end"), [("2024-03-09", "2024-03-12"), ("2024-11-02", "2024-11-05")]
)
def test_round_trip_every_quarter_hour_around_a_change(start: str, end: str) -> None:
    """Every instant round-trips, but those of the repeated hour's second pass."""
    first, last = utc(start + "T00:00:00"), utc(end + "T00:00:00")
    second_pass = range(utc("2024-11-03T06:00:00"), utc("2024-11-03T07:00:00"))
    for instant in range(first, last, 900):
        back = to_unix(to_local(instant, NEW_YORK), NEW_YORK)
        assert back == (instant - 3600 if instant in second_pass else instant), instant


def test_zone_without_daylight_saving() -> None:
    # Tokyo is +9 all year: New York's change days are ordinary days there.
    assert to_unix("2024-03-10T02:30:00", TOKYO) == utc("2024-03-09T17:30:00")
    assert to_unix("2024-11-03T01:30:00", TOKYO) == utc("2024-11-02T16:30:00")
    for instant in range(utc("2024-01-01T00:00:00"), utc("2025-01-01T00:00:00"), 86_399):
        assert to_unix(to_local(instant, TOKYO), TOKYO) == instant


def test_formats() -> None:
    # The reference's own example has no seconds; a bare date is midnight.
    assert to_unix("2015-01-31T14:30", NEW_YORK) == utc("2015-01-31T19:30:00")
    assert to_unix("2015-01-31", NEW_YORK) == utc("2015-01-31T05:00:00")
    # Fractions are floored; a value with its own offset keeps it.
    assert to_unix("2015-01-31T14:30:05.9", NEW_YORK) == utc("2015-01-31T19:30:05")
    assert to_unix("2015-01-31T14:30:05+00:00", NEW_YORK) == utc("2015-01-31T14:30:05")
    assert to_local(utc("2015-01-31T19:30:05"), NEW_YORK) == "2015-01-31T14:30:05"
    with pytest.raises(ValueError):
        to_unix("yesterday", NEW_YORK)


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus_Mons", "../etc/passwd", "/etc/localtime", "x" * 80]
)
def test_unknown_zones(name: str) -> None:
    with pytest.raises(UnknownZone):
        zone(name)
