"""Second runs read only what changed, emit it, and move the bookmarks forward."""

from __future__ import annotations

import logging
import random
import re

import pytest
from tap_intercom.incremental import InterimCheckpoint, sorted_with_interim_checkpoints
from tap_intercom.tap import TapIntercom

from testbed.intercom.expected import assert_same_records, expected_record
from tests.tap.conftest import tap_config

INCREMENTAL = [
    "contacts",
    "companies",
    "conversations",
    "conversation_parts",
    "tickets",
    "ticket_parts",
    "contact_notes",
    "company_segments",
]


def _ids(records: list[dict]) -> set[str]:
    return {str(record["id"]) for record in records}


def test_second_run_emits_the_changes_reads_only_them_and_moves_state(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(contacts=600, companies=200, conversations=150, tickets=40)
    config = tap_config(sandbox)
    first = tap_runner(config, INCREMENTAL)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(first.records["contacts"]) == 600

    changed = {
        "contacts": sandbox.client.change("contacts", "update", 5),
        "new_contacts": sandbox.client.change("contacts", "add", 3),
        "companies": sandbox.client.change("companies", "update", 4),
        "conversations": sandbox.client.change("conversations", "update", 3),
        "parts": sandbox.client.change("conversations", "add_parts", 2),
        "deleted": sandbox.client.change("conversations", "delete", 2),
        "tickets": sandbox.client.change("tickets", "update", 2),
    }
    sandbox.client.clear_requests()

    second = tap_runner(config, INCREMENTAL, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]

    contacts = _ids(second.records["contacts"])
    assert set(changed["contacts"]) | set(changed["new_contacts"]) <= contacts
    assert len(contacts) < 100, "the second run re-read far more contacts than changed"
    assert set(changed["companies"]) <= _ids(second.records["companies"])
    assert len(second.records["companies"]) < 50

    conversations = second.records["conversations"]
    live = {c["id"] for c in conversations if not c.get("_sdc_deleted_at")}
    deleted = {c["id"] for c in conversations if c.get("_sdc_deleted_at")}
    assert set(changed["conversations"]) | set(changed["parts"]) <= live | set(changed["deleted"])
    assert set(changed["deleted"]) <= deleted
    assert set(changed["tickets"]) <= _ids(second.records["tickets"])

    # The new parts are there, and parts were fetched only for changed conversations.
    parts_truth = [
        expected_record("conversation_parts", part)
        for part in sandbox.client.stream_truth("conversation_parts")
        if part["conversation_id"] in set(changed["parts"])
    ]
    emitted_parts = [
        part
        for part in second.records["conversation_parts"]
        if part["conversation_id"] in set(changed["parts"])
    ]
    assert_same_records("conversation_parts", emitted_parts, parts_truth, ("id",))
    fetched = {
        r["path"].removeprefix("/conversations/")
        for r in sandbox.client.requests()
        if r["method"] == "GET" and r["path"].startswith("/conversations/")
    } - {"deleted"}
    assert set(changed["parts"]) <= fetched
    touched = changed["conversations"] + changed["parts"] + changed["deleted"]
    assert len(fetched) <= len(touched) + 5, "parts were fetched for unchanged conversations"

    for stream in ("contacts", "companies", "conversations", "tickets", "conversation_parts"):
        before, after = first.bookmark(stream), second.bookmark(stream)
        assert before and after and after > before, (stream, before, after)

    # A third run with nothing changed emits (almost) nothing.
    third = tap_runner(config, ["contacts", "conversations"], state=second.final_state)
    assert third.returncode == 0, third.stderr[-3000:]
    assert len(third.records["contacts"]) <= len(changed["contacts"]) + len(changed["new_contacts"])


def _state_with_bookmark(stream: str, value: str) -> dict:
    return {
        "bookmarks": {stream: {"replication_key": "updated_at", "replication_key_value": value}}
    }


def test_deletions_are_read_with_version_2_16_whatever_the_config(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(conversations=30, deleted_conversations=4)
    config = tap_config(sandbox, intercom_version="2.11")
    state = _state_with_bookmark("conversations", "2000-01-01T00:00:00+00:00")
    run = tap_runner(config, ["conversations"], state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    deleted = {r["id"] for r in run.records["conversations"] if r.get("_sdc_deleted_at")}
    assert deleted == set(sandbox.client.deleted("conversations"))
    served = sandbox.client.requests()
    assert any(r["path"] == "/conversations/deleted" and r["status"] == 200 for r in served)


def test_refused_deletions_are_reported_once_and_the_run_goes_on(
    sandbox_factory, monkeypatch, caplog, capsys
):
    sandbox = sandbox_factory(conversations=30, deleted_conversations=4)
    # As if Intercom refused the call: ask with a version that does not offer it.
    monkeypatch.setattr("tap_intercom.streams.conversations.DELETIONS_VERSION", "2.15")
    state = _state_with_bookmark("conversations", "2000-01-01T00:00:00+00:00")
    tap = TapIntercom(config=tap_config(sandbox), state=state)
    with caplog.at_level(logging.WARNING):
        tap.streams["conversations"].sync()
    records = [line for line in capsys.readouterr().out.splitlines() if '"RECORD"' in line]
    assert len(records) == len(sandbox.client.stream_truth("conversations"))
    warnings = [r for r in caplog.records if "Deleted conversations cannot be seen" in r.message]
    assert len(warnings) == 1


def test_contacts_that_reach_search_late_are_caught_by_the_lookback(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(contacts=200, search_lag_seconds=60)
    config = tap_config(sandbox)  # lookback_window_seconds: 300 by default
    first = tap_runner(config, ["contacts"])
    assert first.returncode == 0, first.stderr[-3000:]
    updated = sandbox.client.change("contacts", "update", 2)
    added = sandbox.client.change("contacts", "add", 3)

    second = tap_runner(config, ["contacts"], state=first.final_state)
    assert set(updated) <= _ids(second.records["contacts"])
    assert not set(added) & _ids(second.records["contacts"]), "no search lag?"

    sandbox.client.advance_clock(61)
    third = tap_runner(config, ["contacts"], state=second.final_state)
    assert third.returncode == 0, third.stderr[-3000:]
    assert set(added) <= _ids(third.records["contacts"])


def test_children_checkpoint_between_the_parents_checkpoints_in_change_order():
    # A search window (unsorted, its end 100 the checkpoint), then a second one.
    window = [{"id": "c", "updated_at": 30}, {"id": "a", "updated_at": 10}]
    window2 = [{"id": "d", "updated_at": 30}, {"id": "b", "updated_at": 10}]
    batches = [(window[:1], None), (window[1:], None), ([], 40), (window2, None), ([], 100)]
    out = list(sorted_with_interim_checkpoints(iter(batches), "updated_at"))
    assert out == [
        ([{"id": "a", "updated_at": 10}], 30),
        ([{"id": "c", "updated_at": 30}], 40),
        ([{"id": "b", "updated_at": 10}], 30),
        ([{"id": "d", "updated_at": 30}], 100),
    ]
    # Cuts inside a stretch are interim; the parent's own checkpoints are not.
    assert [type(checkpoint) for _, checkpoint in out] == [
        InterimCheckpoint,
        int,
        InterimCheckpoint,
        int,
    ]


def test_no_interim_checkpoint_goes_past_the_stretch_checkpoint():
    # On 2.15 the contacts search is one stretch whose checkpoint is when it began (40):
    # parents changed later (50, 60) were listed by chance, and others changed then may
    # have been missed, so no cut may claim "everything before 60 is done".
    listed = (("f", 60), ("a", 10), ("e", 50), ("b", 20))
    parents = [{"id": i, "updated_at": at} for i, at in listed]
    out = list(sorted_with_interim_checkpoints(iter([(parents, None), ([], 40)]), "updated_at"))
    assert [([p["id"] for p in batch], checkpoint) for batch, checkpoint in out] == [
        (["a"], InterimCheckpoint(20)),
        (["b", "e", "f"], 40),
    ]


# One stretch of parents (checkpoint 100) as a listing sends it, in four pages.
STRETCH_PAGES = [
    [{"id": "e", "updated_at": 50}, {"id": "a", "updated_at": 10}],
    [{"id": "d", "updated_at": 40}],
    [{"id": "b", "updated_at": 20}, {"id": "f", "updated_at": 60}],
    [{"id": "c", "updated_at": 20}],
]


def test_parents_listed_so_far_go_out_while_the_listing_is_behind_and_cuts_stay_safe():
    # One stretch (checkpoint 100) listed in four pages; the listing is behind after
    # the first page (the workers would idle): that page goes out unsorted and
    # without a checkpoint; the rest is sorted and cut once the stretch is complete.
    batches = [(page, None) for page in STRETCH_PAGES] + [([], 100)]
    behind = iter([True, False, False, False])
    out = list(
        sorted_with_interim_checkpoints(iter(batches), "updated_at", behind=lambda: next(behind))
    )
    assert out == [
        ([{"id": "e", "updated_at": 50}, {"id": "a", "updated_at": 10}], None),
        ([{"id": "b", "updated_at": 20}, {"id": "c", "updated_at": 20}], InterimCheckpoint(40)),
        ([{"id": "d", "updated_at": 40}], InterimCheckpoint(60)),
        ([{"id": "f", "updated_at": 60}], 100),
    ]


def test_while_the_listing_is_behind_one_page_goes_out_per_request():
    # The listing ran ahead (four pages there), then fell behind while the workers
    # asked twice: they get the two oldest pages, one each time; the rest of the
    # stretch is sorted and cut once complete.
    batches = [(page, None) for page in STRETCH_PAGES] + [([], 100)]
    behind = iter([False, False, False, True, True, False])
    out = list(
        sorted_with_interim_checkpoints(iter(batches), "updated_at", behind=lambda: next(behind))
    )
    assert out == [
        ([{"id": "e", "updated_at": 50}, {"id": "a", "updated_at": 10}], None),
        ([{"id": "d", "updated_at": 40}], None),
        ([{"id": "b", "updated_at": 20}, {"id": "c", "updated_at": 20}], InterimCheckpoint(60)),
        ([{"id": "f", "updated_at": 60}], 100),
    ]


@pytest.mark.parametrize("seed", range(20))
def test_every_checkpoint_comes_after_every_parent_changed_before_it(seed):
    # Whatever the listing's pace and the stretch sizes: once a checkpoint is out,
    # every parent changed before it has gone out (a resume from it misses nothing).
    rng = random.Random(seed)
    batches, listed = [], []
    for hi in (100, 200, 300):
        for _ in range(rng.randint(0, 5)):
            page = [
                {"id": f"{hi}-{len(listed) + n}", "updated_at": rng.randrange(hi - 100, hi)}
                for n in range(rng.randint(0, 4))
            ]
            listed += page
            batches.append((page, None))
        batches.append(([], hi))
    out = list(
        sorted_with_interim_checkpoints(
            iter(batches), "updated_at", behind=lambda: rng.random() < 0.5
        )
    )
    seen: set[str] = set()
    for parents, checkpoint in out:
        seen.update(parent["id"] for parent in parents)
        if checkpoint is not None:
            assert {p["id"] for p in listed if p["updated_at"] < checkpoint} <= seen
    assert sorted(seen) == sorted(p["id"] for p in listed)
    assert [c for _, c in out if c is not None and not isinstance(c, InterimCheckpoint)] == [
        100,
        200,
        300,
    ]


def test_a_stretch_too_long_to_sort_passes_through_in_listing_order(monkeypatch):
    monkeypatch.setattr("tap_intercom.incremental.MAX_SORTED_PARENTS", 3)
    pages = [[{"id": str(n), "updated_at": 9 - n}] * 2 for n in range(3)]
    batches = [(pages[0], None), (pages[1], None), (pages[2], None), ([], 50)]
    out = list(sorted_with_interim_checkpoints(iter(batches), "updated_at"))
    assert [parent["id"] for parents, _ in out for parent in parents] == [
        "0",
        "0",
        "1",
        "1",
        "2",
        "2",
    ]
    assert [checkpoint for _, checkpoint in out if checkpoint is not None] == [50]


def test_a_child_stream_emits_state_between_the_parents_checkpoints(sandbox_factory, tap_runner):
    # One search window holds every conversation: the parent checkpoints only at its
    # end; with a 1-second cadence and slow requests the child still emits STATE on
    # the way, and each is a bookmark the run had reached.
    sandbox = sandbox_factory(conversations=120, big_conversations=0, latency_ms=150)
    config = tap_config(sandbox, state_interval_seconds=1, max_workers=2)
    run = tap_runner(config, ["conversation_parts"])
    assert run.returncode == 0, run.stderr[-3000:]
    bookmarks = [
        state["bookmarks"]["conversation_parts"]["replication_key_value"]
        for state in run.states
        if state.get("bookmarks", {}).get("conversation_parts", {}).get("replication_key_value")
    ]
    assert len(set(bookmarks)) >= 3, bookmarks
    assert bookmarks == sorted(bookmarks)


def test_children_start_while_the_first_search_window_is_still_being_listed(
    sandbox_factory, tap_runner
):
    # 600 conversations: one search window of four pages at 300 ms each. The parts of
    # the first page are fetched while the others are listed, not after.
    sandbox = sandbox_factory(conversations=600, big_conversations=0, latency_ms=300)
    run = tap_runner(tap_config(sandbox), ["conversation_parts"])
    assert run.returncode == 0, run.stderr[-3000:]
    log = sandbox.client.requests()
    searches = [entry["time"] for entry in log if entry["path"] == "/conversations/search"]
    parts = [entry["time"] for entry in log if re.fullmatch(r"/conversations/\d+", entry["path"])]
    assert len(searches) >= 4 and parts
    assert min(parts) < max(searches)
