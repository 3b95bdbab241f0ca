"""Records that fail their schema, kept with `on_invalid_record: quarantine`.

Each quarantined record becomes one row of the stream's side table `<TABLE>#QUARANTINE`:
the record exactly as received (RAW, the JSON text), why it was refused (ERROR), where it
was (STREAM, LINE of the input; BATCH_FILE and BATCH_ROW for records of a BATCH message)
and when (RECEIVED_AT). Rows are written to a gzip JSON-lines file as they come and loaded
with the stream's batch, so a STATE after them goes out only once they are in. The side
table's name is a generated one (`naming.generated`): its `#` marker keeps it apart from
every stream's table, `X__QUARANTINE` included.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import msgspec

from target_snowflake.batch_file import BatchFile
from target_snowflake.naming import generated, json_path
from target_snowflake.types import INTEGER, VARCHAR, SnowflakeType, from_jsonschema, from_variant

MARKER = "#QUARANTINE"
_TIMESTAMP = from_jsonschema({"type": "string", "format": "date-time"}, "TZ")

# column -> (type, key of the staged JSON line)
COLUMNS: dict[str, tuple[SnowflakeType, str]] = {
    "STREAM": (VARCHAR, "stream"),
    "LINE": (INTEGER, "line"),
    "BATCH_FILE": (VARCHAR, "file"),
    "BATCH_ROW": (INTEGER, "row"),
    "ERROR": (VARCHAR, "error"),
    "RAW": (VARCHAR, "raw"),
    "RECEIVED_AT": (_TIMESTAMP, "at"),
}


def table_name(table: str) -> str:
    """The side table of a (normalized) table name, within Snowflake's identifier limit."""
    return generated(table, MARKER)


def values() -> list[tuple[str, str]]:
    """(column, SQL over the staged VARIANT V) for loading the side table."""
    return [
        (column, from_variant(json_path("V", key), kind)) for column, (kind, key) in COLUMNS.items()
    ]


class QuarantineFile:
    """The quarantined records of one stream's batch, as staged JSON lines."""

    def __init__(self, directory: Path, stream: str) -> None:
        self._file = BatchFile(directory)
        self._stream = stream
        self.first_error = ""

    @property
    def rows(self) -> int:
        """Records quarantined in this file."""
        return self._file.rows

    def add(
        self,
        raw: bytes,
        error: str,
        *,
        line: int | None,
        batch_file: str | None = None,
        batch_row: int | None = None,
    ) -> None:
        """Keep one refused record (its raw JSON text, unchanged) with its error."""
        if not self.first_error:
            self.first_error = error
        document = {
            "stream": self._stream,
            "line": line,
            "file": batch_file,
            "row": batch_row,
            "error": error,
            "raw": raw.decode(),
            "at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        self._file.append(msgspec.json.encode(document) + b"\n")

    def close(self) -> Path:
        """Finish the file for upload."""
        return self._file.close()

    def remove(self) -> None:
        """Delete the local file."""
        self._file.remove()
