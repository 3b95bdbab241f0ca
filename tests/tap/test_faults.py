"""Under 429 storms, 5xx bursts, dropped connections, truncated bodies and a broken
scroll, the tap retries and still ends with complete, correct output."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from tap_intercom.tap import STREAM_TYPES

from testbed.intercom.expected import assert_same_records, expected_record
from tests.tap.conftest import live_records, tap_config

KEYS = {stream_type.name: stream_type.primary_keys for stream_type in STREAM_TYPES}
STREAMS = ["contacts", "companies", "conversations", "conversation_parts", "admins", "articles"]
SIZES = {"contacts": 500, "companies": 200, "conversations": 40, "big_conversations": 0}


def _assert_complete(sandbox, run, streams=STREAMS) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in streams:
        expected = [expected_record(stream, raw) for raw in sandbox.client.stream_truth(stream)]
        live = live_records(sandbox, stream, run.records[stream])
        assert_same_records(stream, live, expected, KEYS[stream])


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.15},
        {"drop_rate": 0.1},
        {"truncate_rate": 0.15},
        {"storm_429": 3},
    ],
    ids=["5xx", "dropped-connections", "truncated-json", "429-storm"],
)
def test_transient_faults_are_retried_to_complete_output(sandbox_factory, tap_runner, faults):
    sandbox = sandbox_factory(**SIZES)
    sandbox.client.set_faults(**faults)
    run = tap_runner(tap_config(sandbox, page_size=50), STREAMS)
    _assert_complete(sandbox, run)
    statuses = Counter(r["status"] for r in sandbox.client.requests())
    if "error_rate" in faults:
        assert sum(count for status, count in statuses.items() if status >= 500) > 0
    if "storm_429" in faults:
        assert statuses[429] >= 1
    assert "Retrying" in run.stderr


def test_500_in_the_middle_of_the_scroll_restarts_it(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(**SIZES)
    sandbox.client.set_faults(scroll_500_after_pages=2)
    run = tap_runner(tap_config(sandbox, page_size=50), ["companies"])
    _assert_complete(sandbox, run, ["companies"])
    assert "restarting it from the beginning" in run.stderr


def test_an_open_scroll_is_waited_out(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(**SIZES)
    # Long enough to outlast the tap's start on a loaded machine (at 4 s the other scroll
    # sometimes expired before the tap's first request, and the test proved nothing).
    sandbox.client.set_faults(scroll_idle_seconds=12)
    # Someone else's scroll is open when the tap starts.
    opened = requests.get(
        f"{sandbox.url}/companies/scroll",
        headers={"Authorization": f"Bearer {sandbox.token}", "Accept": "application/json"},
        timeout=30,
    )
    assert opened.status_code == 200
    run = tap_runner(tap_config(sandbox, page_size=50), ["companies"])
    _assert_complete(sandbox, run, ["companies"])
    assert "scroll_exists" in run.stderr


def test_rate_budget_is_respected_without_429s(sandbox_factory, tap_runner):
    # 46 requests at 20 per 10-second window: three windows at least; unpaced, the
    # run would take about a second and hit 429s.
    sandbox = sandbox_factory(contacts=100, conversations=45, big_conversations=0)
    sandbox.client.set_faults(rate_limit=20)
    run = tap_runner(tap_config(sandbox, max_workers=8), ["conversations", "conversation_parts"])
    _assert_complete(sandbox, run, ["conversations", "conversation_parts"])
    served = sandbox.client.requests()
    statuses = Counter(r["status"] for r in served)
    assert statuses[429] == 0, statuses
    times = [r["time"] for r in served]
    assert max(times) - min(times) > 10


def test_a_slow_downstream_does_not_let_the_companies_scroll_expire(sandbox_factory, tap_runner):
    # 6 scroll pages; the reader takes about 10 s for them, far longer than the
    # 1-second idle expiry: a scroll paced by the reader would expire and restart.
    sandbox = sandbox_factory(companies=300, scroll_idle_seconds=1)
    run = tap_runner(tap_config(sandbox), ["companies"], seconds_per_record=0.035)
    _assert_complete(sandbox, run, ["companies"])
    scroll = [e for e in sandbox.client.requests() if e["path"] == "/companies/scroll"]
    assert [entry["status"] for entry in scroll] == [200] * 7  # 6 pages and the empty end
    assert "restarting" not in run.stderr
