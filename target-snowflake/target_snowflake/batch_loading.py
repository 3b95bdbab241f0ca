"""Loading the files a BATCH message lists with the guarantees of RECORD messages: every
record checked, the last of a key winning, invalid ones refused or quarantined, and no
STATE out before the file is committed.

A jsonl file whose records all pass, with no key repeated within it, is staged unchanged
(`SnowflakeSink.load_as_is`); any other file is handed to the sink record by record, like
RECORD messages. Reading the files is `batch_messages`.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from decimal import Decimal

import msgspec

from target_snowflake import batch_messages
from target_snowflake.reader import InputError
from target_snowflake.validation import RecordError

if t.TYPE_CHECKING:
    from pathlib import Path

    from singer_sdk.mapper import StreamMap

    from target_snowflake.routing import RecordRouter
    from target_snowflake.sink import SnowflakeSink


class _MalformedRow(Exception):
    """A line of a BATCH file that is no JSON (its position: `row`)."""

    def __init__(self, row: int) -> None:
        super().__init__(row)
        self.row = row


def _comparable(keys: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
    """Key values as Snowflake may compare them once cast: 1, 1.0 and "1" alike."""
    return tuple(
        format(Decimal(str(value)).normalize(), "f")
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
        for value in keys
    )


class BatchLoader:
    """Loads BATCH messages through the router's sinks; the target says where records
    are counted (`next_position`), how a sink is loaded (`drain`) and when STATE may be
    checked again (`committed`)."""

    def __init__(
        self,
        router: RecordRouter,
        *,
        next_position: Callable[[], int],
        drain: Callable[[SnowflakeSink], None],
        committed: Callable[[], None],
    ) -> None:
        self._router = router
        self._next_position = next_position
        self._drain = drain
        self._committed = committed

    def load(self, message: dict[str, t.Any]) -> None:
        """Load every file of one BATCH message, into every sink of its stream."""
        stream = message.get("stream", "")
        route = self._router.route(stream, "BATCH")
        file_format = batch_messages.file_format(message)
        for url in batch_messages.manifest_urls(message):
            path = batch_messages.local_path(url, stream)
            for sink, stream_map in route:
                try:
                    as_is = file_format == "jsonl" and stream_map is None
                    if not (as_is and self._load_as_is(sink, path, url)):
                        self._write_file(sink, stream_map, path, url, file_format)
                except _MalformedRow as exc:
                    msg = f"{url} row {exc.row}: malformed JSON ({exc.__cause__})"
                    raise InputError(msg, stream=stream) from None

    def _load_as_is(self, sink: SnowflakeSink, path: Path, url: str) -> bool:
        """Check every record of a jsonl file, then stage the file unchanged. False (and
        nothing done) where that cannot keep the guarantees: an `overwrite` stream, a key
        repeated within the file (the last must win: that needs the load sequence), or an
        invalid record to quarantine."""
        if sink.load_method == "overwrite":
            return False
        dedupe = bool(sink.key_columns) and sink.load_method != "append-only"
        seen: set[tuple[t.Any, ...]] = set()
        rows = 0
        for row, raw in enumerate(batch_messages.jsonl_records(path, url, sink.stream_name), 1):
            try:
                keys = sink.check(raw)
            except msgspec.DecodeError as exc:
                raise _MalformedRow(row) from exc
            except RecordError as exc:
                if self._router.quarantine:
                    return False
                self._router.refuse(sink, exc, raw, url, row)
            if dedupe:
                key = _comparable(keys)
                if key in seen:
                    return False
                seen.add(key)
            rows += 1
        if rows:
            self._drain(sink)  # records before the file are committed before it
            sink.load_as_is(path, rows)
            self._committed()
        return True

    def _write_file(
        self,
        sink: SnowflakeSink,
        stream_map: StreamMap | None,
        path: Path,
        url: str,
        file_format: str,
    ) -> None:
        """Hand every record of a BATCH file to the sink one by one, like RECORD messages."""
        if file_format == "parquet":
            records = batch_messages.parquet_records(path, url, sink.stream_name)
        else:
            records = batch_messages.jsonl_records(path, url, sink.stream_name)
        version = sink.open_version
        for row, received in enumerate(records, 1):
            position = self._next_position()
            try:
                self._router.write(sink, stream_map, received, version, b"", position, url, row)
            except msgspec.DecodeError as exc:
                raise _MalformedRow(row) from exc
