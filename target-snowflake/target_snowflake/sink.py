"""One stream's batches: records checked and written to a gzip file as they arrive; at
flush, staged (PUT, or an upload to S3: `stages`), COPY into a temporary table, then MERGE
(or INSERT) into the target table, deletes included. The statements' text comes from
`statements`; the connection, stage and work directory from the `LoadSession` the target
hands over.
"""

from __future__ import annotations

import datetime
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import msgspec
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from target_snowflake import quarantine, statements
from target_snowflake.batch_file import BatchFile, LineField
from target_snowflake.naming import column_names, generated, json_path, quote, sql_string
from target_snowflake.quarantine import QuarantineFile
from target_snowflake.statements import DELETED_AT_COLUMN, TABLE_VERSION_COLUMN
from target_snowflake.types import (
    DOUBLE_TEXT_LENGTH,
    INTEGER,
    MAX_VARCHAR_LENGTH,
    SnowflakeType,
    from_jsonschema,
    from_variant,
    number_fits,
    roomier_number,
    text_length,
)
from target_snowflake.validation import RecordError, RecordValidator

if t.TYPE_CHECKING:
    from singer_sdk.target_base import Target

    from target_snowflake.load_session import LoadSession
    from target_snowflake.stages import StagedFile
    from target_snowflake.tables import Table

# Snowflake's limit for one VARCHAR/VARIANT value and one JSON document in COPY: 128 MiB
# since the 2024_08 behaviour change (VARCHAR columns the target creates are declared long
# enough to hold it: types.MAX_VARCHAR_LENGTH).
MAX_VALUE_BYTES = 128 * 1024 * 1024
_ABSENT = msgspec.Raw(b"null")


def _values_of(properties: t.Sequence[str]) -> t.Callable[[bytes], t.Sequence[msgspec.Raw]]:
    """A reader of the properties' values (raw JSON, `null` if absent) from a record's
    raw JSON: through a struct of just those properties, which skips the others without
    building them, or a dict where msgspec refuses a name (`"`, `\\`, control characters)."""
    fields = [(f"v{i}", msgspec.Raw, _ABSENT) for i in range(len(properties))]
    renamed = {f"v{i}": prop for i, prop in enumerate(properties)}
    try:
        struct = msgspec.defstruct("Values", fields, rename=renamed)
    except ValueError:
        every = msgspec.json.Decoder(dict[str, msgspec.Raw])

        def from_dict(raw: bytes) -> list[msgspec.Raw]:
            values = every.decode(raw)
            return [values.get(prop, _ABSENT) for prop in properties]

        return from_dict
    decoder = msgspec.json.Decoder(struct)
    return lambda raw: msgspec.structs.astuple(decoder.decode(raw))


DELETED_AT = "_sdc_deleted_at"
LOAD_METHODS = ("upsert", "append-only", "overwrite")

# A batch file's line, in parts (`write`): {"q":<sequence>[,"t":<version>][,"e":<time
# extracted>],"r":<record>}
_LINE_START = b'{"%b":%%d' % LineField.SEQUENCE.encode()
_LINE_VERSION = b',"%b":%%b' % LineField.TABLE_VERSION.encode()
_LINE_EXTRACTED_AT = b',"%b":%%b' % LineField.EXTRACTED_AT.encode()
_LINE_END = b',"%b":%%b}\n' % LineField.RECORD.encode()


@dataclass(frozen=True)
class Column:
    """A target column and where its value comes from: a member of the batch file's line
    (`source`; for the record, its property `prop`), or else the SQL in `sql`."""

    name: str
    wanted: SnowflakeType
    source: LineField | None = None
    prop: str = ""
    sql: str = ""

    @property
    def path(self) -> tuple[str, ...]:
        """The keys of the value in the line (empty: the value is `sql`)."""
        if self.source is None:
            return ()
        return (self.source, self.prop) if self.source is LineField.RECORD else (self.source,)


@dataclass(frozen=True)
class BareFile:
    """A file of bare records (a BATCH message's JSON lines, staged as they are): no
    wrapper, so the sequence and the table version are the same for every row."""

    sequence: int
    version: int | None


# Stands for "when the batch's first record arrived", filled in per batch by `_value`.
BATCH_RECEIVED_AT = "<batch received at>"


class SnowflakeSink(BatchSink):
    """Loads one stream's records into its table, one batch file at a time.

    The SDK builds sinks from the class `get_sink_class` returns, with its own four
    arguments only: the target hands the run's load session over on a subclass made for
    the run (`for_run`), so the sink never sees the target itself.
    """

    load_session: t.ClassVar[LoadSession]

    @classmethod
    def for_run(cls, session: LoadSession) -> type[SnowflakeSink]:
        """This class, bound to the run's load session: the class the target's sinks are."""
        return type(cls.__name__, (cls,), {"load_session": session})

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, t.Any],
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._file: BatchFile | None = None
        self._quarantined: QuarantineFile | None = None
        self._file_started = datetime.datetime.now(datetime.UTC)
        self._sequence = time.time_ns() // 1000  # increases across batches and runs
        self._versioned = False
        self._last_record_version: bytes = b""
        self._activated_versions: set[int] = set()
        # (VARCHAR column, its declared length) for each record property loaded into one,
        # and a decoder of those properties' values (raw JSON), in the same order.
        self._text_columns: list[tuple[str, int]] = []
        self._text_values: t.Callable[[bytes], t.Sequence[msgspec.Raw]]  # set with them
        # No value this long (JSON bytes), nor a record, can be too long for its column.
        self._fits_below = MAX_VALUE_BYTES
        # VARCHAR column -> the longest value checked for it that it cannot hold.
        self._longer: dict[str, int] = {}
        # (NUMBER column, its scale, the type it needs for a value it cannot hold) for each
        # record property kept in a NUMBER column its schema allows more than (see
        # `types.widen`), and a decoder of those properties' values; None when there is none.
        self._number_columns: list[tuple[str, int, SnowflakeType]] = []
        self._number_values: t.Callable[[bytes], t.Sequence[msgspec.Raw]] | None = None
        # NUMBER column -> the type a value checked for it needs.
        self._roomier: dict[str, SnowflakeType] = {}
        self.load_method = self.config.get("load_method") or "upsert"
        if self.load_method not in LOAD_METHODS:
            msg = f"load_method must be one of {', '.join(LOAD_METHODS)}"
            raise ValueError(msg)

    # The SDK's jsonschema validator is replaced by RecordValidator (see validation.py).
    @override
    def get_validator(self) -> None:
        """No SDK validator: records are checked on the raw JSON in `write`."""
        return

    # Setup: columns and table

    def _columns(self) -> list[Column]:
        properties = dict(self.original_schema.get("properties", {}))
        for key in self.key_properties:
            properties.setdefault(key, {})
        names = column_names(properties)
        timestamp_type = self.config.get("timestamp_type") or "TZ"
        columns = [
            Column(names[prop], from_jsonschema(schema, timestamp_type), LineField.RECORD, prop)
            for prop, schema in properties.items()
        ]
        have = {column.name for column in columns}
        metadata: list[Column] = []
        timestamp = from_jsonschema({"type": "string", "format": "date-time"}, timestamp_type)
        if self.include_sdc_metadata_properties:
            metadata += [
                Column("_SDC_EXTRACTED_AT", timestamp, LineField.EXTRACTED_AT),
                Column("_SDC_RECEIVED_AT", timestamp, sql=BATCH_RECEIVED_AT),
                Column("_SDC_BATCHED_AT", timestamp, sql="CURRENT_TIMESTAMP()"),
                Column("_SDC_SEQUENCE", INTEGER, LineField.SEQUENCE),
                Column("_SDC_SYNC_STARTED_AT", INTEGER, sql=str(int(self.sync_started_at))),
            ]
        if self.include_sdc_metadata_properties or self._versioned:
            metadata += [
                Column(DELETED_AT_COLUMN, timestamp, LineField.RECORD, DELETED_AT),
                Column(TABLE_VERSION_COLUMN, INTEGER, LineField.TABLE_VERSION),
            ]
        return columns + [column for column in metadata if column.name not in have]

    @override
    def setup(self) -> None:
        """Create or evolve the table for this schema; compile the record validator."""
        self.table: Table = self.load_session.table_for(self.stream_name)
        self._record_validator = RecordValidator(
            self.original_schema,
            self.key_properties,
            validate=self.config.get("validate_records", True),
        )
        self._prepare_columns()
        names = column_names([*self.original_schema.get("properties", {}), *self.key_properties])
        self.key_columns = [names[key] for key in self.key_properties]
        if not self.key_columns and self.load_method == "upsert":
            self.load_method = "append-only"

    def _prepare_columns(self) -> None:
        columns = self._columns()
        actual = self.table.ensure({column.name: column.wanted for column in columns})
        if TABLE_VERSION_COLUMN in actual and not self._versioned:
            # An earlier run activated versions: keep recording them, or rows loaded now
            # would count as old at the next ACTIVATE_VERSION.
            self._versioned = True
            columns = self._columns()
            actual = self.table.ensure({column.name: column.wanted for column in columns})
        self._loaded = [(column, actual[column.name]) for column in columns]
        self._note_columns_to_check()

    def _note_columns_to_check(self) -> None:
        self._note_text_columns()
        self._note_number_columns()

    def _note_number_columns(self) -> None:
        """Which record properties load into a NUMBER column kept for a schema that allows
        more (a float, a larger scale): their values are checked, so that one the column
        cannot hold exactly retypes it before the batch loads, instead of being rounded."""
        kept = [
            (column.prop, column.name, kind.scale, roomier)
            for column, kind in self._loaded
            if column.source is LineField.RECORD
            and (roomier := roomier_number(kind, column.wanted)) is not None
        ]
        self._number_columns = [(name, scale, roomier) for _, name, scale, roomier in kept]
        self._number_values = _values_of([prop for prop, *_ in kept]) if kept else None

    def _note_text_columns(self) -> None:
        """Which record properties load into VARCHAR columns, and how long a record or a
        value must be for a value not to fit (a value's text has no more characters than
        its JSON has bytes, but for a number's, up to DOUBLE_TEXT_LENGTH)."""
        text = [
            (column.prop, column.name, kind.length or MAX_VARCHAR_LENGTH)
            for column, kind in self._loaded
            if kind.name == "VARCHAR" and column.source is LineField.RECORD
        ]
        self._text_columns = [(name, declared) for _, name, declared in text]
        self._text_values = _values_of([prop for prop, _, _ in text])
        shortest = min((declared for _, declared in self._text_columns), default=None)
        self._fits_below = MAX_VALUE_BYTES if shortest is None else shortest - DOUBLE_TEXT_LENGTH

    # Per record: the hot path

    def check(self, raw: bytes) -> tuple[t.Any, ...]:
        """The record's key values, if its raw JSON is a record this stream can load
        (valid against the schema, with its key, within Snowflake's size limits)."""
        keys = self._record_validator.check(raw)
        if len(raw) > self._fits_below:
            if len(raw) > MAX_VALUE_BYTES:
                raise self._oversize(raw, keys)
            self._measure_text_values(raw)
        if self._number_values is not None:
            self._check_number_values(raw, self._number_values)
        return keys

    def _check_number_values(
        self, raw: bytes, values_of: t.Callable[[bytes], t.Sequence[msgspec.Raw]]
    ) -> None:
        """Note each kept NUMBER column a value does not fit: it is retyped before the
        batch loads (`_make_room`)."""
        for (column, scale, roomier), value in zip(
            self._number_columns, values_of(raw), strict=True
        ):
            if column not in self._roomier and not number_fits(bytes(value), scale):
                self._roomier[column] = roomier

    def _measure_text_values(self, raw: bytes) -> None:
        """Note each value longer than its VARCHAR column's declared length: the column is
        lengthened before the batch loads (`_make_room`)."""
        values = self._text_values(raw)
        if max(map(len, values)) <= self._fits_below:  # each fits the shortest column
            return
        for (column, declared), value in zip(self._text_columns, values, strict=True):
            if len(value) <= declared - DOUBLE_TEXT_LENGTH:
                continue
            length = text_length(bytes(value))
            if length > max(declared, self._longer.get(column, 0)):
                self._longer[column] = length

    @property
    def open_version(self) -> bytes:
        """The table version records without one belong to (BATCH files carry none): the
        last ACTIVATE_VERSION's, as raw JSON; empty when the stream has had none."""
        return b"%d" % max(self._activated_versions) if self._activated_versions else b""

    def write(self, raw: bytes, version: bytes, time_extracted: bytes) -> None:
        """Check one record's raw JSON and append it to the batch file.

        `raw`, `version` and `time_extracted` are the message's raw JSON (msgspec.Raw from
        a RECORD message, bytes from a BATCH file; empty when absent); the record is never
        decoded into a dict here.
        """
        self.check(raw)
        self._sequence += 1
        line = _LINE_START % self._sequence
        if version:
            line += _LINE_VERSION % version
            self._last_record_version = bytes(version)
        if time_extracted:
            line += _LINE_EXTRACTED_AT % time_extracted
        if self._file is None:
            self._file = BatchFile(self.load_session.work_dir)
            self._file_started = datetime.datetime.now(datetime.UTC)
        self._file.append(line + _LINE_END % raw)
        self.tally_record_read()

    def quarantine(
        self,
        raw: bytes,
        error: str,
        *,
        line: int | None,
        batch_file: str | None = None,
        batch_row: int | None = None,
    ) -> None:
        """Keep a refused record for the side table; it counts in the batch (so a STATE
        after it waits until it is loaded)."""
        if len(raw) > MAX_VALUE_BYTES:
            msg = f"too large to quarantine (over Snowflake's {MAX_VALUE_BYTES}-byte limit)"
            raise RecordError(msg)
        if self._quarantined is None:
            self._quarantined = QuarantineFile(self.load_session.work_dir, self.stream_name)
        self._quarantined.add(
            bytes(raw), error, line=line, batch_file=batch_file, batch_row=batch_row
        )
        self.tally_record_read()

    @override
    def process_record(self, record: dict[str, t.Any], context: dict[str, t.Any]) -> None:
        """Not used: the SDK would hand every record over decoded to a dict; the target
        hands it to `write` as the raw JSON received (docs/development.md, "SDK methods
        we replace or call (target)")."""
        raise NotImplementedError

    def _oversize(self, raw: bytes, keys: tuple[t.Any, ...]) -> RecordError:
        record = msgspec.json.decode(raw)
        sizes = {name: len(msgspec.json.encode(value)) for name, value in record.items()}
        column = max(sizes, key=sizes.__getitem__)
        key = dict(zip(self.key_properties, keys, strict=True))
        if sizes[column] > MAX_VALUE_BYTES:
            msg = (
                f"column {column!r} holds {sizes[column]} bytes, over Snowflake's "
                f"{MAX_VALUE_BYTES}-byte limit for one value"
            )
        else:
            msg = (
                f"the record is {len(raw)} bytes, over Snowflake's {MAX_VALUE_BYTES}-byte limit "
                f"for one JSON document (largest column {column!r}: {sizes[column]} bytes)"
            )
        return RecordError(msg, key)

    # Flush

    @override
    def process_batch(self, context: dict[str, t.Any]) -> None:
        """Load the batch file (and the quarantined records); when this returns, every
        record in them is committed."""
        if self._quarantined is not None:
            quarantined, self._quarantined = self._quarantined, None
            try:
                self._load_quarantined(quarantined)
            finally:
                quarantined.remove()
        if self._file is None:
            return
        batch, self._file = self._file, None
        if self._last_record_version and not self._versioned:
            self._versioned = True  # records carry versions: the table must keep them
            self._prepare_columns()
        try:
            path = batch.close()
            self._load(path, batch.rows)
        finally:
            batch.remove()
        self.record_counter_metric.increment(batch.rows)

    def _copy_to_stage_table(
        self, path: Path, rows: int, variant_table: str, into: Table
    ) -> StagedFile:
        """Stage the file (`stages`: PUT, or an upload to the S3 bucket) and COPY it into
        a VARIANT table; every row must arrive. Once what the VARIANT table holds is
        committed into `into`, call the stage's `committed` (archive, removal)."""
        stage = self.load_session.stage
        staged = stage.upload(path, into.name, self.stream_name, into.execute)
        result = into.execute(
            stage.copy(variant_table, staged), "copying the batch into a temporary table"
        )
        # One row per file (file, status, rows_parsed, rows_loaded, ...); a COPY that
        # found no file answers with a one-column message row.
        loaded = sum(int(row[3]) for row in result if len(row) > 3)
        if loaded != rows:
            msg = f"{into.where()}: COPY loaded {loaded} of {rows} rows"
            raise RuntimeError(msg)
        return staged

    def _load_quarantined(self, quarantined: QuarantineFile) -> None:
        side_table = self.load_session.quarantine_table(self.table)
        variant_table = quote(generated(side_table.name, f"#LOAD_{uuid.uuid4().hex[:12]}"))
        side_table.execute(
            statements.create_variant_table(variant_table), "creating a temporary table"
        )
        try:
            staged = self._copy_to_stage_table(
                quarantined.close(), quarantined.rows, variant_table, side_table
            )
            source = statements.batch_source(quarantine.values(), variant_table, [])
            side_table.execute(
                statements.insert(side_table.qualified, list(quarantine.COLUMNS), source),
                "inserting the quarantined records",
            )
            self.load_session.stage.committed(staged, side_table.execute)
        finally:
            side_table.execute(statements.drop_table(variant_table), "dropping a temporary table")
        self.logger.warning(
            "Quarantined %d invalid records of stream %r into %s (on_invalid_record: "
            "quarantine); the first: %s",
            quarantined.rows,
            self.stream_name,
            side_table.qualified,
            quarantined.first_error,
        )

    def load_as_is(self, path: Path, rows: int) -> None:
        """Load a file of bare records (JSON lines, gzip or not) already checked with
        `check`, with keys unique within it: staged as it is, no re-encoding. The sink
        must be drained first (records before the file are committed before it)."""
        if self._file is not None or self._quarantined is not None:
            msg = f"stream {self.stream_name!r}: load_as_is with records pending"
            raise RuntimeError(msg)
        if self.load_method == "overwrite":  # its run table holds wrapped lines
            msg = f"stream {self.stream_name!r}: load_as_is cannot overwrite"
            raise RuntimeError(msg)
        version = self.open_version
        if version:
            self._last_record_version = version
        self._sequence += 1
        bare = BareFile(self._sequence, int(version) if version else None)
        self._file_started = datetime.datetime.now(datetime.UTC)
        self._load(path, rows, bare)
        self.record_counter_metric.increment(rows)

    def _load(self, path: Path, rows: int, bare: BareFile | None = None) -> None:
        """PUT the file, COPY it into a VARIANT table, then apply it to the target table.

        For `overwrite` the VARIANT table is the run's (one per table): batches accumulate
        in it and `replace_table` swaps the table's contents at the end of the run.
        """
        self._make_room()
        overwrite = self.load_method == "overwrite"
        if overwrite:
            variant_table = self.load_session.overwrite_table(self.table)
        else:
            variant_table = quote(generated(self.table.name, f"#LOAD_{uuid.uuid4().hex[:12]}"))
            self.table.execute(
                statements.create_variant_table(variant_table), "creating a temporary table"
            )
        try:
            staged = self._copy_to_stage_table(path, rows, variant_table, self.table)
            if not overwrite:
                self.table.execute(
                    self._apply_statement(variant_table, bare),
                    f"loading the batch ({self.load_method})",
                )
            # For `overwrite` the file is done with once in the run's table (a killed run
            # reloads every batch anyway: its STATE waits for the replace).
            self.load_session.stage.committed(staged, self.table.execute)
        finally:
            if not overwrite:
                self.table.execute(
                    statements.drop_table(variant_table), "dropping a temporary table"
                )
        self.logger.info(
            "%s %d rows for %s (%s)",
            "Staged" if overwrite else "Loaded",
            rows,
            self.table.qualified,
            self.load_method,
        )

    def _make_room(self) -> None:
        """Lengthen the VARCHAR columns the records checked so far hold longer values for,
        and retype the NUMBER columns they hold values for that need more (and only those:
        ALTER needs ownership of the table, which loading does not)."""
        if not self._longer and not self._roomier:
            return
        for column, longest in self._longer.items():
            self.table.lengthen(column, longest)
        for column, roomier in self._roomier.items():
            self.table.retype_column(column, self.table.columns[column], roomier)
        self._longer.clear()
        self._roomier.clear()
        self._loaded = [(column, self.table.columns[column.name]) for column, _ in self._loaded]
        self._note_columns_to_check()

    def _source(self, variant_table: str, bare: BareFile | None = None) -> str:
        """The batch as typed columns (deduplicated on the key unless append-only)."""
        values = [(column.name, self._value(column, kind, bare)) for column, kind in self._loaded]
        dedupe_on = self.key_columns if self.load_method != "append-only" else []
        sequence = json_path("V", LineField.SEQUENCE) if bare is None else str(bare.sequence)
        return statements.batch_source(values, variant_table, dedupe_on, sequence)

    def _value(self, column: Column, kind: SnowflakeType, bare: BareFile | None) -> str:
        if column.sql == BATCH_RECEIVED_AT:
            return f"{sql_string(self._file_started.isoformat())}::{kind.sql}"
        if column.source is None:
            return from_variant(column.sql, kind)
        if bare is None:
            return from_variant(json_path("V", *column.path), kind)
        if column.source is LineField.RECORD:  # the line is the record itself
            return from_variant(json_path("V", column.prop), kind)
        constant = {LineField.SEQUENCE: bare.sequence, LineField.TABLE_VERSION: bare.version}.get(
            column.source
        )
        return from_variant("NULL" if constant is None else str(constant), kind)

    @property
    def _column_names(self) -> list[str]:
        return [column.name for column, _ in self._loaded]

    def _apply_statement(self, variant_table: str, bare: BareFile | None) -> str:
        source = self._source(variant_table, bare)
        if self.load_method == "append-only" or not self.key_columns:
            return statements.insert(self.table.qualified, self._column_names, source)
        return statements.merge(
            self.table.qualified,
            self._column_names,
            self.key_columns,
            source,
            hard_delete=self.config.get("hard_delete", False),
        )

    def replace_table(self, variant_table: str) -> None:
        """Overwrite: the table's rows become the run's records, in one transaction."""
        source = self._source(variant_table)
        with self.load_session.connection.transaction():
            self.table.execute(
                statements.delete_all(self.table.qualified), "emptying the table (overwrite)"
            )
            self.table.execute(
                statements.insert(self.table.qualified, self._column_names, source),
                "refilling the table (overwrite)",
            )
        self.table.execute(statements.drop_table(variant_table), "dropping a temporary table")
        self.logger.info("Replaced the rows of %s (overwrite)", self.table.qualified)

    # Deletes of whole versions

    @override
    def activate_version(self, new_version: int) -> None:
        """Delete (or mark deleted) every row not loaded under `new_version`.

        Records are flushed before this is called. The first ACTIVATE_VERSION of a
        version that no record has carried yet only starts the version (taps send one at
        the start of a full-table sync and one at the end); rows go at the next one.
        """
        if not self._versioned:
            self._versioned = True
            self._prepare_columns()
        seen = self._last_record_version and int(self._last_record_version) == new_version
        if new_version not in self._activated_versions and not seen:
            self._activated_versions.add(new_version)
            return
        self._activated_versions.add(new_version)
        self.table.execute(
            statements.retire_old_versions(
                self.table.qualified, new_version, hard_delete=self.config.get("hard_delete", False)
            ),
            f"deleting the rows of versions before {new_version} (ACTIVATE_VERSION)",
        )
        self.logger.info("Activated version %d of %s", new_version, self.table.qualified)

    @override
    def clean_up(self) -> None:
        """Remove batch files left by a failed load."""
        if self._file is not None:
            self._file.remove()
            self._file = None
        if self._quarantined is not None:
            self._quarantined.remove()
            self._quarantined = None
        super().clean_up()
