"""The contacts search filter covers the bookmark under Intercom's calendar-day rule,
in any workspace time zone, also across daylight-saving changes. Conversations and
tickets list several search windows at once, and still emit them and checkpoint in
order."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from tap_intercom.client import from_rfc3339
from tap_intercom.pacing import WINDOWS_AT_ONCE
from tap_intercom.tap import TapIntercom

from tests.tap.conftest import tap_config

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


@pytest.mark.parametrize("stream", ["conversations", "tickets"])
def test_search_windows_are_listed_several_at_once_and_come_out_in_order(
    sandbox_factory, tap_runner, stream
):
    # Pages of 5: search windows of about 100 records, so the workspace takes several
    # windows; 300 ms a page. Listed one window at a time, no two searches would overlap.
    latency = 0.3
    sandbox = sandbox_factory(**{stream: 450}, big_conversations=0, latency_ms=int(latency * 1000))
    run = tap_runner(tap_config(sandbox, page_size=5), [stream])
    assert run.returncode == 0, run.stderr[-3000:]

    ends = sorted(e["time"] for e in sandbox.client.requests() if e["path"] == f"/{stream}/search")
    # Searches answered within one latency of each other were at the sandbox together.
    together = max(sum(1 for end in ends if first <= end < first + latency) for first in ends)
    assert 2 <= together <= WINDOWS_AT_ONCE + 1, together
    serial = len(ends) * latency
    assert ends[-1] - ends[0] < 0.7 * serial, (ends[-1] - ends[0], serial)

    # Every STATE comes after every record changed before its bookmark, each window's
    # records before the next one's checkpoint.
    truth = {str(raw["id"]): raw["updated_at"] for raw in sandbox.client.stream_truth(stream)}
    emitted: set[str] = set()
    bookmarks = []
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD" and not message["record"].get("_sdc_deleted_at"):
            emitted.add(str(message["record"]["id"]))
        elif message["type"] == "STATE":
            value = message["value"]["bookmarks"].get(stream, {}).get("replication_key_value")
            if value:
                bookmark = from_rfc3339(value)
                bookmarks.append(bookmark)
                missing = {i for i, updated_at in truth.items() if updated_at < bookmark} - emitted
                assert not missing, f"STATE {value} before {sorted(missing)[:5]}"
    assert emitted == set(truth)
    assert len(bookmarks) >= 4, bookmarks
    assert bookmarks == sorted(bookmarks)


def _bookmarks(run, stream: str) -> list[str]:
    """The distinct bookmarks of `stream`, in the order the run's STATEs carried them."""
    values = [
        state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")
        for state in run.states
    ]
    return list(dict.fromkeys(value for value in values if value))


@pytest.mark.parametrize("version", ["2.15", "2.16"])
def test_contacts_ask_for_a_sort_only_where_the_version_lists_one(
    sandbox_factory, tap_runner, version
):
    """2.16's contacts search request lists `sort`: the tap asks for ascending order and
    checkpoints every page. 2.15's does not (the sandbox ignores it there and answers
    newest first): the tap does not send it, relies on no order, and the bookmark moves
    once, at the end, without a warning about the order."""
    sandbox = sandbox_factory(contacts=120)
    config = tap_config(sandbox, page_size=10, intercom_version=version)
    run = tap_runner(config, ["contacts"])
    assert run.returncode == 0, run.stderr[-3000:]
    truth = sandbox.client.stream_truth("contacts", version)
    emitted = [r["id"] for r in run.records["contacts"] if "_sdc_deleted_at" not in r]
    assert sorted(emitted) == sorted(c["id"] for c in truth)
    bodies = [r["body"] for r in sandbox.client.requests() if r["path"] == "/contacts/search"]
    assert len(bodies) >= 12
    bookmarks = _bookmarks(run, "contacts")
    newest = max(c["updated_at"] for c in truth)
    assert from_rfc3339(bookmarks[-1]) == newest
    if version == "2.15":
        assert not [body for body in bodies if "sort" in body]
        assert len(bookmarks) == 1
    else:
        assert all(body["sort"]["field"] == "updated_at" for body in bodies)
        assert len(bookmarks) >= 10 and bookmarks == sorted(bookmarks)
    assert "not sorted" not in run.stderr


def test_contacts_changed_while_a_2_15_run_reads_them_come_in_the_next_run(
    sandbox_factory, tap_runner
):
    """Read newest first (2.15 sorts nothing the tap asks for), a contact changed while
    the run pages moves to a page already read: the bookmark leaves it to the next run."""
    sandbox = sandbox_factory(contacts=150)
    config = tap_config(sandbox, page_size=10, contacts_reconciliation_days=30)
    changed: list[str] = []

    def change_while_running(message: dict) -> None:
        if message["stream"] == "contacts" and not changed and len(seen) == 30:
            oldest = sorted(sandbox.client.stream_truth("contacts"), key=lambda c: c["updated_at"])
            changed.extend(
                sandbox.client.change("contacts", "update", ids=[c["id"] for c in oldest[:5]])
            )
        seen.append(message["record"]["id"])

    seen: list[str] = []
    first = tap_runner(config, ["contacts"], on_record=change_while_running)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(changed) == 5
    second = tap_runner(config, ["contacts"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    updated = {c["id"]: c["updated_at"] for c in sandbox.client.stream_truth("contacts")}
    union = {
        r["id"]: r["updated_at"] for r in first.records["contacts"] + second.records["contacts"]
    }
    assert {ident: from_rfc3339(union[ident]) for ident in changed} == {
        ident: updated[ident] for ident in changed
    }
