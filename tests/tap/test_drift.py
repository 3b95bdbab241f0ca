"""Schema drift: converted where lossless, moved to `_sdc_drift` otherwise, new top-level
fields announced, unlisted nested fields kept and counted; never an exception."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from tap_intercom.drift import (
    CONVERTED,
    DRIFT_PROPERTY,
    KEPT,
    MOVED,
    NEW_COLUMN,
    NOT_DECLARED,
    DriftGuard,
    DriftLog,
    with_drift_column,
)
from tap_intercom.schemas import load_schema, timestamp_converter
from tap_intercom.summary import SUMMARY_PREFIX
from tap_intercom.tap import STREAM_TYPES

from testbed.intercom.expected import assert_same_records, expected_record
from tests.sandbox.helpers import api
from tests.tap.conftest import tap_config

T = 1_700_000_000


def guard(stream: str = "conversations") -> tuple[DriftGuard, list[tuple[str, dict]]]:
    announced: list[tuple[str, dict]] = []
    schema = with_drift_column(load_schema(stream))
    return DriftGuard(schema, DriftLog(), lambda n, s: announced.append((n, s))), announced


def counts(drift: DriftGuard) -> dict[tuple[str, str, str, str], int]:
    return dict(drift.log.counts)


def test_a_record_that_fits_is_left_alone():
    drift, announced = guard()
    record = {"id": "1", "created_at": T, "statistics": {"last_closed_by_id": "7"}}
    before = copy.deepcopy(record)
    assert drift.absorb(record) == before
    assert not counts(drift) and not announced


@pytest.mark.parametrize(
    ("path", "value", "converted", "declared", "seen"),
    [
        (("statistics", "last_closed_by_id"), 123, "123", "string", "integer"),
        (("title",), 5.25, "5.25", "string", "number"),
        (("title",), True, "true", "string", "boolean"),
        (("admin_assignee_id",), "42", 42, "integer", "string"),
        (("admin_assignee_id",), 42.0, 42, "integer", "number"),
        (("statistics", "time_to_assignment"), "-3", -3, "integer", "string"),
        (("read",), "false", False, "boolean", "string"),
        (("updated_at",), str(T), "2023-11-14T22:13:20+00:00", "string(date-time)", "string"),
    ],
)
def test_lossless_values_are_converted_at_any_depth(path, value, converted, declared, seen):
    drift, _ = guard()
    record: dict[str, Any] = {"id": "1"}
    node = record
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    timestamp_converter(load_schema("conversations"))(drift.absorb(record))
    assert node[path[-1]] == converted and type(node[path[-1]]) is type(converted)
    assert DRIFT_PROPERTY not in record
    assert counts(drift) == {(".".join(path), declared, seen, CONVERTED): 1}


def test_attachment_sizes_as_strings_in_an_array_are_converted_by_position():
    drift, _ = guard()
    record = {"id": "1", "source": {"attachments": [{"width": "640", "height": "480"}, None]}}
    drift.absorb(record)
    assert record["source"]["attachments"][0] == {"width": 640, "height": 480}
    assert counts(drift) == {
        ("source.attachments[].width", "integer", "string", CONVERTED): 1,
        ("source.attachments[].height", "integer", "string", CONVERTED): 1,
    }


@pytest.mark.parametrize(
    "value", ["many", "007", "1.5", [1], {"a": 1}, True, float("nan")], ids=repr
)
def test_a_value_that_cannot_be_converted_moves_to_the_drift_column(value):
    drift, announced = guard()
    record = {"id": "1", "statistics": {"count_reopens": value}}
    drift.absorb(record)
    assert record["statistics"]["count_reopens"] is None
    moved = record[DRIFT_PROPERTY]["statistics.count_reopens"]
    assert moved is value or moved == value
    assert [n for n, _ in announced] == []  # the stream's schema already has the column
    ((key, count),) = counts(drift).items()
    assert key[0] == "statistics.count_reopens" and key[3] == MOVED and count == 1


def test_moved_values_are_keyed_by_their_concrete_path_in_arrays():
    drift, _ = guard()
    record = {"id": "1", "source": {"attachments": [{"width": 1}, {"width": "wide"}]}}
    drift.absorb(record)
    assert record[DRIFT_PROPERTY] == {"source.attachments[1].width": "wide"}
    assert record["source"]["attachments"][1]["width"] is None


def test_a_timestamp_out_of_range_moves_instead_of_failing():
    drift, _ = guard()
    convert = timestamp_converter(load_schema("conversations"))
    record = {"id": "1", "created_at": T, "waiting_since": 10**15}
    drift.absorb(record)  # the fast check takes any number for a date-time
    with pytest.raises(ValueError):
        convert(copy.deepcopy(record))
    convert(drift.absorb(record, thorough=True))
    assert record["waiting_since"] is None
    assert record[DRIFT_PROPERTY] == {"waiting_since": 10**15}
    assert record["created_at"] == "2023-11-14T22:13:20+00:00"


def test_a_new_top_level_field_is_announced_before_its_first_record_and_typed():
    drift, announced = guard("contacts")
    assert drift.absorb({"id": "1", "fresh": None}) == {"id": "1", "fresh": None}
    assert announced == []  # a null says nothing about the type
    drift.absorb({"id": "2", "fresh": 3, "blob": {"any thing": [1]}})
    assert announced == [
        ("fresh", {"type": ["integer", "null"]}),
        ("blob", {"type": ["object", "null"], "additionalProperties": True}),
    ]
    record = {"id": "3", "fresh": "three"}  # later values of another type move
    drift.absorb(record)
    assert record == {"id": "3", "fresh": None, DRIFT_PROPERTY: {"fresh": "three"}}
    drift.absorb({"id": "4", "fresh": 4})  # the fast path counts the new field too
    assert counts(drift)[("fresh", NOT_DECLARED, "integer", NEW_COLUMN)] == 2
    assert counts(drift)[("fresh", NOT_DECLARED, "string", NEW_COLUMN)] == 1
    assert counts(drift)[("fresh", "integer", "string", MOVED)] == 1


def test_the_drift_column_is_announced_when_the_catalog_lacks_it():
    announced: list[tuple[str, dict]] = []
    drift = DriftGuard(
        {"properties": {"n": {"type": ["integer", "null"]}}},
        DriftLog(),
        lambda n, s: announced.append((n, s)),
    )
    drift.absorb({"n": "x"})
    assert [name for name, _ in announced] == [DRIFT_PROPERTY]


def test_unlisted_nested_fields_and_free_form_objects_keep_every_key_untouched():
    drift, announced = guard("contacts")
    odd = {"Plan Name": "pro", "a.b": 1, "MixedCase": True, "ünïcødé": "ja", "n": None}
    records = [
        {"id": str(n), "custom_attributes": dict(odd), "location": {"city": "X", "geo": n}}
        for n in range(3)
    ]
    for record in records:
        drift.absorb(record)
    assert all(record["custom_attributes"] == odd for record in records)
    assert [record["location"]["geo"] for record in records] == [0, 1, 2]
    assert announced == []
    # Counted on every record, the first (slow path) and the others (fast path).
    assert counts(drift) == {("location.geo", NOT_DECLARED, "integer", KEPT): 3}


def test_counts_are_the_same_on_the_fast_and_the_slow_path():
    drift, _ = guard()
    for n in range(5):
        drift.absorb({"id": str(n), "statistics": {"last_closed_by_id": n, "extra": "x"}})
    assert counts(drift) == {
        ("statistics.last_closed_by_id", "string", "integer", CONVERTED): 5,
        ("statistics.extra", NOT_DECLARED, "string", KEPT): 5,
    }


def test_every_stream_schema_compiles_and_accepts_its_own_null_record():
    for stream in ("contacts", "companies", "conversations", "tickets", "articles"):
        drift, _ = guard(stream)
        record = {name: None for name in with_drift_column(load_schema(stream))["properties"]}
        assert drift.absorb(dict(record)) == record


def test_the_tap_announces_new_fields_before_their_first_record_and_reports_drift(
    sandbox_factory, tap_runner, tmp_path
):
    """Against a drifting sandbox: the SDK's SCHEMA/RECORD order and our overrides
    (`sync` reporting, `post_process` absorbing) hold end to end."""
    sandbox = sandbox_factory(contacts=20, conversations=12, companies=4, tickets=3, drift=True)
    run = tap_runner(tap_config(sandbox), ["conversations"])
    assert run.returncode == 0, run.stderr[-3000:]
    messages = [json.loads(line) for line in run.stdout.splitlines()]
    schemas = [
        (n, m["schema"]["properties"])
        for n, m in enumerate(messages)
        if m["type"] == "SCHEMA" and m["stream"] == "conversations"
    ]
    first_with_field = next(
        n for n, m in enumerate(messages) if m["type"] == "RECORD" and "ai_topic" in m["record"]
    )
    announced = [n for n, properties in schemas if "ai_topic" in properties]
    assert announced and announced[0] < first_with_field
    assert "ai_topic" not in schemas[0][1] and DRIFT_PROPERTY in schemas[0][1]

    drifted = [r for r in run.records["conversations"] if r.get(DRIFT_PROPERTY)]
    assert drifted and all(
        r[DRIFT_PROPERTY] == {"statistics.median_time_to_reply": "n/a"} for r in drifted
    )
    assert all(isinstance(r["statistics"]["last_closed_by_id"], str) for r in drifted)

    line = next(x for x in run.stderr.splitlines() if SUMMARY_PREFIX in x)
    entries = json.loads(line.split(SUMMARY_PREFIX, 1)[1])["drift"]["conversations"]
    moved = next(e for e in entries if e["path"] == "statistics.median_time_to_reply")
    assert moved == {
        "path": "statistics.median_time_to_reply",
        "declared": "integer",
        "seen": "string",
        "outcome": MOVED,
        "count": len(drifted),
    }
    warning = (
        "Schema drift in conversations at statistics.median_time_to_reply: declared "
        f"integer, Intercom sent string {len(drifted)} times (moved to _sdc_drift)"
    )
    assert run.stderr.count(warning) == 1


def test_a_nested_item_without_its_key_is_skipped_and_every_stream_still_emits(
    sandbox_factory, tap_runner
):
    """A company without `id` in a contact's full company list (`--drift`) stopped the
    whole run with KeyError 'id', and every stream after it emitted nothing. It is drift:
    the item is skipped with a warning naming the stream, the contact and the path (the
    contact's own `companies` keeps what Intercom sent), and the run goes on."""
    sandbox = sandbox_factory(
        contacts=240, companies=60, conversations=20, tickets=4, big_conversations=0, drift=True
    )
    contacts = sandbox.client.stream_truth("contacts")
    cut = sorted(c["id"] for c in contacts if c["companies"]["has_more"])
    served = {
        ident: api(sandbox).get(f"{sandbox.url}/contacts/{ident}/companies", timeout=30).json()
        for ident in cut
    }
    unkeyed = sorted(i for i, page in served.items() if any("id" not in c for c in page["data"]))
    assert unkeyed, "no company list without an id: nothing proved"
    streams = sorted(s.name for s in STREAM_TYPES if s.name != "webhook_notifications")
    refused = {"activity_logs", "news_items", "newsfeeds"}  # --drift refuses them

    run = tap_runner(tap_config(sandbox), streams)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "KeyError" not in run.stderr
    assert {s for s in streams if not run.records[s]} == refused
    expected = [
        expected_record("contact_companies", raw)
        for raw in sandbox.client.stream_truth("contact_companies")
    ]
    assert_same_records(
        "contact_companies", run.records["contact_companies"], expected, ("contact_id", "id")
    )
    for ident in unkeyed:
        assert (
            f"contact_companies: contact {ident}: GET /contacts/{ident}/companies data[0] "
            "has no id; item skipped" in run.stderr
        )
    line = next(x for x in run.stderr.splitlines() if SUMMARY_PREFIX in x)
    entries = json.loads(line.split(SUMMARY_PREFIX, 1)[1])["drift"]["contact_companies"]
    assert {"path": "data[].id", "count": len(unkeyed)}.items() <= next(
        e for e in entries if e["path"] == "data[].id"
    ).items()
