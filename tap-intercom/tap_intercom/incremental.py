"""Incremental streams whose bookmark moves only at checkpoints safe to resume from.

A stream lists its source as batches, each with an optional checkpoint: a UNIX time
such that every record changed before it has been emitted once the batch has been.
The bookmark (RFC 3339, like the records) moves to a checkpoint only after the
batch's records went out, and a STATE message follows, so a run killed at any point
resumes from its last STATE without reading everything again.

Children (parts, notes, segments, events) reuse their parent's batches: they fetch
one request per parent in parallel and keep one bookmark, the parent checkpoint up
to which every child was emitted. The parents between two checkpoints (a search
window, a contacts page) are fetched in order of their replication key, so the child
bookmark can also move between them (`InterimCheckpoint`): every
`state_interval_seconds` a STATE goes out even where the parent's checkpoints are far
apart, and a run killed hours into a first sync loses at most that much work.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.types import Context, Record
from typing_extensions import override

from tap_intercom.client import IntercomStream, from_rfc3339, to_rfc3339
from tap_intercom.errors import NotFoundError
from tap_intercom.readahead import DiskQueue, ReadAhead

if TYPE_CHECKING:
    from tap_intercom.tap import TapIntercom

#: A batch of raw records and the checkpoint reached once they are emitted (or None).
Batch = tuple[list[dict[str, Any]], int | None]
# A third of the target's default `max_uncommitted_age_seconds` (60): a commit forced
# by that age then always finds a STATE at most 20 s old to pass on. Were both 60, the
# two clocks could run in step, every such commit passing on a STATE a minute old, and
# a kill would lose up to two minutes plus a load.
DEFAULT_STATE_INTERVAL_SECONDS = 20
# Batches (pages) of parents listed ahead of the children being fetched, queued on
# disk: more than a whole search window (up to 2 x 10 pages), so the next window is
# complete, and can be sorted, by the time the workers finish the current one.
PARENT_BATCHES_AHEAD = 64
# How long the children wait for the parent listing's next page before they start on
# the parents listed so far: longer than a thread switch under load, much shorter than
# a page of a search (hundreds of milliseconds).
LISTING_GRACE_SECONDS = 0.1
# Parents between two checkpoints sorted in memory (ids and replication keys only);
# beyond this the children of that stretch are fetched in listing order instead.
MAX_SORTED_PARENTS = 50_000


class InterimCheckpoint(int):
    """A checkpoint (UNIX seconds) between two of the parent's: it moves the bookmark,
    and a STATE follows only when the last one is `state_interval_seconds` old."""


class ParentListing:
    """A parent stream's listing of this run (batches of `id`, the replication key and
    the fields its children read), queued on disk, handed to each selected child to
    replay instead of asking the API again. The file is deleted once every child it
    was handed to has let go of it (`release`)."""

    def __init__(self, start: int, batches: DiskQueue[Batch], holders: int) -> None:
        self.start = start
        self._batches = batches
        self._holders = holders
        self._lock = threading.Lock()

    def batches_since(self, start: int, key: str) -> Iterator[Batch] | None:
        """The listing's batches of parents with `key >= start`, or None when the
        listing does not reach back to `start`."""
        if self.start > start:
            return None
        return (
            ([parent for parent in parents if (parent[key] or 0) >= start], checkpoint)
            for parents, checkpoint in self._batches
        )

    def release(self) -> None:
        """One holder is done with the listing (the last one deletes it)."""
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._batches.discard()


class IncrementalStream(IntercomStream):
    """A stream that lists changes since a bookmark (`iter_batches`)."""

    replication_key = "updated_at"

    def __init__(self, tap: TapIntercom) -> None:
        super().__init__(tap)
        #: The streams fetched per record of this one (see `ChildStream.adopt`).
        self.children: list[ChildStream] = []
        self._state_written_at = time.monotonic()

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """Records changed at or after `start` (UNIX seconds), batch by batch."""
        raise NotImplementedError

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The records changed since the bookmark, checkpointed (`emit_batches`)."""
        start = self.start_seconds()
        yield from self.emit_batches(start, self.iter_batches(start))

    def emit_batches(self, start: int, batches: Iterable[Batch]) -> Iterator[dict[str, Any]]:
        """Emit this run's `batches` (listed from `start`) batch after batch,
        checkpointing between them. When selected child streams will need the same
        parents, the listing is queued on disk as it goes out and handed to them once
        complete."""
        children = [child for child in self.children if child.selected]
        listing: DiskQueue[Batch] | None = DiskQueue() if children else None
        fields = (self.replication_key, *{f for child in children for f in child.parent_fields})
        handed = False
        try:
            for records, checkpoint in batches:
                if listing is not None:
                    parents = [
                        {"id": record["id"], **{name: record.get(name) for name in fields}}
                        for record in records
                        if "_sdc_deleted_at" not in record  # deletions have no children
                    ]
                    listing.append((parents, checkpoint))
                yield from records
                if checkpoint is not None:
                    self.checkpoint(checkpoint)
            if listing is not None:
                listing.close()
                complete = ParentListing(start, listing, len(children))
                for child in children:
                    child.receive_parent_listing(complete)
                handed = True
        finally:
            if listing is not None and not handed:
                listing.discard()

    # -- bookmarks -------------------------------------------------------------

    @property
    def lookback_seconds(self) -> int:
        """How far before the bookmark a run starts reading again."""
        return int(self.config.get("lookback_window_seconds") or 0)

    def bookmark_seconds(self) -> int | None:
        """The bookmark of the state the run started from, if any."""
        state = self.stream_state
        value = state.get("replication_key_value")
        if value and state.get("replication_key") == self.replication_key:
            return from_rfc3339(str(value))
        return None

    def start_seconds(self) -> int:
        """Where this run starts reading: the later of the bookmark and `start_date`,
        minus the look-back window."""
        starts = [self.bookmark_seconds()]
        if self.config.get("start_date"):
            starts.append(from_rfc3339(str(self.config["start_date"])))
        start = max((value for value in starts if value is not None), default=0)
        return max(0, start - self.lookback_seconds)

    @property
    def state_interval_seconds(self) -> float:
        """Longest wall time between two STATE messages of a stream making progress."""
        configured = self.config.get("state_interval_seconds")
        return float(DEFAULT_STATE_INTERVAL_SECONDS if configured is None else configured)

    def checkpoint(self, unix_seconds: int) -> None:
        """Move the bookmark forward (never back) and emit STATE (for an
        `InterimCheckpoint`, only when the last STATE is `state_interval_seconds` old)."""
        bookmark = self.bookmark_seconds()
        if bookmark is not None and unix_seconds <= bookmark:
            return
        state = self.stream_state
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = to_rfc3339(unix_seconds)
        if isinstance(unix_seconds, InterimCheckpoint) and (
            time.monotonic() - self._state_written_at < self.state_interval_seconds
        ):
            self.state_manager.is_flushed = False  # the next STATE carries it
            return
        self.write_state()

    def write_state(self) -> None:
        """Emit STATE now (after a change to `stream_state` other than the bookmark).

        With `batch_config` the records are still in an unfinished batch file: the SDK
        writes the pending STATE after each BATCH message, so it must not go out before."""
        self.state_manager.is_flushed = False
        if self.get_batch_config(self.config):
            return
        self._state_written_at = time.monotonic()
        self._write_state_message()

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Bookmarks move only at checkpoints (`checkpoint`), never per record: with
        unsorted or parallel output, the newest record seen is not a safe resume point."""


class ChildStream(IncrementalStream):
    """Records fetched per parent, in parallel, under one bookmark.

    `parent_stream` names the incremental stream whose changed records are the
    parents (the tap links the two: `adopt`); `fetch_children` runs in worker threads
    and does the HTTP.
    """

    parent_stream: str
    #: Field added to every child record: the parent's id.
    parent_key: str
    #: Parent fields `fetch_children` reads besides `id` and the replication key (kept,
    #: as JSON values, in the parent's listing that children replay).
    parent_fields: tuple[str, ...] = ()

    def __init__(self, tap: TapIntercom) -> None:
        super().__init__(tap)
        self._parent: IncrementalStream | None = None
        # This run's listing of the parents, once the parent has handed it over.
        self._parent_listing: ParentListing | None = None

    def adopt(self, parent: IncrementalStream) -> None:
        """Link this stream to its parent stream (`parent_stream`)."""
        if parent.name != self.parent_stream:
            raise ValueError(f"{self.name}: the parent stream is {self.parent_stream}")
        self._parent = parent
        parent.children.append(self)

    @property
    def parent(self) -> IncrementalStream:
        """The stream whose changed records are the parents."""
        if self._parent is None:
            raise RuntimeError(f"{self.name}: no parent stream linked (`adopt`)")
        return self._parent

    def receive_parent_listing(self, listing: ParentListing) -> None:
        """The parent's listing of this run, to replay (released after this stream's
        sync, or by the next one handed over)."""
        self._release_parent_listing()
        self._parent_listing = listing

    def _release_parent_listing(self) -> None:
        listing, self._parent_listing = self._parent_listing, None
        if listing is not None:
            listing.release()

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        """Also count the parent's API calls made for this sync (its listing); let go
        of the parent's listing at the end."""
        try:
            with self.parent.counting_requests(context):
                yield from super()._sync_records(context, write_messages=write_messages)
        finally:
            self._release_parent_listing()

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """The child records of one parent (raw API form, without the parent id)."""
        raise NotImplementedError

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """Parents changed since `start` (listed ahead, in a thread of their own), their
        children fetched as many at a time as the rate budget sustains (at most
        `max_workers`), with interim checkpoints between the parent's."""
        parents = self.parent
        replayed = (
            None
            if self._parent_listing is None
            else self._parent_listing.batches_since(start, parents.replication_key)
        )
        listed = ReadAhead(
            parents.iter_batches(start) if replayed is None else replayed, PARENT_BATCHES_AHEAD
        )
        yield from self.pacing.map_in_order(
            self._children_with_parent_id,
            sorted_with_interim_checkpoints(
                listed,
                parents.replication_key,
                self.parent_fields,
                lambda: not listed.wait(LISTING_GRACE_SECONDS),
            ),
        )

    def _children_with_parent_id(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        parent_id = parent["id"]
        try:
            children = self.fetch_children(parent)
        except NotFoundError:
            self.logger.warning(
                "%s: parent %s %s vanished before its children were read; skipped",
                self.name,
                self.parent_stream,
                parent_id,
            )
            return []
        for child in children:
            child[self.parent_key] = parent_id
        return children


def sorted_with_interim_checkpoints(
    batches: Iterable[Batch],
    key: str,
    fields: tuple[str, ...] = (),
    behind: Callable[[], bool] = lambda: False,
) -> Iterator[Batch]:
    """The same parents, each stretch between two checkpoints sorted by `key` and cut
    where the value changes, with an `InterimCheckpoint` at every cut: once the
    parents before the cut are done, every parent changed before the value after it
    is (the stretch is complete, and earlier stretches are done). Sorted parents keep
    only `id`, `key` and `fields`.

    Asked for more while the listing is `behind` (its next batch is not there), it
    hands out the oldest page of the stretch listed so far, without a checkpoint,
    rather than leave the workers idle until the stretch is complete (the first
    search window of a run): one page per request, so that where the listing runs
    ahead of the workers most of the stretch is still sorted and cut once complete.
    The parents handed out early come out before the rest, so its cuts stay safe."""
    kept = (key, *fields)
    stretch: list[dict[str, Any]] | None = []  # None: too long to sort, passed through
    pages: deque[int] = deque()  # sizes of the stretch's pages listed so far, oldest first
    source = iter(batches)
    while True:
        if stretch and behind():
            size = pages.popleft()
            yield stretch[:size], None
            del stretch[:size]
            continue
        batch = next(source, None)
        if batch is None:
            return
        parents, checkpoint = batch
        if stretch is None or len(stretch) + len(parents) > MAX_SORTED_PARENTS:
            if stretch:
                yield stretch, None
            stretch = None
            yield parents, checkpoint
        else:
            stretch.extend(
                {"id": parent["id"], **{name: parent.get(name) for name in kept}}
                for parent in parents
            )
            if parents:
                pages.append(len(parents))
            if checkpoint is not None:
                yield from _cut_where_changed(stretch, key, checkpoint)
        if checkpoint is not None:
            stretch = []
            pages.clear()


def _cut_where_changed(parents: list[dict[str, Any]], key: str, checkpoint: int) -> Iterator[Batch]:
    """Cuts only up to the stretch's checkpoint: a parent changed after it (while the
    listing ran, e.g. on 2.15 where the search's checkpoint is when it began) does not
    prove that every parent changed before it was listed."""
    parents.sort(key=lambda parent: parent.get(key) or 0)
    cut = 0
    for index in range(1, len(parents)):
        changed_at = parents[index].get(key) or 0
        if checkpoint >= changed_at > (parents[index - 1].get(key) or 0):
            yield parents[cut:index], InterimCheckpoint(changed_at)
            cut = index
    yield parents[cut:], checkpoint
