"""A run killed mid-stream and re-run from its last STATE finishes the job without
starting over: the union of both runs equals the ground truth."""

from __future__ import annotations

import pytest
from tap_intercom.tap import STREAM_TYPES

from tests.tap.conftest import live_records, tap_config, truth
from tests.tap.records import assert_same_records, expected_record

KEYS = {stream_type.name: stream_type.primary_keys for stream_type in STREAM_TYPES}


@pytest.mark.parametrize(
    ("stream", "sizes", "kill_after"),
    [
        ("contacts", {"contacts": 2500}, 1200),
        ("conversations", {"conversations": 1500}, 700),
        ("conversation_parts", {"conversations": 600, "big_conversations": 0}, 1200),
    ],
)
def test_killed_run_resumes_from_its_last_state(
    sandbox_factory, tap_runner, stream, sizes, kill_after
):
    sandbox = sandbox_factory(**sizes)
    # Small pages: several search windows (checkpoints) in a small workspace.
    config = tap_config(sandbox, page_size=10, max_workers=4)
    killed = tap_runner(config, [stream], kill_after_records=kill_after)
    assert killed.returncode != 0
    assert killed.bookmark(stream), "no STATE with a bookmark before the kill"

    resumed = tap_runner(config, [stream], state=killed.final_state)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    expected = [expected_record(stream, raw) for raw in truth(sandbox, stream)]
    union = live_records(sandbox, stream, killed.records[stream] + resumed.records[stream])
    assert_same_records(stream, union, expected, KEYS[stream])
    # The rerun started from the bookmark, not from the beginning.
    assert len(resumed.records[stream]) < len(expected) - kill_after // 2
