"""The spool: checksummed lines in rotated segments, torn tails, removal of read segments."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tap_intercom.webhooks.spool import (
    REMOVED_IDS_FILE,
    SpoolError,
    SpoolPosition,
    SpoolWriter,
    encode_record,
    envelope,
    list_segments,
    read_removed_ids,
    read_spool,
    remove_consumed,
    segment_path,
    utc_now,
)

from testbed.webhooks import make_notification, stored_ids


def _writer(spool: Path, **limits) -> SpoolWriter:
    settings = {"segment_max_bytes": 1 << 20, "segment_max_age_seconds": 3600.0, **limits}
    return SpoolWriter(spool, **settings)


def _records(*ids: str) -> list[bytes]:
    return [encode_record(envelope(make_notification(i), utc_now())) for i in ids]


def test_records_read_back_in_order_and_from_a_position(tmp_path: Path):
    writer = _writer(tmp_path)
    writer.open()
    writer.append(_records("a", "b"))
    writer.append(_records("c"))
    read = list(read_spool(tmp_path))
    assert [stored["notification"]["id"] for _, stored in read] == ["a", "b", "c"]
    assert read[0][1]["notification"] == make_notification("a")
    positions = [position for position, _ in read]
    assert positions == sorted(positions)
    assert [str(p) for p in positions] == sorted(str(p) for p in positions)
    assert SpoolPosition.parse(str(positions[1])) == positions[1]
    after_first = [stored["notification"]["id"] for _, stored in read_spool(tmp_path, positions[0])]
    assert after_first == ["b", "c"]
    writer.close()


def test_a_reader_stops_before_a_record_still_being_written(tmp_path: Path):
    writer = _writer(tmp_path)
    writer.open()
    writer.append(_records("a"))
    path = segment_path(tmp_path, writer.segment)
    half = _records("b")[0]
    with open(path, "ab") as segment:
        segment.write(half[:20])
    assert stored_ids(tmp_path) == ["a"]
    with open(path, "ab") as segment:
        segment.write(half[20:])
    assert stored_ids(tmp_path) == ["a", "b"]
    writer.close()


def test_a_torn_tail_is_cut_at_open_and_writing_goes_on_in_a_new_segment(tmp_path: Path):
    writer = _writer(tmp_path)
    writer.open()
    writer.append(_records("a"))
    torn_segment = writer.segment
    path = segment_path(tmp_path, torn_segment)
    intact_size = path.stat().st_size
    with open(path, "ab") as segment:
        segment.write(_records("torn")[0][:30])
    writer.close()

    reopened = _writer(tmp_path)
    known = reopened.open()
    assert [entry.id for entry in known] == ["a"]
    assert path.stat().st_size == intact_size
    assert reopened.segment > torn_segment
    reopened.append(_records("b"))
    assert stored_ids(tmp_path) == ["a", "b"]
    reopened.close()


def test_a_corrupted_record_is_an_error_naming_file_and_byte(tmp_path: Path):
    writer = _writer(tmp_path)
    writer.open()
    writer.append(_records("a", "b"))
    writer.close()
    path = segment_path(tmp_path, list_segments(tmp_path)[0])
    data = bytearray(path.read_bytes())
    second_record = data.index(b"\n") + 1
    data[second_record + 30] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(SpoolError, match=rf"{path.name} at byte {second_record}: .*checksum"):
        stored_ids(tmp_path)


def test_segments_rotate_by_size_and_by_age(tmp_path: Path):
    record_size = len(_records("s0")[0])
    by_size = _writer(tmp_path / "size", segment_max_bytes=2 * record_size)
    by_size.open()
    for i in range(6):
        by_size.append(_records(f"s{i}"))  # sealed once it holds two
    assert len(list_segments(tmp_path / "size")) == 3
    assert stored_ids(tmp_path / "size") == [f"s{i}" for i in range(6)]
    by_size.close()

    by_age = _writer(tmp_path / "age", segment_max_age_seconds=0.05)
    by_age.open()
    by_age.append(_records("a1"))
    by_age.rotate_if_due()
    assert len(list_segments(tmp_path / "age")) == 1  # not old yet
    time.sleep(0.1)
    by_age.rotate_if_due()
    assert len(list_segments(tmp_path / "age")) == 2  # sealed; the new one is empty
    by_age.rotate_if_due()
    assert len(list_segments(tmp_path / "age")) == 2  # an empty segment is never sealed
    by_age.close()


def test_one_writer_per_spool(tmp_path: Path):
    first = _writer(tmp_path)
    first.open()
    with pytest.raises(SpoolError, match="another receiver"):
        _writer(tmp_path).open()
    first.close()
    second = _writer(tmp_path)
    second.open()
    second.close()


def test_removing_read_segments_keeps_their_ids_for_the_window(tmp_path: Path):
    writer = _writer(tmp_path, segment_max_bytes=1)  # one record a segment
    writer.open()
    for notification_id in ["a", "b", "c"]:
        writer.append(_records(notification_id))
    read = list(read_spool(tmp_path))
    segments = list_segments(tmp_path)
    assert len(segments) == 3

    # A bookmark inside the second segment: only the first one is entirely before it.
    assert remove_consumed(tmp_path, SpoolPosition(segments[1], 0)) == [segments[0]]
    # The end of a sealed segment: that one is consumed too.
    assert remove_consumed(tmp_path, read[1][0]) == [segments[1]]
    # The end of the newest segment: it may still grow, so it stays.
    assert remove_consumed(tmp_path, read[2][0]) == []
    assert stored_ids(tmp_path) == ["c"]
    assert [entry.id for entry in read_removed_ids(tmp_path)] == ["a", "b"]
    writer.close()

    restarted = _writer(tmp_path)
    assert {entry.id for entry in restarted.open()} == {"a", "b", "c"}
    restarted.close()


def test_removed_ids_older_than_the_window_are_dropped(tmp_path: Path):
    writer = SpoolWriter(
        tmp_path, segment_max_bytes=1, segment_max_age_seconds=3600, dedup_window_seconds=60
    )
    writer.open()
    old = envelope(make_notification("old"), utc_now())
    old["received_at"] = "2020-01-01T00:00:00+00:00"
    writer.append([encode_record(old)])
    writer.append(_records("new"))
    writer.append(_records("newest"))
    end = list(read_spool(tmp_path))[1][0]
    assert len(remove_consumed(tmp_path, end)) == 2
    assert [entry.id for entry in read_removed_ids(tmp_path)] == ["new"]
    lines = (tmp_path / REMOVED_IDS_FILE).read_bytes().splitlines()
    assert json.loads(lines[0][9:])["id"] == "new"
    writer.close()


def test_a_malformed_position_is_named():
    with pytest.raises(ValueError, match="not a spool position: 'x:1'"):
        SpoolPosition.parse("x:1")
