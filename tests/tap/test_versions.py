"""Every stream works with `intercom_version` 2.16 as with 2.15.

2.16 moves conversation attributes to GET /conversations/attributes (the old listing
answers 422) and changes a few types (contact `owner_id` a string, ticket assignee ids
integers): the tap converts those back to its schema's types without loss.
"""

from __future__ import annotations

import pytest
from tap_intercom.tap import STREAM_TYPES

from testbed.intercom.expected import assert_same_records, expected_record
from tests.tap.conftest import live_records, run_tap, tap_config

STREAMS = {stream_type.name: stream_type for stream_type in STREAM_TYPES}
API_STREAMS = sorted(name for name in STREAMS if name != "webhook_notifications")
# 2.16's types where the tap's schema (from 2.15) declares others: converted losslessly.
DECLARED_TYPES = {
    ("contacts", "owner_id"): int,
    ("tickets", "admin_assignee_id"): str,
    ("tickets", "team_assignee_id"): str,
}


@pytest.fixture(scope="module")
def run_2_16(tmp_path_factory):
    from testbed.intercom import SandboxOptions, run_sandbox

    options = SandboxOptions(seed=5, contacts=80, companies=30, conversations=30, tickets=12)
    with run_sandbox(options) as sandbox:
        config = tap_config(sandbox, intercom_version="2.16")
        run = run_tap(tmp_path_factory.mktemp("v216"), config, API_STREAMS)
        truth = {name: sandbox.client.stream_truth(name, "2.16") for name in API_STREAMS}
        yield sandbox, run, truth, sandbox.client.requests()


def declared(stream: str, raw: dict) -> dict:
    record = dict(raw)
    for (name, key), kind in DECLARED_TYPES.items():
        if name == stream and record.get(key) is not None:
            record[key] = kind(record[key])
    return record


@pytest.mark.parametrize("stream", API_STREAMS)
def test_stream_equals_the_2_16_truth(run_2_16, stream):
    sandbox, run, truth, _ = run_2_16
    assert run.returncode == 0, run.stderr[-3000:]
    expected = [expected_record(stream, declared(stream, raw)) for raw in truth[stream]]
    assert expected, f"the sandbox has no {stream}: the test would prove nothing"
    live = live_records(sandbox, stream, run.records[stream])
    assert_same_records(stream, live, expected, STREAMS[stream].primary_keys)


def test_conversation_attributes_come_from_their_2_16_endpoint(run_2_16):
    _, run, _, requests = run_2_16
    paths = [(r["path"], r["query"].get("model"), r["status"]) for r in requests]
    assert ("/conversations/attributes", None, 200) in paths
    assert not [p for p in paths if p[1] == "conversation"], "asked the 2.15 listing"
    records = run.records["conversation_attributes"]
    assert {r["model"] for r in records} == {"conversation"}
    names = [r["name"] for r in records]
    assert len(set(names)) < len(names)  # a name shared by two: the key is the id
    assert len({r["id"] for r in records}) == len(records)


def test_the_2_16_type_changes_are_reported_as_drift(run_2_16):
    _, run, _, _ = run_2_16
    stderr = run.stderr
    assert "Schema drift in contacts at owner_id: declared integer" in stderr
    assert "Schema drift in tickets at admin_assignee_id: declared string" in stderr
