"""Reading the files a BATCH message lists: singer-sdk's `jsonl` (gzip or not) and
`parquet` encodings, from `file://` URLs (absolute, or relative to the working directory
as singer-sdk reads them).

A jsonl file holds one bare record per line, exactly as the tap serialized it: its lines
are handed on as they are (and the file itself can go to the stage unchanged). Parquet
rows are encoded as JSON here, so they are checked and loaded like any record.
"""

from __future__ import annotations

import gzip
import typing as t
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import msgspec

from target_snowflake.reader import InputError

FORMATS = ("jsonl", "parquet")
GZIP_MAGIC = b"\x1f\x8b"
_encode = msgspec.json.Encoder(decimal_format="number").encode


def manifest_urls(message: t.Mapping[str, t.Any]) -> list[str]:
    """The URLs of a BATCH message's manifest (a list of strings)."""
    manifest = message.get("manifest") or []
    if not isinstance(manifest, list) or not all(isinstance(url, str) for url in manifest):
        msg = f"BATCH manifest is not a list of URLs: {manifest!r}"
        raise InputError(msg, stream=message.get("stream"))
    return manifest


def local_path(url: str, stream: str) -> Path:
    """The local file a manifest entry names (`file://` only), as an absolute path.

    `file:///abs/x.jsonl` and `file://localhost/abs/x.jsonl` are absolute. Otherwise what
    follows `file://` is a path relative to the working directory, as singer-sdk (fsspec)
    reads it: `file://tests/data/x.jsonl` is `./tests/data/x.jsonl` (the URL's host part
    is the first directory), `file://~/x.jsonl` is in the home directory.
    """
    parsed = urlparse(url)
    if parsed.scheme != "file":
        msg = f"BATCH file {url!r}: only local file:// URLs are supported"
        raise InputError(msg, stream=stream)
    relative = parsed.netloc not in ("", "localhost")
    written = parsed.netloc + parsed.path if relative else parsed.path
    path = Path(unquote(written)).expanduser().resolve()
    if not path.is_file():
        read_as = f" (read as {str(path)!r}, relative to the working directory)" if relative else ""
        msg = f"BATCH file {url!r} does not exist{read_as}"
        raise InputError(msg, stream=stream)
    return path


def file_format(message: t.Mapping[str, t.Any]) -> str:
    """The message's file format (its compression is read from each file: singer-sdk's
    jsonl encoder gzips whatever the encoding says)."""
    encoding = message.get("encoding") or {}
    name = encoding.get("format")
    if name not in FORMATS:
        msg = f"BATCH encoding format {name!r} is not supported (jsonl or parquet)"
        raise InputError(msg, stream=message.get("stream"))
    compression = encoding.get("compression")
    if compression not in (None, "none", "gzip"):
        msg = f"BATCH compression {compression!r} is not supported (gzip or none)"
        raise InputError(msg, stream=message.get("stream"))
    return str(name)  # one of FORMATS


def _unreadable(url: str, rows: int, exc: BaseException, stream: str) -> InputError:
    msg = f"BATCH file {url!r} cannot be read after row {rows}: {exc or type(exc).__name__}"
    return InputError(msg, stream=stream)


def jsonl_records(path: Path, url: str, stream: str) -> Iterator[bytes]:
    """Each non-blank line of a jsonl file (gzip or not), without its line ending. A file
    that cannot be read to its end (a truncated or corrupt gzip) stops the run naming it."""
    rows = 0
    try:
        with path.open("rb") as head:
            gzipped = head.read(2) == GZIP_MAGIC
        opened = gzip.open(path, "rb") if gzipped else path.open("rb")  # noqa: SIM115
        with opened as lines:
            for line in lines:
                record = line.rstrip(b"\r\n")
                if record.strip():
                    rows += 1
                    yield record
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise _unreadable(url, rows, exc, stream) from None


def parquet_records(path: Path, url: str, stream: str) -> Iterator[bytes]:
    """Each row of a parquet file as a JSON object."""
    try:
        import pyarrow as pa  # an optional dependency, imported when needed
        import pyarrow.parquet as pq
    except ImportError:
        msg = "parquet BATCH files need pyarrow: pip install 'intersnow-target-snowflake[parquet]'"
        raise InputError(msg, stream=stream) from None
    rows = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                rows += 1
                yield _encode(row)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(url, rows, exc, stream) from None
