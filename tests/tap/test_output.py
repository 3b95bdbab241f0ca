"""RECORD lines written in blocks, every other message at once and after them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from singer_sdk import Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage
from tap_intercom.output import FLUSH_BYTES, FLUSH_SECONDS, BlockRecordWriter
from tap_intercom.tap import TapIntercom

CONFIG = {"access_token": "tap-token", "api_url": "http://127.0.0.1:9"}
EXTRACTED = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)


def _record(n: int, text: str = "") -> RecordMessage:
    return RecordMessage(
        stream="contacts", record={"id": f"{n:04d}", "name": text}, time_extracted=EXTRACTED
    )


def _sdk_lines(*messages: object) -> bytes:
    """What the SDK's own msgspec writer writes for `messages`."""
    writer = MsgSpecWriter()
    return b"".join(bytes(writer.format_message(message)) for message in messages)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def writer() -> BlockRecordWriter:
    writer = BlockRecordWriter()
    writer.clock = FakeClock()
    return writer


def test_records_wait_and_go_out_before_the_next_state_as_the_sdk_writes_them(
    writer: BlockRecordWriter, capsysbinary: pytest.CaptureFixture[bytes]
):
    records = [_record(n) for n in range(3)]
    for record in records:
        writer.write_message(record)
    assert capsysbinary.readouterr().out == b""
    state = StateMessage(value={"bookmarks": {"contacts": {"replication_key_value": 3}}})
    writer.write_message(state)
    assert capsysbinary.readouterr().out == _sdk_lines(*records, state)


def test_a_schema_goes_out_at_once_after_the_records_before_it(
    writer: BlockRecordWriter, capsysbinary: pytest.CaptureFixture[bytes]
):
    record = _record(1)
    schema = SchemaMessage(stream="contacts", schema={"type": "object"}, key_properties=["id"])
    writer.write_message(record)
    writer.write_message(schema)
    assert capsysbinary.readouterr().out == _sdk_lines(record, schema)


def test_a_full_block_is_written(
    writer: BlockRecordWriter, capsysbinary: pytest.CaptureFixture[bytes]
):
    line = len(_sdk_lines(_record(0, "x" * 1_000)))
    assert FLUSH_BYTES % line
    records = [_record(n, "x" * 1_000) for n in range(FLUSH_BYTES // line + 1)]
    for record in records[:-1]:
        writer.write_message(record)
    assert capsysbinary.readouterr().out == b""
    writer.write_message(records[-1])
    assert capsysbinary.readouterr().out == _sdk_lines(*records)


def test_a_record_waits_at_most_flush_seconds(
    writer: BlockRecordWriter, capsysbinary: pytest.CaptureFixture[bytes]
):
    clock = writer.clock
    assert isinstance(clock, FakeClock)
    first, second = _record(1), _record(2)
    writer.write_message(first)
    clock.now += FLUSH_SECONDS / 2
    assert capsysbinary.readouterr().out == b""
    clock.now += FLUSH_SECONDS / 2
    writer.write_message(second)
    assert capsysbinary.readouterr().out == _sdk_lines(first, second)


def test_the_tap_writes_the_records_after_its_last_state_also_when_a_stream_fails(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
):
    record = _record(1)

    def sdk_sync_all(tap: Tap) -> None:
        tap.write_message(record)
        raise RuntimeError("a stream failed")

    monkeypatch.setattr(Tap, "sync_all", sdk_sync_all)
    tap = TapIntercom(config=CONFIG)
    assert isinstance(tap.message_writer, BlockRecordWriter)
    with pytest.raises(RuntimeError, match="a stream failed"):
        tap.sync_all()
    assert capsysbinary.readouterr().out == _sdk_lines(record)


def test_records_still_waiting_are_written_when_the_process_exits():
    # What a dry run (`--test`) or a failure outside `sync_all` leaves in the block.
    program = (
        "from datetime import UTC, datetime\n"
        "from singer_sdk.singerlib import RecordMessage\n"
        "from tap_intercom.output import BlockRecordWriter\n"
        "BlockRecordWriter().write_message(RecordMessage(stream='contacts', "
        "record={'id': '1'}, time_extracted=datetime(2026, 12, 2, tzinfo=UTC)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, check=True, timeout=60
    )
    expected = _sdk_lines(
        RecordMessage(
            stream="contacts", record={"id": "1"}, time_extracted=datetime(2026, 12, 2, tzinfo=UTC)
        )
    )
    assert result.stdout == expected
