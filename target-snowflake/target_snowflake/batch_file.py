"""The local file a batch's records go to as they arrive: gzip JSON lines, each a record
wrapped with what the load needs beside it (`LineField`).

Records are never held in memory as a batch; a small buffer is compressed in chunks.
Compression level 1: the file only crosses loopback or one upload, so CPU matters more
than bytes.
"""

from __future__ import annotations

import gzip
import uuid
from enum import StrEnum
from pathlib import Path

_CHUNK = 1 << 20


class LineField(StrEnum):
    """The members of a batch file's line (`SnowflakeSink.write`), one letter each to keep
    the staged bytes small; a column's value comes from one of them."""

    SEQUENCE = "q"  # the load sequence: of two records with one key, the higher wins
    TABLE_VERSION = "t"  # the message's `version` (absent when it has none)
    EXTRACTED_AT = "e"  # the message's `time_extracted` (absent when it has none)
    RECORD = "r"  # the record, as received


class BatchFile:
    """An append-only gzip JSON-lines file; `rows` counts the lines written."""

    def __init__(self, directory: Path, compresslevel: int = 1) -> None:
        self.path = directory / f"{uuid.uuid4().hex}.json.gz"
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._gzip = gzip.GzipFile(
            filename="", fileobj=self._file, mode="wb", compresslevel=compresslevel, mtime=0
        )
        self._buffer = bytearray()
        self.rows = 0

    def append(self, line: bytes) -> None:
        """Add one line (it must end with a newline)."""
        self._buffer += line
        self.rows += 1
        if len(self._buffer) >= _CHUNK:
            self._gzip.write(self._buffer)
            self._buffer.clear()

    def close(self) -> Path:
        """Finish the gzip stream; the file is then ready to upload."""
        if not self._file.closed:
            self._gzip.write(self._buffer)
            self._buffer.clear()
            self._gzip.close()
            self._file.close()
        return self.path

    def remove(self) -> None:
        """Delete the file (closing it first if needed)."""
        self.close()
        self.path.unlink(missing_ok=True)
