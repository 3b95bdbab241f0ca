"""Reading ahead, and what a run must keep for later, on disk instead of in memory.

- A parent stream's listing (ids and replication keys of every changed parent) is
  written to a `DiskQueue` as it goes out and replayed by each child stream: memory
  stays flat however many parents a first sync finds.
- `ReadAhead` (`read_ahead`) runs a source (the companies scroll, a parent listing) in
  a thread of its own, so it never waits for a slow consumer: the scroll cannot sit
  idle long enough to expire, and parents are listed while their children are fetched.
- `read_in_turn` reads several sources at once (search windows, whose pages follow
  each other) and gives their items source after source: the sources not yet due wait
  on disk.
- `IdMarks` remembers which ids a listing has given already (the companies scroll's
  loop detection and restarts), in a temporary database on disk.
"""

from __future__ import annotations

import os
import pickle
import queue
import sqlite3
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")
_LENGTH = struct.Struct("<Q")
# Page cache of an `IdMarks` database, KiB: beyond it the ids live on disk only.
ID_MARKS_CACHE_KIB = 2_048
# Ids per SQLite statement (older SQLite versions accept at most 999 parameters).
_IDS_PER_STATEMENT = 500


class DiskQueue(Generic[Item]):
    """Items appended to an anonymous temporary file, read back in order by any number
    of readers, also while the writer is still appending."""

    def __init__(self) -> None:
        # Lives as long as the queue (closed by `discard`), not one block.
        self._file = tempfile.TemporaryFile(prefix="tap-intercom-queue-")  # noqa: SIM115
        self._fd = self._file.fileno()
        self._condition = threading.Condition()
        self._size = 0  # bytes of complete items
        self._count = 0
        self._closed = False
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return self._count

    def append(self, item: Item) -> None:
        """Write one item (the writer side; one writer at a time)."""
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        os.pwrite(self._fd, _LENGTH.pack(len(data)) + data, self._size)
        with self._condition:
            self._size += _LENGTH.size + len(data)
            self._count += 1
            self._condition.notify_all()

    def close(self, error: BaseException | None = None) -> None:
        """No more items; readers raise `error` (if any) once they have read them all."""
        with self._condition:
            self._closed, self._error = True, error
            self._condition.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """True once `count` items are written or the queue is closed; False if not
        after `timeout` seconds."""
        with self._condition:
            return self._condition.wait_for(lambda: self._count >= count or self._closed, timeout)

    def __iter__(self) -> Iterator[Item]:
        """Every item from the first, waiting for the writer until it closes."""
        offset = 0
        while True:
            with self._condition:
                while offset >= self._size and not self._closed:
                    self._condition.wait()
                if offset >= self._size:
                    if self._error is not None:
                        raise self._error
                    return
            (length,) = _LENGTH.unpack(os.pread(self._fd, _LENGTH.size, offset))
            offset += _LENGTH.size
            yield pickle.loads(os.pread(self._fd, length, offset))
            offset += length

    def discard(self) -> None:
        """Delete the file (readers must be done)."""
        self._file.close()


def _fill(disk: DiskQueue[Item], source: Iterable[Item], admit: Callable[[], bool]) -> None:
    """Append `source`'s items to `disk` while `admit()` (asked before each item) lets
    them in, then close it; an error of the source is closed into the queue, for its
    reader to raise after the items before it. Runs in a thread of its own."""
    try:
        for item in source:
            if not admit():
                break
            disk.append(item)
    except BaseException as error:  # handed to the consumer, raised there
        disk.close(error)
    else:
        disk.close()


class ReadAhead(Generic[Item]):
    """The items of `source`, produced by a thread of its own into a `DiskQueue`: at most
    `max_ahead` items ahead of the consumer, or as far as the source goes (None).

    Iterate once. An error of the source is raised there after the items before it.
    When the consumer stops early, the producer stops at its next item. `wait` tells
    the consumer whether the next item is there, without taking it."""

    def __init__(self, source: Iterable[Item], max_ahead: int | None = None) -> None:
        self._source = source
        self._max_ahead = max_ahead
        self._disk: DiskQueue[Item] = DiskQueue()
        self._taken = 0  # items handed to the consumer

    def wait(self, timeout: float) -> bool:
        """True once the next item (or the end) can be taken without waiting for the
        source; False if it is still missing after `timeout` seconds."""
        return self._disk.wait_for(self._taken + 1, timeout)

    def __iter__(self) -> Iterator[Item]:
        disk, max_ahead = self._disk, self._max_ahead
        room = threading.Condition()
        stopped = False

        def room_for_one() -> bool:
            with room:
                while (
                    not stopped and max_ahead is not None and len(disk) - self._taken >= max_ahead
                ):
                    room.wait()
                return not stopped

        producer = threading.Thread(
            target=_fill,
            args=(disk, self._source, room_for_one),
            name="tap-intercom-read-ahead",
            daemon=True,
        )
        producer.start()
        try:
            for item in disk:
                with room:
                    self._taken += 1
                    room.notify_all()
                yield item
        finally:
            with room:
                stopped = True
                room.notify_all()
            producer.join()
            disk.discard()


def read_ahead(source: Iterable[Item], max_ahead: int | None = None) -> Iterator[Item]:
    """Iterate `ReadAhead(source, max_ahead)`."""
    return iter(ReadAhead(source, max_ahead))


def read_in_turn(sources: Iterable[Iterable[Item]], at_once: int) -> Iterator[Item]:
    """The items of every source of `sources`, whole source after whole source, while up
    to `at_once` sources are read at the same time, each by a thread of its own into a
    `DiskQueue` (the items of a source whose turn has not come wait on disk).

    `sources` is advanced by a thread of its own too, and only while fewer than
    `at_once` sources are being read or waiting for their turn: taking the next source
    may itself ask the API (a search window's first page tells where the next window
    ends). An error of a source, or of `sources`, is raised here after every item
    before it. When the consumer stops early, every thread stops at its next item."""
    places = threading.Semaphore(at_once)  # one per source taken and not yet given whole
    # Sources in turn, each with its queue and reader; then None (all taken) or an error.
    due: queue.SimpleQueue[tuple[DiskQueue[Item], threading.Thread] | BaseException | None] = (
        queue.SimpleQueue()
    )
    stopped = threading.Event()

    def take() -> None:
        try:
            taken = iter(sources)
            while True:
                places.acquire()
                if stopped.is_set():
                    return
                source = next(taken, None)
                if source is None:
                    break
                disk: DiskQueue[Item] = DiskQueue()
                reader = threading.Thread(
                    target=_fill,
                    args=(disk, source, lambda: not stopped.is_set()),
                    name="tap-intercom-in-turn",
                    daemon=True,
                )
                reader.start()
                due.put((disk, reader))
        except BaseException as error:  # handed to the consumer, raised in turn
            due.put(error)
        else:
            due.put(None)

    taker = threading.Thread(target=take, name="tap-intercom-sources", daemon=True)
    taker.start()
    current: tuple[DiskQueue[Item], threading.Thread] | None = None
    try:
        while (entry := due.get()) is not None:
            if isinstance(entry, BaseException):
                raise entry
            current = entry
            yield from current[0]
            current[1].join()
            current[0].discard()
            current = None
            places.release()
    finally:
        stopped.set()
        places.release()  # the taker may be waiting for a place
        taker.join()
        left = [current] if current is not None else []
        while not due.empty():
            entry = due.get()
            if isinstance(entry, tuple):
                left.append(entry)
        for disk, reader in left:
            reader.join()
            disk.discard()


class IdMarks:
    """Ids, each with the number of the pass (say, the scroll) that last listed it, in
    an anonymous temporary SQLite database: memory stays flat however many ids a listing
    holds (a million company ids in a Python set take about 100 MB)."""

    def __init__(self) -> None:
        # "": a private database in a temporary file, deleted when closed. Used by one
        # thread at a time, not always the one that opened it (read-ahead threads).
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size = -{ID_MARKS_CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode = OFF")  # a crash loses the run anyway
        self._db.execute("CREATE TABLE marks (id TEXT PRIMARY KEY, pass INTEGER) WITHOUT ROWID")
        self._count = 0

    def __len__(self) -> int:
        """How many different ids have been marked."""
        return self._count

    def mark(self, ids: Iterable[str], number: int) -> dict[str, int]:
        """Mark `ids` as listed by pass `number`. Returns the pass that listed each of
        them before (ids never marked before are absent)."""
        unique = list(dict.fromkeys(ids))
        before: dict[str, int] = {}
        for start in range(0, len(unique), _IDS_PER_STATEMENT):
            chunk = unique[start : start + _IDS_PER_STATEMENT]
            query = f"SELECT id, pass FROM marks WHERE id IN ({','.join('?' * len(chunk))})"
            before.update(self._db.execute(query, chunk))
        self._db.executemany(
            "INSERT OR REPLACE INTO marks VALUES (?, ?)", [(ident, number) for ident in unique]
        )
        self._count += len(unique) - len(before)
        return before

    def close(self) -> None:
        """Delete the database."""
        self._db.close()
