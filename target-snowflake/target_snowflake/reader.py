"""Reading Singer messages line by line, and the errors that name the line.

A RECORD message is decoded only down to its envelope: the record itself stays raw JSON
(msgspec.Raw) that is validated and written to the batch file as it came, so numbers
keep every digit and no dict is built per record.
"""

from __future__ import annotations

import sys
import typing as t

import msgspec
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException
from singer_sdk.io_base import GenericSingerReader, SingerMessageType
from singer_sdk.singerlib.exceptions import InvalidInputLine
from typing_extensions import override

from target_snowflake.validation import cut_to_depth, member_text, too_deep

EMPTY = msgspec.Raw()
# How deep a message too deep to decode is read to find its type and stream
_ENVELOPE_DEPTH = 2


class Envelope(msgspec.Struct):
    """A Singer message with its record (if any) left as raw JSON."""

    type: str
    stream: str = ""
    record: msgspec.Raw = EMPTY
    version: msgspec.Raw = EMPTY
    time_extracted: msgspec.Raw = EMPTY


class InputError(Exception):
    """Bad input: the message names the line, the stream and the record's key."""

    def __init__(
        self, problem: str, *, stream: str | None = None, key: dict[str, t.Any] | None = None
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.stream = stream
        self.key = key
        self.line: int | None = None

    def at_line(self, line: int) -> InputError:
        """Attach the input line number (the SDK logs args[0])."""
        self.line = line
        self.args = (str(self),)
        return self

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.stream is not None:
            where.append(f"stream {self.stream!r}")
        if self.key is not None:
            where.append(f"key {self.key!r}")
        return f"{', '.join(where)}: {self.problem}" if where else self.problem


class RecordBeforeSchemaError(InputError, RecordsWithoutSchemaException):
    """A RECORD arrived before its stream's SCHEMA."""


class MissingKeyError(InputError, MissingKeyPropertiesError):
    """A record lacks a key property (or it is null)."""


class InvalidRecordError(InputError):
    """A record fails its stream's schema, or cannot be loaded."""


_decode_envelope = msgspec.json.Decoder(Envelope).decode
_decode_message = msgspec.json.Decoder().decode


def _deep_envelope(line: bytes) -> Envelope:
    """The envelope of a message nested too deep for the decoder (RecursionError), read
    from its shallow part; a RECORD keeps its record's text as received, so the error
    can name its key and quarantine can keep it."""
    envelope = _decode_envelope(cut_to_depth(line, _ENVELOPE_DEPTH)[0])
    record = member_text(line, b'"record"')
    if envelope.type == "RECORD" and record is not None:
        envelope.record = msgspec.Raw(record)
    return envelope


class SingerLineReader(GenericSingerReader[bytes]):
    """Reads stdin as bytes; counts lines so that every input error names its line.

    `before_first_line`, if set, runs before any input is read (the target logs in and
    runs its preflight there, so a missing grant stops the run before it reads a line).
    """

    before_first_line: t.Callable[[], None] | None = None

    line_number = 0  # of the message being handled (1-based)

    @property
    @override
    def default_input(self) -> t.IO[bytes]:
        """Standard input as bytes."""
        return sys.stdin.buffer

    @override
    def deserialize_json(self, line: bytes) -> dict[str, t.Any]:
        """Decode one whole message."""
        message: dict[str, t.Any] = _decode_message(line)
        return message

    @override
    def process_lines(
        self,
        file_input: t.IO[bytes] | None,
        callbacks: dict[str, t.Callable[[t.Any], None]],
    ) -> t.Counter[str]:
        """Dispatch every line: RECORD as an Envelope, other messages as dicts."""
        if self.before_first_line is not None:
            self.before_first_line()
        counts: dict[str, int] = dict.fromkeys(SingerMessageType, 0)
        on_record = callbacks[SingerMessageType.RECORD]
        line_number = 0
        try:
            for line_number, line in enumerate(file_input or self.default_input, 1):
                self.line_number = line_number
                try:
                    envelope = _decode_envelope(line)
                except msgspec.DecodeError as exc:
                    if not line.strip():
                        continue
                    msg = f"malformed JSON ({exc})"
                    raise InputError(msg) from None
                except RecursionError:
                    envelope = _deep_envelope(line)
                kind = envelope.type
                if kind == "RECORD":
                    on_record(envelope)
                elif callback := callbacks.get(kind):
                    try:
                        message = _decode_message(line)
                    except RecursionError:
                        msg = f"{kind} message: {too_deep(line)}"
                        raise InputError(msg, stream=envelope.stream or None) from None
                    callback(message)
                else:
                    msg = f"unknown message type {kind!r}"
                    raise InputError(msg)
                counts[kind] += 1
        except InputError as exc:
            raise exc.at_line(line_number) from exc.__cause__
        except (InvalidInputLine, RecordsWithoutSchemaException) as exc:
            raise InputError(str(exc)).at_line(line_number) from exc
        return t.Counter(counts)
