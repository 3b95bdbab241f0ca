"""One stream's batches: records checked and written to a gzip file as they arrive; at
flush, PUT to the stage, COPY into a temporary table, then MERGE (or INSERT) into the
target table, deletes included. Every load statement lives here.
"""

from __future__ import annotations

import datetime
import time
import typing as t
import uuid
from dataclasses import dataclass

import msgspec
from singer_sdk.sinks import BatchSink

from target_snowflake.batch_file import BatchFile
from target_snowflake.naming import column_names, json_path, quote, sql_string
from target_snowflake.types import INTEGER, SnowflakeType, from_jsonschema, from_variant
from target_snowflake.validation import RecordError, RecordValidator

if t.TYPE_CHECKING:
    from target_snowflake.target import TargetSnowflake

# Snowflake's limit for one VARCHAR/VARIANT value, and for one JSON document in COPY.
MAX_VALUE_BYTES = 16 * 1024 * 1024
DELETED_AT = "_sdc_deleted_at"
SEQUENCE_ALIAS = '"_load_seq"'  # lower case: no normalized column can be named so
LOAD_METHODS = ("upsert", "append-only", "overwrite")


@dataclass(frozen=True)
class Column:
    """A target column and where its value comes from in the staged JSON line."""

    name: str
    wanted: SnowflakeType
    source: str  # SQL over the temporary table's VARIANT column V


# Stands for "when the batch's first record arrived", filled in per batch by `_value`.
BATCH_RECEIVED_AT = "<batch received at>"


class SnowflakeSink(BatchSink):
    """Loads one stream's records into its table, one batch file at a time."""

    def __init__(
        self,
        target: TargetSnowflake,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._target = target
        self._file: BatchFile | None = None
        self._file_started = datetime.datetime.now(datetime.UTC)
        self.first_pending = 0  # index (in the whole input) of the batch's first record
        self._sequence = time.time_ns() // 1000  # increases across batches and runs
        self._versioned = False
        self._last_record_version: bytes = b""
        self._activated_versions: set[int] = set()
        self.load_method = self.config.get("load_method") or "upsert"
        if self.load_method not in LOAD_METHODS:
            msg = f"load_method must be one of {', '.join(LOAD_METHODS)}"
            raise ValueError(msg)

    # The SDK's jsonschema validator is replaced by RecordValidator (see validation.py).
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
            Column(names[prop], from_jsonschema(schema, timestamp_type), json_path("V", "r", prop))
            for prop, schema in properties.items()
        ]
        have = {column.name for column in columns}
        metadata: list[Column] = []
        timestamp = from_jsonschema({"type": "string", "format": "date-time"}, timestamp_type)
        if self.include_sdc_metadata_properties:
            metadata += [
                Column("_SDC_EXTRACTED_AT", timestamp, json_path("V", "e")),
                Column("_SDC_RECEIVED_AT", timestamp, BATCH_RECEIVED_AT),
                Column("_SDC_BATCHED_AT", timestamp, "CURRENT_TIMESTAMP()"),
                Column("_SDC_SEQUENCE", INTEGER, json_path("V", "q")),
                Column("_SDC_SYNC_STARTED_AT", INTEGER, str(int(self.sync_started_at))),
            ]
        if self.include_sdc_metadata_properties or self._versioned:
            metadata += [
                Column("_SDC_DELETED_AT", timestamp, json_path("V", "r", DELETED_AT)),
                Column("_SDC_TABLE_VERSION", INTEGER, json_path("V", "t")),
            ]
        return columns + [column for column in metadata if column.name not in have]

    def setup(self) -> None:
        """Create or evolve the table for this schema; compile the record validator."""
        self.table = self._target.table_for(self.stream_name)
        self._validator = RecordValidator(
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
        if "_SDC_TABLE_VERSION" in actual and not self._versioned:
            # An earlier run activated versions: keep recording them, or rows loaded now
            # would count as old at the next ACTIVATE_VERSION.
            self._versioned = True
            columns = self._columns()
            actual = self.table.ensure({column.name: column.wanted for column in columns})
        self._loaded = [(column, actual[column.name]) for column in columns]

    # Per record: the hot path

    def write(self, raw: t.Any, version: t.Any, time_extracted: t.Any) -> None:
        """Check one record's raw JSON and append it to the batch file.

        `raw`, `version` and `time_extracted` are the message's raw JSON (msgspec.Raw,
        empty when absent); the record is never decoded into a dict here.
        """
        keys = self._validator.check(raw)
        if len(raw) > MAX_VALUE_BYTES:
            raise self._oversize(raw, keys)
        self._sequence += 1
        line = b'{"q":%d' % self._sequence
        if version:
            line += b',"t":%b' % version
            self._last_record_version = bytes(version)
        if time_extracted:
            line += b',"e":%b' % time_extracted
        if self._file is None:
            self._file = BatchFile(self._target.work_dir)
            self._file_started = datetime.datetime.now(datetime.UTC)
        self._file.append(line + b',"r":%b}\n' % raw)
        self._batch_records_read += 1
        self._total_records_read += 1

    def process_record(self, record: dict, context: dict) -> None:
        """Not used: the target hands records to `write` (see TargetSnowflake)."""
        raise NotImplementedError

    def _oversize(self, raw: t.Any, keys: tuple) -> RecordError:
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

    def process_batch(self, context: dict) -> None:
        """Load the batch file; when this returns, every record in it is committed."""
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

    def _load(self, path: t.Any, rows: int) -> None:
        """PUT the file, COPY it into a VARIANT table, then apply it to the target table.

        For `overwrite` the VARIANT table is the run's (one per table): batches accumulate
        in it and `replace_table` swaps the table's contents at the end of the run.
        """
        connection = self._target.connection
        prefix = uuid.uuid4().hex
        stage = self._target.stage
        connection.execute(
            f"PUT {sql_string('file://' + str(path))} @{stage}/{prefix} AUTO_COMPRESS=FALSE"
        )
        overwrite = self.load_method == "overwrite"
        if overwrite:
            raw_table = self._target.overwrite_table(self.table)
        else:
            raw_table = quote(f"{self.table.name}__LOAD_{prefix[:12]}")
            connection.execute(f'CREATE TEMPORARY TABLE {raw_table} ("V" VARIANT)')
        try:
            # PURGE removes the staged file once loaded (REMOVE is not supported by the
            # emulator; the stage itself is temporary and goes with the session).
            result = connection.execute(
                f"COPY INTO {raw_table} FROM @{stage}/{prefix}/ "
                "FILE_FORMAT=(TYPE=JSON) ON_ERROR=ABORT_STATEMENT PURGE=TRUE"
            )
            # One row per file (file, status, rows_parsed, rows_loaded, ...); a COPY that
            # found no file answers with a one-column message row.
            loaded = sum(int(row[3]) for row in result if len(row) > 3)
            if loaded != rows:
                msg = f"stream {self.stream_name!r}: COPY loaded {loaded} of {rows} rows"
                raise RuntimeError(msg)
            if not overwrite:
                self._apply(raw_table)
        finally:
            if not overwrite:
                connection.execute(f"DROP TABLE IF EXISTS {raw_table}")
        self.logger.info(
            "%s %d rows for %s (%s)",
            "Staged" if overwrite else "Loaded",
            rows,
            self.table.qualified,
            self.load_method,
        )

    def _source(self, raw_table: str) -> str:
        """The batch as typed columns (deduplicated on the key unless append-only)."""
        select = ", ".join(
            f"{self._value(column, kind)} AS {quote(column.name)}" for column, kind in self._loaded
        )
        source = (
            f"SELECT {select}, {json_path('V', 'q')}::NUMBER AS {SEQUENCE_ALIAS} FROM {raw_table}"
        )
        if self.key_columns and self.load_method != "append-only":
            partition = ", ".join(quote(key) for key in self.key_columns)
            source = (
                f"SELECT * FROM ({source}) QUALIFY ROW_NUMBER() OVER "
                f"(PARTITION BY {partition} ORDER BY {SEQUENCE_ALIAS} DESC) = 1"
            )
        return source

    def _value(self, column: Column, kind: SnowflakeType) -> str:
        if column.source == BATCH_RECEIVED_AT:
            return f"{sql_string(self._file_started.isoformat())}::{kind.sql}"
        return from_variant(column.source, kind)

    def _insert(self, source: str) -> str:
        names = ", ".join(quote(c.name) for c, _ in self._loaded)
        values = ", ".join(f"s.{quote(c.name)}" for c, _ in self._loaded)
        return f"INSERT INTO {self.table.qualified} ({names}) SELECT {values} FROM ({source}) s"

    def _apply(self, raw_table: str) -> None:
        source = self._source(raw_table)
        if self.load_method == "append-only" or not self.key_columns:
            self._target.connection.execute(self._insert(source))
        else:
            self._target.connection.execute(self._merge(source))

    def replace_table(self, raw_table: str) -> None:
        """Overwrite: the table's rows become the run's records, in one transaction."""
        connection = self._target.connection
        with connection.transaction():
            connection.execute(f"DELETE FROM {self.table.qualified}")
            connection.execute(self._insert(self._source(raw_table)))
        connection.execute(f"DROP TABLE IF EXISTS {raw_table}")
        self.logger.info("Replaced the rows of %s (overwrite)", self.table.qualified)

    def _merge(self, source: str) -> str:
        on = " AND ".join(f"t.{quote(key)} = s.{quote(key)}" for key in self.key_columns)
        names = [c.name for c, _ in self._loaded]
        updates = ", ".join(
            f"t.{quote(name)} = s.{quote(name)}" for name in names if name not in self.key_columns
        )
        clauses = []
        deleted = "_SDC_DELETED_AT" in names
        hard_delete = self.config.get("hard_delete", False)
        if deleted and hard_delete:
            clauses.append('WHEN MATCHED AND s."_SDC_DELETED_AT" IS NOT NULL THEN DELETE')
        elif deleted:  # soft delete: keep the row's data, mark it deleted
            clauses.append(
                'WHEN MATCHED AND s."_SDC_DELETED_AT" IS NOT NULL '
                'THEN UPDATE SET t."_SDC_DELETED_AT" = s."_SDC_DELETED_AT"'
            )
        if updates:
            clauses.append(f"WHEN MATCHED THEN UPDATE SET {updates}")
        insert_when = ' AND s."_SDC_DELETED_AT" IS NULL' if deleted and hard_delete else ""
        clauses.append(
            f"WHEN NOT MATCHED{insert_when} THEN INSERT ({', '.join(quote(n) for n in names)}) "
            f"VALUES ({', '.join('s.' + quote(n) for n in names)})"
        )
        return f"MERGE INTO {self.table.qualified} t USING ({source}) s ON {on} " + " ".join(
            clauses
        )

    # Deletes of whole versions

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
        old = f'"_SDC_TABLE_VERSION" IS NULL OR "_SDC_TABLE_VERSION" < {int(new_version)}'
        connection = self._target.connection
        if self.config.get("hard_delete", False):
            connection.execute(f"DELETE FROM {self.table.qualified} WHERE {old}")
        else:
            connection.execute(
                f'UPDATE {self.table.qualified} SET "_SDC_DELETED_AT" = CURRENT_TIMESTAMP() '
                f'WHERE ({old}) AND "_SDC_DELETED_AT" IS NULL'
            )
        self.logger.info("Activated version %d of %s", new_version, self.table.qualified)

    def clean_up(self) -> None:
        """Remove a batch file left by a failed load."""
        if self._file is not None:
            self._file.remove()
            self._file = None
        super().clean_up()
