"""The webhook spool: append-only segment files of checksummed JSON lines.

A spool directory holds:

- `<segment id>.seg`: segments. The id is a 20-digit number that only grows (the
  creation time in microseconds, or the previous id + 1); the newest segment is the
  one the receiver appends to, every older one is sealed and never changes again.
- `spool.json`: `{"format": 1, "dedup_window_seconds": N}`, written by the receiver.
- `removed-ids.log`: the ids of notifications whose segments the tap removed, kept
  for the de-duplication window so a restarted receiver still knows them.
- `.writer.lock`: the lock held by the one receiver that writes the spool.

A record is one line: `<crc32 of BODY, 8 lowercase hex digits> <BODY>\\n`, where BODY is
compact UTF-8 JSON `{"received_at": RFC 3339, "notification": {...}}` (JSON escapes
every newline inside strings, so BODY never contains one). A reader stops before a
last line without its newline: that record is still being written (or was torn by a
crash and is removed by the receiver's next start, before it writes anything new).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SEGMENT_SUFFIX = ".seg"
META_FILE = "spool.json"
REMOVED_IDS_FILE = "removed-ids.log"
LOCK_FILE = ".writer.lock"
FORMAT_VERSION = 1
DEFAULT_DEDUP_WINDOW_SECONDS = 3 * 24 * 3600
_READ_CHUNK = 1 << 20
_CRC_DIGITS = 8


class SpoolError(Exception):
    """The spool cannot be read or written as it is."""


@dataclass(frozen=True, order=True)
class SpoolPosition:
    """A place in the spool: a segment id and a byte offset inside that segment."""

    segment: int
    offset: int

    def __str__(self) -> str:
        # Zero padded so that positions compare correctly as strings (Singer bookmarks).
        return f"{self.segment:020d}:{self.offset:012d}"

    @classmethod
    def parse(cls, text: str) -> SpoolPosition:
        """Read a position written by `str()`; ValueError names a malformed one."""
        segment, separator, offset = text.partition(":")
        if not (separator and segment.isdigit() and offset.isdigit()):
            raise ValueError(f"not a spool position: {text!r} (expected SEGMENT:OFFSET digits)")
        return cls(int(segment), int(offset))


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def encode_record(payload: dict[str, Any]) -> bytes:
    """One spool line for a JSON-serialisable payload."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def envelope(notification: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    """The payload stored for one notification."""
    return {"received_at": received_at.isoformat(), "notification": notification}


def _decode_line(line: bytes, where: str) -> dict[str, Any]:
    if len(line) <= _CRC_DIGITS or line[_CRC_DIGITS : _CRC_DIGITS + 1] != b" ":
        raise SpoolError(f"{where}: not a spool record (expected '<crc32 hex> <json>')")
    body = line[_CRC_DIGITS + 1 :]
    try:
        expected = int(line[:_CRC_DIGITS], 16)
    except ValueError:
        raise SpoolError(f"{where}: record checksum is not hexadecimal") from None
    if zlib.crc32(body) != expected:
        raise SpoolError(f"{where}: record fails its checksum (corrupted spool)")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise SpoolError(f"{where}: record body is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise SpoolError(f"{where}: record body is not a JSON object")
    return payload


def segment_path(directory: Path, segment: int) -> Path:
    """The file of a segment."""
    return directory / f"{segment:020d}{SEGMENT_SUFFIX}"


def list_segments(directory: Path) -> list[int]:
    """The ids of the segments in the spool, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(
        int(path.stem)
        for path in directory.iterdir()
        if path.suffix == SEGMENT_SUFFIX and path.stem.isdigit()
    )


def read_segment(path: Path, start: int, *, sealed: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (offset after the record, payload) of each complete record from `start` on.

    An unterminated last line is a record still being written, so reading stops before
    it; a sealed segment has no writer left, so there it means a damaged spool.
    """
    with open(path, "rb") as segment:
        segment.seek(start)
        offset = start
        pending = b""
        while chunk := segment.read(_READ_CHUNK):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                where = f"{path} at byte {offset}"
                offset += len(line) + 1
                yield offset, _decode_line(line, where)
    if pending and sealed:
        raise SpoolError(f"{path} at byte {offset}: incomplete record in a sealed segment")


def read_spool(
    directory: Path, after: SpoolPosition | None = None
) -> Iterator[tuple[SpoolPosition, dict[str, Any]]]:
    """Yield (position after the record, payload) of every record after `after`."""
    # List first, read second: a segment with a newer one after it in this listing is
    # sealed, so everything in it was written before we read it.
    segments = list_segments(directory)
    for index, segment in enumerate(segments):
        if after is not None and segment < after.segment:
            continue
        start = after.offset if after is not None and segment == after.segment else 0
        sealed = index < len(segments) - 1
        try:
            for offset, payload in read_segment(
                segment_path(directory, segment), start, sealed=sealed
            ):
                yield SpoolPosition(segment, offset), payload
        except FileNotFoundError:
            continue  # removed meanwhile by a concurrent tap run that had read it


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def read_meta(directory: Path) -> dict[str, Any]:
    """The spool's settings file, or the defaults when the receiver has not written one."""
    try:
        meta: dict[str, Any] = json.loads((directory / META_FILE).read_text())
        return meta
    except FileNotFoundError:
        return {"format": FORMAT_VERSION, "dedup_window_seconds": DEFAULT_DEDUP_WINDOW_SECONDS}
    except ValueError as exc:
        raise SpoolError(f"{directory / META_FILE} is not JSON ({exc})") from None


@dataclass(frozen=True)
class KnownId:
    """A notification id the spool has stored, and when it was received (UNIX seconds)."""

    id: str
    received: float


def _known_id(payload: dict[str, Any]) -> KnownId:
    notification_id = payload.get("id") or payload["notification"]["id"]
    return KnownId(notification_id, datetime.fromisoformat(payload["received_at"]).timestamp())


def read_removed_ids(directory: Path) -> list[KnownId]:
    """Ids of notifications in segments the tap removed (still inside the window)."""
    path = directory / REMOVED_IDS_FILE
    if not path.exists():
        return []
    return [_known_id(payload) for _, payload in read_segment(path, 0, sealed=True)]


def remove_consumed(directory: Path, position: SpoolPosition) -> list[int]:
    """Remove the segments entirely before `position`; return their ids.

    Only call this with a position whose records the target has committed. Their ids
    go to `removed-ids.log` first (pruned to the de-duplication window), so a receiver
    started later still refuses redeliveries of them.
    """
    segments = list_segments(directory)
    if not segments:
        return []
    newest = segments[-1]
    consumed = [
        segment
        for segment in segments
        if segment != newest
        and (
            segment < position.segment
            or (
                segment == position.segment
                and segment_path(directory, segment).stat().st_size <= position.offset
            )
        )
    ]
    if not consumed:
        return []
    window = read_meta(directory).get("dedup_window_seconds", DEFAULT_DEDUP_WINDOW_SECONDS)
    horizon = time.time() - window
    kept = [known for known in read_removed_ids(directory) if known.received >= horizon]
    for segment in consumed:
        for _, payload in read_segment(segment_path(directory, segment), 0, sealed=True):
            known = _known_id(payload)
            if known.received >= horizon:
                kept.append(known)
    index = b"".join(
        encode_record(
            {"id": known.id, "received_at": datetime.fromtimestamp(known.received, UTC).isoformat()}
        )
        for known in kept
    )
    _write_atomically(directory / REMOVED_IDS_FILE, index)
    for segment in consumed:
        segment_path(directory, segment).unlink(missing_ok=True)
    _fsync_directory(directory)
    return consumed


class SpoolWriter:
    """The one writer of a spool: appends batches of records, fsyncs, rotates segments.

    Not thread-safe: the receiver calls it from one thread only.
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_max_bytes: int,
        segment_max_age_seconds: float,
        dedup_window_seconds: int = DEFAULT_DEDUP_WINDOW_SECONDS,
    ) -> None:
        self.directory = directory
        self.segment_max_bytes = segment_max_bytes
        self.segment_max_age_seconds = segment_max_age_seconds
        self.dedup_window_seconds = dedup_window_seconds
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._segment = 0
        self._size = 0
        self._opened_at = 0.0
        self._failure: str | None = None

    @property
    def segment(self) -> int:
        """The id of the segment being written."""
        return self._segment

    @property
    def failure(self) -> str | None:
        """Why the writer stopped accepting records, or None while it is healthy."""
        return self._failure

    def open(self) -> list[KnownId]:
        """Lock the spool, cut a torn tail, start a segment; return the stored ids."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise SpoolError(f"another receiver is writing the spool {self.directory}") from None
        self._lock_fd = lock_fd
        _write_atomically(
            self.directory / META_FILE,
            json.dumps(
                {"format": FORMAT_VERSION, "dedup_window_seconds": self.dedup_window_seconds}
            ).encode(),
        )
        known: list[KnownId] = []
        segments = list_segments(self.directory)
        for index, segment in enumerate(segments):
            path = segment_path(self.directory, segment)
            sealed = index < len(segments) - 1
            end = 0
            try:
                for offset, payload in read_segment(path, 0, sealed=sealed):
                    known.append(_known_id(payload))
                    end = offset
            except FileNotFoundError:
                continue  # a tap run removed it meanwhile: its ids are in removed-ids.log
            if not sealed and path.stat().st_size > end:
                # A crash tore the last batch. None of it was acknowledged (we answer
                # only after fsync), so cutting it is safe; do it before writing on.
                os.truncate(path, end)
                with open(path, "rb+") as torn:
                    os.fsync(torn.fileno())
        # After the segments: the tap writes the index before it removes any segment.
        known.extend(read_removed_ids(self.directory))
        if segments and segment_path(self.directory, segments[-1]).stat().st_size == 0:
            self._open_segment(segments[-1])
        else:
            self._open_segment(max(segments[-1] + 1 if segments else 0, time.time_ns() // 1000))
        return known

    def _open_segment(self, segment: int) -> None:
        path = segment_path(self.directory, segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        _fsync_directory(self.directory)
        self._segment = segment
        self._size = os.fstat(self._fd).st_size
        self._opened_at = time.monotonic()

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._open_segment(max(self._segment + 1, time.time_ns() // 1000))

    def _is_due_for_rotation(self) -> bool:
        return self._size > 0 and (
            self._size >= self.segment_max_bytes
            or time.monotonic() - self._opened_at >= self.segment_max_age_seconds
        )

    def rotate_if_due(self) -> None:
        """Seal the segment when it is full or old, so the tap can remove it once read."""
        if self._failure is None and self._is_due_for_rotation():
            try:
                self._rotate()
            except OSError as exc:
                self._fail(f"rotating segment {self._segment} failed: {exc.strerror}")

    def append(self, records: list[bytes]) -> None:
        """Write records and fsync them; on return they survive a crash.

        After any I/O error the writer refuses further batches: what reached the file is
        unknown (an fsync error may have dropped pages), and a restart cuts a torn tail.
        """
        if self._failure is not None:
            raise SpoolError(self._failure)
        self.rotate_if_due()
        if self._fd is None:
            raise SpoolError(self._failure or "the spool writer is not open")
        data = memoryview(b"".join(records))
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
            os.fsync(self._fd)
        except OSError as exc:
            self._fail(f"writing segment {self._segment} failed: {exc.strerror}")
            raise SpoolError(self._failure) from None
        self._size += sum(len(record) for record in records)

    def _fail(self, reason: str) -> None:
        self._failure = reason
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Close the segment (every batch is already fsynced) and release the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
