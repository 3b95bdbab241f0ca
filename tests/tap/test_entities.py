"""Complete entities and deletions against a drifting sandbox: contacts with more than 10
tags and companies, deleted and merged contacts, archived companies, deleted
conversations listed in no particular order."""

from __future__ import annotations

from collections import Counter

import pytest

from testbed.intercom.expected import assert_same_records, expected_record
from tests.tap.conftest import live_records, tap_config

MEMBERSHIPS = ("contact_tags", "contact_companies")
KEY = ("contact_id", "id")


def _drifting(sandbox_factory, **overrides):
    options = dict(contacts=240, companies=60, conversations=30, tickets=4, big_conversations=0)
    return sandbox_factory(drift=True, **{**options, **overrides})


def _deleted(records: list[dict]) -> set[str]:
    return {record["id"] for record in records if "_sdc_deleted_at" in record}


def test_contact_tags_and_companies_are_complete_and_only_cut_lists_cost_requests(
    sandbox_factory, tap_runner
):
    sandbox = _drifting(sandbox_factory)
    contacts = sandbox.client.stream_truth("contacts")
    crowded = {
        what: {c["id"] for c in contacts if c[what]["has_more"]} for what in ("tags", "companies")
    }
    assert crowded["tags"] and crowded["companies"], "no list beyond 10: nothing proved"
    sandbox.client.clear_requests()
    run = tap_runner(tap_config(sandbox), ["contacts", *MEMBERSHIPS])
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in MEMBERSHIPS:
        expected = [expected_record(stream, raw) for raw in sandbox.client.stream_truth(stream)]
        assert_same_records(stream, run.records[stream], expected, KEY)
    served = [r["path"] for r in sandbox.client.requests()]
    paths = Counter(path.rsplit("/", 1)[-1] for path in served)
    asked = {
        what: {path.split("/")[2] for path in served if path.endswith(f"/{what}")}
        for what in ("tags", "companies")
    }
    assert asked == crowded, "only contacts whose embedded list is cut short are asked"
    assert paths["tags"] == len(crowded["tags"])
    # 11-15 companies at 150 a page: one request each.
    assert paths["companies"] == len(crowded["companies"])


def test_an_incremental_run_reads_the_memberships_of_changed_contacts_only(
    sandbox_factory, tap_runner
):
    sandbox = _drifting(sandbox_factory)
    first = tap_runner(tap_config(sandbox), ["contacts", *MEMBERSHIPS])
    assert first.returncode == 0, first.stderr[-3000:]
    sandbox.client.advance_clock(3600)
    changed = set(sandbox.client.change("contacts", "update", 5))
    second = tap_runner(
        tap_config(sandbox, lookback_window_seconds=0),
        ["contacts", *MEMBERSHIPS],
        state=first.final_state,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    # The changed contacts, and those of the bookmark's second (re-read on purpose).
    emitted = {r["id"] for r in second.records["contacts"]}
    assert changed <= emitted and len(emitted) < 20
    for stream in MEMBERSHIPS:
        expected = [
            expected_record(stream, raw)
            for raw in sandbox.client.stream_truth(stream)
            if raw["contact_id"] in emitted
        ]
        assert_same_records(stream, second.records[stream], expected, KEY)


@pytest.mark.parametrize("version", ["2.15", "2.16"])
def test_deleted_and_merged_contacts_and_archived_companies_are_marked_in_the_next_run(
    sandbox_factory, tap_runner, version
):
    sandbox = _drifting(sandbox_factory)
    config = tap_config(sandbox, intercom_version=version, contacts_reconciliation_days=0)
    streams = ["contacts", "companies"]
    first = tap_runner(config, streams)
    assert first.returncode == 0, first.stderr[-3000:]
    assert not _deleted(first.records["contacts"]) - set(sandbox.client.deleted("contacts"))

    def change(kind: str, action: str, count: int) -> set[str]:
        return set(sandbox.client.change(kind, action, count))

    sandbox.client.advance_clock(600)
    gone_contacts = change("contacts", "delete", 3) | change("contacts", "merge", 3)
    archived = change("companies", "archive", 4)
    second = tap_runner(config, streams, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _deleted(second.records["contacts"]) == gone_contacts
    assert _deleted(second.records["companies"]) == archived
    for stream in streams:  # nothing alive is marked, nothing gone is emitted live
        live = {r["id"] for r in live_records(sandbox, stream, second.records[stream])}
        assert live <= {r["id"] for r in sandbox.client.stream_truth(stream)}
    state = second.final_state["bookmarks"]
    assert len(str(state["contacts"])) < 120_000 and "id_sketch" in state["companies"]


def test_merged_contacts_are_marked_without_a_reconciliation_on_2_16(sandbox_factory, tap_runner):
    sandbox = _drifting(sandbox_factory)
    config = tap_config(sandbox, intercom_version="2.16")  # reconciliation every 7 days
    first = tap_runner(config, ["contacts"])
    assert first.returncode == 0, first.stderr[-3000:]
    sandbox.client.advance_clock(600)
    merged = set(sandbox.client.change("contacts", "merge", 2))
    sandbox.client.clear_requests()
    second = tap_runner(config, ["contacts"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert merged <= _deleted(second.records["contacts"])
    assert not any(r["path"] == "/contacts" for r in sandbox.client.requests()), "no listing"


def test_conversation_deletions_are_found_whatever_the_list_order(sandbox_factory, tap_runner):
    """A deletion made after a run's listing began but stamped before the run's bookmark
    (it happened while the run was going on) is emitted by the next run."""
    sandbox = _drifting(sandbox_factory)
    first = tap_runner(tap_config(sandbox), ["conversations"])
    assert first.returncode == 0, first.stderr[-3000:]
    assert _deleted(first.records["conversations"]) == set(sandbox.client.deleted("conversations"))
    deleted = set(sandbox.client.change("conversations", "delete", 3))
    sandbox.client.advance_clock(7200)
    sandbox.client.change("conversations", "update", 1)
    second = tap_runner(tap_config(sandbox), ["conversations"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _deleted(second.records["conversations"]) == deleted
    state = first.final_state
    state["bookmarks"]["conversations"]["replication_key_value"] = second.bookmark("conversations")
    again = tap_runner(tap_config(sandbox), ["conversations"], state=state)
    assert deleted <= _deleted(again.records["conversations"])
