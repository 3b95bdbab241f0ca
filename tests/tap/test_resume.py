"""A run killed mid-stream and re-run from its last STATE finishes the job without
starting over: the union of both runs equals the ground truth."""

from __future__ import annotations

import json

import pytest
from tap_intercom.tap import STREAM_TYPES

from testbed.intercom.expected import assert_same_records, expected_record
from tests.tap.conftest import live_records, tap_config
from tests.tap.test_versions import declared

KEYS = {stream_type.name: stream_type.primary_keys for stream_type in STREAM_TYPES}


# Contacts checkpoint every page where the search sorts (2.16); on 2.15 they do not
# (see test_a_killed_2_15_contacts_run_reads_them_again).
V2_16 = {"intercom_version": "2.16"}


@pytest.mark.parametrize(
    ("stream", "sizes", "kill_after"),
    [
        ("contacts", {"contacts": 2500}, 1200),
        ("conversations", {"conversations": 1500}, 700),
        ("conversation_parts", {"conversations": 600, "big_conversations": 0}, 1200),
        # Read in time slices, a checkpoint after each.
        ("activity_logs", {"activity_logs": 600}, 300),
    ],
)
def test_killed_run_resumes_from_its_last_state(
    sandbox_factory, tap_runner, stream, sizes, kill_after
):
    sandbox = sandbox_factory(**sizes)
    # Small pages: several search windows (checkpoints) in a small workspace.
    config = tap_config(sandbox, page_size=10, max_workers=4, **V2_16)
    killed = tap_runner(config, [stream], kill_after_records=kill_after)
    assert killed.returncode != 0
    assert killed.bookmark(stream), "no STATE with a bookmark before the kill"

    resumed = tap_runner(config, [stream], state=killed.final_state)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    truth = sandbox.client.stream_truth(stream, "2.16")
    expected = [expected_record(stream, declared(stream, raw)) for raw in truth]
    union = live_records(sandbox, stream, killed.records[stream] + resumed.records[stream])
    assert_same_records(stream, union, expected, KEYS[stream])
    # The rerun started from the bookmark, not from the beginning.
    assert len(resumed.records[stream]) < len(expected) - kill_after // 2


def test_a_killed_2_15_contacts_run_reads_them_again(sandbox_factory, tap_runner):
    """2.15's contacts search is in no promised order: no bookmark before the search is
    read to its end, so a killed run's rerun reads every contact again."""
    sandbox = sandbox_factory(contacts=600)
    config = tap_config(sandbox, page_size=10, contacts_reconciliation_days=30)
    killed = tap_runner(config, ["contacts"], kill_after_records=300)
    assert killed.returncode != 0
    assert not killed.bookmark("contacts")
    resumed = tap_runner(config, ["contacts"], state=killed.final_state)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = [expected_record("contacts", raw) for raw in sandbox.client.stream_truth("contacts")]
    live = live_records(sandbox, "contacts", resumed.records["contacts"])
    assert_same_records("contacts", live, expected, KEYS["contacts"])


def _records_before(run, states_seen: int, stream: str) -> list[dict]:
    """The records of `stream` a run wrote before its `states_seen`-th STATE message."""
    records, states = [], 0
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "STATE":
            states += 1
            if states == states_seen:
                return records
        elif message["type"] == "RECORD" and message["stream"] == stream:
            records.append(message["record"])
    raise AssertionError(f"the run wrote fewer than {states_seen} STATE messages")


@pytest.mark.parametrize(
    ("stream", "sizes", "settings"),
    [
        ("contacts", {"contacts": 800}, {}),
        ("conversations", {"conversations": 500, "big_conversations": 0}, {}),
        # Interim checkpoints between the parent's (a STATE at every one of them).
        (
            "conversation_parts",
            {"conversations": 300, "big_conversations": 0},
            {"state_interval_seconds": 0, "page_size": 150},
        ),
    ],
)
def test_any_emitted_state_is_a_safe_resume_point(
    sandbox_factory, tap_runner, stream, sizes, settings
):
    sandbox = sandbox_factory(**sizes)
    config = tap_config(sandbox, **{"page_size": 10, **V2_16, **settings})
    full = tap_runner(config, [stream])
    assert full.returncode == 0, full.stderr[-3000:]
    with_bookmark = [
        position
        for position, state in enumerate(full.states, start=1)
        if state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")
    ]
    assert len(with_bookmark) >= 4, "too few checkpoints to tell"
    truth = sandbox.client.stream_truth(stream, "2.16")
    expected = [expected_record(stream, declared(stream, raw)) for raw in truth]
    # The first and a middle checkpoint: as if the run had died right after them.
    for position in (with_bookmark[0], with_bookmark[len(with_bookmark) // 2]):
        resumed = tap_runner(config, [stream], state=full.states[position - 1])
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        union = _records_before(full, position, stream) + resumed.records[stream]
        assert_same_records(stream, live_records(sandbox, stream, union), expected, KEYS[stream])
