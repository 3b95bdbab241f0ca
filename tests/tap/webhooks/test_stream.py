"""The tap's webhook_notifications stream: record form, incremental state, spool cleanup."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

from tap_intercom.webhooks.spool import (
    SpoolPosition,
    SpoolWriter,
    encode_record,
    envelope,
    list_segments,
    utc_now,
)

from testbed.catalog import TAP
from testbed.webhooks import STREAM, make_notification, stored_ids, tap_config
from tests.tap.conftest import TapRun, catalog_selecting, run_tap
from tests.tap.conftest import tap_config as sandbox_tap_config


def _one_record_per_segment(spool: Path) -> SpoolWriter:
    writer = SpoolWriter(spool, segment_max_bytes=1, segment_max_age_seconds=3600)
    writer.open()
    return writer


def _store(writer: SpoolWriter, *ids: str) -> None:
    for notification_id in ids:
        writer.append([encode_record(envelope(make_notification(notification_id), utc_now()))])


def _read(tmp_path: Path, spool: Path, state: dict | None = None) -> TapRun:
    run = run_tap(tmp_path / "runs", tap_config(spool), [STREAM], state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _ids(run: TapRun) -> list[str]:
    return [record["id"] for record in run.records[STREAM]]


def test_a_record_carries_the_notification_with_rfc3339_times(tmp_path: Path):
    spool = tmp_path / "spool"
    writer = _one_record_per_segment(spool)
    _store(writer, "notif-1")
    run = _read(tmp_path, spool)
    [record] = run.records[STREAM]
    sent = make_notification("notif-1")
    assert record["id"] == "notif-1"
    assert record["topic"] == sent["topic"]
    assert record["app_id"] == sent["app_id"]
    assert record["created_at"] == "2023-11-14T22:13:20+00:00"
    assert datetime.fromisoformat(record["first_sent_at"]).timestamp() == sent["first_sent_at"]
    assert record["delivered_at"] is None  # Intercom's 0: not delivered yet
    assert record["delivery_attempts"] == 1
    assert record["item"] == sent["data"]["item"]
    assert record["item_type"] == "conversation"
    assert datetime.fromisoformat(record["received_at"]).tzinfo is not None
    assert run.bookmark(STREAM) == record["spool_position"]
    SpoolPosition.parse(record["spool_position"])
    [schema] = [m for m in map(json.loads, run.stdout.splitlines()) if m["type"] == "SCHEMA"]
    assert schema["key_properties"] == ["id"]
    writer.close()


def test_runs_from_state_read_only_new_notifications_and_shrink_the_spool(tmp_path: Path):
    spool = tmp_path / "spool"
    writer = _one_record_per_segment(spool)
    _store(writer, "a", "b", "c")

    first = _read(tmp_path, spool)
    assert _ids(first) == ["a", "b", "c"]
    assert len(list_segments(spool)) == 3  # a run never removes what it has just read

    _store(writer, "d", "e")
    second = _read(tmp_path, spool, first.final_state)
    assert _ids(second) == ["d", "e"]
    # The first run's state was committed: a, b and c are loaded, their segments go.
    assert stored_ids(spool) == ["d", "e"]

    third = _read(tmp_path, spool, second.final_state)
    assert _ids(third) == []
    assert third.bookmark(STREAM) == second.bookmark(STREAM)
    assert stored_ids(spool) == ["e"]  # the newest segment may still grow: it stays
    writer.close()

    # A receiver started now still knows the removed ids (redeliveries stay refused).
    restarted = SpoolWriter(spool, segment_max_bytes=1, segment_max_age_seconds=3600)
    assert {known.id for known in restarted.open()} == {"a", "b", "c", "d", "e"}
    restarted.close()


def test_the_stream_is_not_selected_by_default():
    [stream] = [s for s in catalog_selecting([])["streams"] if s["tap_stream_id"] == STREAM]
    [root] = [entry["metadata"] for entry in stream["metadata"] if entry["breadcrumb"] == []]
    assert root["selected-by-default"] is False
    assert root["replication-key"] == "spool_position"


def test_selected_without_a_spool_directory_is_a_clear_error(tmp_path: Path):
    run = run_tap(tmp_path, tap_config(tmp_path / "missing"), [STREAM])
    assert run.returncode != 0
    assert "webhook_spool_dir" in run.stderr
    assert "is not a directory" in run.stderr


def test_start_date_does_not_apply_to_the_spool(tmp_path: Path):
    """Prod settings carry `start_date`; the SDK offers it to a stream without a
    bookmark, but a time is no spool position: the stream reads the spool as without it."""
    spool = tmp_path / "spool"
    writer = _one_record_per_segment(spool)
    _store(writer, "a", "b")
    config = {**tap_config(spool), "start_date": "2024-01-01T00:00:00Z"}
    first = run_tap(tmp_path / "runs", config, [STREAM])
    assert first.returncode == 0, first.stderr[-3000:]
    assert _ids(first) == ["a", "b"]

    _store(writer, "c")
    second = run_tap(tmp_path / "runs", config, [STREAM], state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _ids(second) == ["c"]  # the bookmark, not the start date, is where it resumes
    writer.close()


def test_connection_test_passes_without_a_spool_directory(tmp_path: Path, intercom_sandbox):
    """`--test` selects every stream, this one too: with no spool set it has nothing to
    test, and the other streams' test decides the exit status."""
    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps(sandbox_tap_config(intercom_sandbox)))
    result = subprocess.run(
        [TAP, "--config", str(config_path), "--test"], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    streams = {
        json.loads(line)["stream"] for line in result.stdout.splitlines() if '"RECORD"' in line
    }
    assert "contacts" in streams  # the API streams were tested
    assert STREAM not in streams
