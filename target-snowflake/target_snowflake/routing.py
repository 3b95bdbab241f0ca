"""Which sinks a stream's records go to, and handing each record to them: as received
(raw JSON), or through the stream map (stream maps, flattening); a record that fails its
schema stops the run or is quarantined (`on_invalid_record`).

The router tells the target when a sink's batch starts (its first record is held
uncommitted) and when it is full (to be loaded): what STATE may go out is the target's.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import msgspec
from singer_sdk.mapper import SameRecordTransform, StreamMap

from target_snowflake.reader import (
    InvalidRecordError,
    MissingKeyError,
    RecordBeforeSchemaError,
)
from target_snowflake.sink import SnowflakeSink
from target_snowflake.validation import RecordError, decode_record

if t.TYPE_CHECKING:
    from singer_sdk.sinks import Sink

_encode = msgspec.json.Encoder(decimal_format="number").encode

# A stream's sinks, each with the stream map its records go through (None: as received).
Route = list[tuple[SnowflakeSink, StreamMap | None]]


class RecordRouter:
    """The routes of the streams with a SCHEMA so far, and the hand-over of records."""

    def __init__(
        self,
        *,
        quarantine: bool,
        line_number: Callable[[], int],
        batch_started: Callable[[SnowflakeSink, int], None],
        batch_full: Callable[[SnowflakeSink], None],
    ) -> None:
        self.quarantine = quarantine  # on_invalid_record: quarantine (else fail)
        self._line_number = line_number  # of the input message being handled
        self._batch_started = batch_started  # (sink, position of its first record)
        self._batch_full = batch_full
        self._routes: dict[str, Route] = {}

    def set_route(
        self, stream: str, stream_maps: list[StreamMap], sink: Callable[[str], Sink]
    ) -> None:
        """After a SCHEMA message: the stream's records go to the sinks of its maps
        (`sink`: the active sink of a stream map's alias)."""
        self._routes[stream] = [
            (
                t.cast("SnowflakeSink", sink(stream_map.stream_alias)),
                None
                if type(stream_map) is SameRecordTransform
                and not stream_map.flattening_enabled
                and stream_map.stream_alias == stream
                else stream_map,
            )
            for stream_map in stream_maps
        ]

    def route(self, stream: str, kind: str) -> Route:
        """The stream's route; a `kind` message (RECORD, BATCH) before its SCHEMA stops
        the run."""
        route = self._routes.get(stream)
        if route is None:
            msg = f"{kind} before the stream's SCHEMA"
            raise RecordBeforeSchemaError(msg, stream=stream)
        return route

    def write(
        self,
        sink: SnowflakeSink,
        stream_map: StreamMap | None,
        received: bytes,
        version: bytes,
        time_extracted: bytes,
        position: int,
        batch_file: str | None = None,
        batch_row: int | None = None,
    ) -> None:
        """Hand one record (raw JSON as received; `version` and `time_extracted` the
        message's, raw, empty when absent) to its sink, through the stream map if
        any, or quarantine it; say when the sink's batch starts or is full."""
        try:
            raw = received
            if stream_map is not None:  # stream maps or flattening: transform a dict
                transformed = stream_map.transform(decode_record(received, sink.key_properties))
                if transformed is None:
                    return
                raw = _encode(transformed)
            sink.write(raw, version, time_extracted)
        except RecordError as exc:
            self.refuse(sink, exc, received, batch_file, batch_row)
        if sink.current_size == 1:
            self._batch_started(sink, position)
        elif sink.current_size >= sink.max_size:
            self._batch_full(sink)

    def refuse(
        self,
        sink: SnowflakeSink,
        exc: RecordError,
        received: bytes,
        batch_file: str | None,
        batch_row: int | None,
    ) -> None:
        """Stop naming the record (`fail`), or quarantine it as it was received."""
        error = MissingKeyError if exc.missing_key else InvalidRecordError
        where = f"{batch_file} row {batch_row}: " if batch_file else ""
        problem = error(f"{where}{exc}", stream=sink.stream_name, key=exc.key)
        if not self.quarantine:
            raise problem from None
        try:
            sink.quarantine(
                received,
                str(problem),
                line=self._line_number(),
                batch_file=batch_file,
                batch_row=batch_row,
            )
        except RecordError as refused:
            msg = f"{where}{exc}; {refused}"
            raise error(msg, stream=sink.stream_name, key=exc.key) from None
