"""The contacts search filter covers the bookmark under Intercom's calendar-day rule,
in any workspace time zone, also across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from tap_intercom.tap import TapIntercom

# Zones whose clocks go back an hour (half an hour on Lord Howe) in the night, and the
# day they did in 2024: that day has 25 (24.5) hours.
LONG_DAYS = [
    ("Europe/London", "2024-10-27"),
    ("America/New_York", "2024-11-03"),
    ("Australia/Lord_Howe", "2024-04-07"),
    ("UTC", "2024-10-27"),
]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        pytest.skip(f"no time zone data for {name}")


@pytest.fixture(scope="module")
def contacts_filter_value():
    """The value of the `updated_at >` filter a contacts run starting at `start` sends."""
    tap = TapIntercom(
        config={"access_token": "x", "api_url": "http://127.0.0.1:9"}, validate_config=False
    )
    stream = tap.streams["contacts"]
    bodies: list[dict] = []
    stream.iter_pages = lambda path, *, body=None, **kwargs: bodies.append(body) or iter(())

    def value(start: int) -> int:
        list(stream.iter_batches(start))
        query = bodies[-1]["query"]
        assert query["field"] == "updated_at" and query["operator"] == ">"
        return query["value"]

    return value


@pytest.mark.parametrize(("zone_name", "long_day"), LONG_DAYS)
def test_contacts_filter_starts_at_or_before_the_bookmark(
    contacts_filter_value, zone_name, long_day
):
    zone = _zone(zone_name)
    first = datetime.fromisoformat(long_day).replace(tzinfo=zone) - timedelta(days=1)
    for step in range(0, 4 * 24 * 60, 5):  # every 5 minutes over four days
        start = int((first + timedelta(minutes=step)).timestamp())
        value = contacts_filter_value(start)
        # Intercom: `> value` matches from the start of the day after value's day.
        next_day = datetime.fromtimestamp(value, zone).date() + timedelta(days=1)
        matched_from = datetime.combine(next_day, time(0), tzinfo=zone).timestamp()
        assert matched_from <= start, (
            f"{zone_name}: a run starting at {datetime.fromtimestamp(start, zone)} asks for "
            f"updated_at > {datetime.fromtimestamp(value, zone)}, which misses everything "
            f"before {datetime.fromtimestamp(matched_from, zone)}"
        )
        assert start - value <= 2 * 86_400, "re-reads more than two days"
