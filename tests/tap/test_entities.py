"""Complete entities and deletions against a drifting sandbox: contacts with more than 10
tags and companies, deleted and merged contacts, archived companies, deleted
conversations listed in no particular order."""

from __future__ import annotations

from collections import Counter

import pytest
from tap_intercom.client import to_rfc3339

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


def _merge_between_runs(sandbox_factory, tap_runner, streams: list[str]):
    """A run on 2.16, two contacts merged, and the next run (its requests alone on
    record): the second run and the merged leads' ids."""
    sandbox = _drifting(sandbox_factory)
    config = tap_config(sandbox, intercom_version="2.16")  # reconciliation every 7 days
    first = tap_runner(config, streams)
    assert first.returncode == 0, first.stderr[-3000:]
    sandbox.client.advance_clock(600)
    merged = set(sandbox.client.change("contacts", "merge", 2))
    sandbox.client.clear_requests()
    second = tap_runner(config, streams, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    return sandbox, second, merged


def test_merged_contacts_are_marked_without_a_reconciliation_on_2_16(sandbox_factory, tap_runner):
    sandbox, second, merged = _merge_between_runs(sandbox_factory, tap_runner, ["contacts"])
    assert merged <= _deleted(second.records["contacts"])
    assert not any(r["path"] == "/contacts" for r in sandbox.client.requests()), "no listing"


def test_children_listing_contacts_themselves_get_no_merged_leads(sandbox_factory, tap_runner):
    """With `contacts` not selected, `contact_tags` lists changed contacts itself: the
    leads merged into them are deletions of `contacts` only, never parents to fetch."""
    sandbox, second, merged = _merge_between_runs(sandbox_factory, tap_runner, ["contact_tags"])
    assert "contacts" not in second.records
    asked = {r["path"] for r in sandbox.client.requests()}
    assert not {f"/contacts/{lead}/tags" for lead in merged} & asked
    assert "vanished" not in second.stderr


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


def _contacts_asked_for(sandbox) -> set[str]:
    """Ids of `GET /contacts/{id}` (a reconciliation confirming a missing id)."""
    return {
        r["path"].split("/")[2]
        for r in sandbox.client.requests()
        if r["method"] == "GET" and r["path"].count("/") == 2 and r["path"].startswith("/contacts/")
    }


@pytest.mark.parametrize("search_lag_seconds", [0, 300])
def test_a_first_run_keeps_its_search_as_the_first_id_sketch(
    sandbox_factory, tap_runner, search_lag_seconds
):
    """The first run does not list the contacts a second time: its search (every contact,
    sorted by updated_at) is the first sketch. Contacts changed while it runs come twice
    and count once (an id counted twice would be reported gone and asked for);
    contacts deleted after the search passed them, or later, are marked by the next
    reconciliation; no live contact is asked for."""
    sandbox = _drifting(sandbox_factory, search_lag_seconds=search_lag_seconds)
    # 2.16: the search sorts (2.15's lists no `sort`, and the first sketch is a listing).
    config = tap_config(
        sandbox, page_size=20, contacts_reconciliation_days=0, intercom_version="2.16"
    )
    sandbox.client.change("contacts", "add", 3)  # new: maybe not searchable yet
    read: list[str] = []
    changed: dict[str, set[str]] = {}

    def change_while_running(message: dict) -> None:
        read.append(message["record"]["id"])
        if len(read) == 40:  # the tap is at most a pipe's buffer (a few pages) ahead
            early = list(dict.fromkeys(read))[:30]
            changed["updated"] = set(sandbox.client.change("contacts", "update", ids=early[:8]))
            changed["deleted"] = set(sandbox.client.change("contacts", "delete", ids=early[8:11]))
            changed["added"] = set(sandbox.client.change("contacts", "add", 2))

    sandbox.client.clear_requests()
    first = tap_runner(config, ["contacts"], on_record=change_while_running)
    assert first.returncode == 0, first.stderr[-3000:]
    assert not any(r["path"] == "/contacts" for r in sandbox.client.requests()), "no listing"
    ids = Counter(record["id"] for record in first.records["contacts"])
    assert {ident for ident, n in ids.items() if n > 1} >= changed["updated"], "read twice"
    assert "id_sketch" in first.final_state["bookmarks"]["contacts"]

    sandbox.client.advance_clock(600)
    later = set(sandbox.client.change("contacts", "delete", 3))
    updated_then_deleted = set(
        sandbox.client.change("contacts", "delete", ids=sorted(changed["updated"])[:2])
    )
    sandbox.client.clear_requests()
    second = tap_runner(config, ["contacts"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    gone = changed["deleted"] | later | updated_then_deleted
    # Every contact the first run emitted and that is gone is marked; one the lagging
    # search never showed may be, or not (it is in no table).
    marked = _deleted(second.records["contacts"])
    assert gone & set(ids) <= marked <= gone
    assert len(gone & set(ids)) >= 7
    assert _contacts_asked_for(sandbox) <= gone, "only ids really gone are confirmed"
    assert any(r["path"] == "/contacts" for r in sandbox.client.requests()), "listed"


def test_a_first_run_from_a_start_date_lists_the_ids(sandbox_factory, tap_runner):
    """A search bounded by `start_date` does not see every contact: the first sketch
    comes from a listing, and deletions are found as before."""
    sandbox = _drifting(sandbox_factory)
    contacts = sandbox.client.stream_truth("contacts")
    middle = sorted(c["updated_at"] for c in contacts)[len(contacts) // 2]
    config = tap_config(sandbox, start_date=to_rfc3339(middle), contacts_reconciliation_days=0)
    sandbox.client.clear_requests()
    first = tap_runner(config, ["contacts"])
    assert first.returncode == 0, first.stderr[-3000:]
    assert any(r["path"] == "/contacts" for r in sandbox.client.requests()), "listed"
    old = [c["id"] for c in contacts if c["updated_at"] < middle - 2 * 86_400][:2]
    gone = set(sandbox.client.change("contacts", "delete", ids=old))
    second = tap_runner(config, ["contacts"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _deleted(second.records["contacts"]) == gone


def test_a_first_2_15_run_lists_the_ids_for_its_first_sketch(sandbox_factory, tap_runner):
    """2.15's search promises no order, which the search-built sketch relies on: the
    first sketch comes from a listing, and deletions are found as before."""
    sandbox = _drifting(sandbox_factory)
    config = tap_config(sandbox, contacts_reconciliation_days=0)
    first = tap_runner(config, ["contacts"])
    assert first.returncode == 0, first.stderr[-3000:]
    requests = sandbox.client.requests()
    assert any(r["path"] == "/contacts" for r in requests), "listed"
    assert not [r for r in requests if "sort" in (r["body"] or {})], "asked for an order"
    gone = set(sandbox.client.change("contacts", "delete", 2))
    second = tap_runner(config, ["contacts"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _deleted(second.records["contacts"]) == gone
