"""Reading the files a BATCH message lists: singer-sdk's `jsonl` (gzip or not) and
`parquet` encodings, from `file://` URLs.

A jsonl file holds one bare record per line, exactly as the tap serialized it: its lines
are handed on as they are (and the file itself can go to the stage unchanged). Parquet
rows are encoded as JSON here, so they are checked and loaded like any record.
"""

from __future__ import annotations

import gzip
import typing as t
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import msgspec

from target_snowflake.reader import InputError

FORMATS = ("jsonl", "parquet")
GZIP_MAGIC = b"\x1f\x8b"
_encode = msgspec.json.Encoder(decimal_format="number").encode


def local_path(url: str, stream: str) -> Path:
    """The local file a manifest entry names (`file://` only)."""
    parsed = urlparse(url)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        msg = f"BATCH file {url!r}: only local file:// URLs are supported"
        raise InputError(msg, stream=stream)
    path = Path(unquote(parsed.path))
    if not path.is_file():
        msg = f"BATCH file {url!r} does not exist"
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


def jsonl_records(path: Path) -> Iterator[bytes]:
    """Each non-blank line of a jsonl file (gzip or not), without its line ending."""
    with path.open("rb") as head:
        gzipped = head.read(2) == GZIP_MAGIC
    opened = gzip.open(path, "rb") if gzipped else path.open("rb")  # noqa: SIM115 (with below)
    with opened as lines:
        for line in lines:
            record = line.rstrip(b"\r\n")
            if record.strip():
                yield record


def parquet_records(path: Path, stream: str) -> Iterator[bytes]:
    """Each row of a parquet file as a JSON object."""
    try:
        import pyarrow.parquet as pq  # an optional dependency, imported when needed
    except ImportError:
        msg = "parquet BATCH files need pyarrow: pip install 'intersnow-target-snowflake[parquet]'"
        raise InputError(msg, stream=stream) from None
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            yield _encode(row)
