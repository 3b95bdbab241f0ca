"""Deletion records, and finding the ids a complete listing no longer holds.

A deletion is emitted as `{"id": ..., "_sdc_deleted_at": ...}`: the target marks the
row (or removes it with `hard_delete`). `IdReconciliation` compares a complete listing
of a stream's ids with the previous one, kept in the stream's state as an `IdSketch`.
Only ids created before the previous listing ended are compared (the newest
`created_at` it saw bounds them), so the sketch's capacity is spent on ids that left,
not on new ones.

`SearchBaseline` builds a stream's first sketch from the run's own search when that
search lists every record, instead of a listing of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, MutableMapping
from typing import Any

import msgspec

from tap_intercom.client import to_rfc3339
from tap_intercom.idsketch import Difference, Digest, IdSketch, cells_for, digest
from tap_intercom.readahead import DiskQueue

SKETCH_KEY = "id_sketch"
NEWEST_CREATED_KEY = "id_sketch_newest_created_at"
LISTED_AT_KEY = "id_sketch_listed_at"
CELLS_KEY = "id_sketch_cells"
DEFAULT_CAPACITY = 1_000
#: How long a search may lag writes (Intercom: minutes) for `SearchBaseline`.
SEARCH_LAG_ALLOWANCE_SECONDS = 3_600


class ListedId(msgspec.Struct, gc=False):
    """What a reconciliation needs of a listed record; its other fields are skipped.
    `id` may be missing (drift): the lister skips such an item with a warning."""

    id: str | None = None
    created_at: Any = None


class IdListPage(msgspec.Struct, gc=False):
    """A page of a list decoded only as far as a reconciliation needs: the records'
    other fields are skipped by the decoder, never built as Python objects."""

    data: list[ListedId] | None = None
    pages: Any = None


def deletion_record(ident: str, deleted_at: int | float) -> dict[str, Any]:
    """The record that tells the target `ident` is gone since `deleted_at` (UNIX)."""
    return {"id": ident, "_sdc_deleted_at": to_rfc3339(deleted_at)}


class IdReconciliation:
    """One complete listing of a stream's ids, compared with the last one in `state`."""

    def __init__(self, state: MutableMapping[str, Any], capacity: int) -> None:
        self.state = state
        self.started_at = int(time.time())
        self.previous: IdSketch | None = None
        if isinstance(state.get(SKETCH_KEY), str):
            try:
                self.previous = IdSketch.from_text(state[SKETCH_KEY])
            except ValueError:
                self.previous = None  # a damaged sketch: this listing starts afresh
        newest = state.get(NEWEST_CREATED_KEY)
        self.compared_up_to = newest if isinstance(newest, int) else None
        # Grown when a comparison overflowed (see `finish`).
        grown = state.get(CELLS_KEY)
        self.current = IdSketch(max(cells_for(capacity), grown if isinstance(grown, int) else 0))
        self.next_cells = len(self.current)
        self.comparable = IdSketch(len(self.previous)) if self.previous else None
        self.newest_created_at = self.compared_up_to or 0
        self.listed = 0

    @property
    def has_baseline(self) -> bool:
        """False on the first listing (or after a full refresh): nothing to compare."""
        return self.comparable is not None

    def add_all(self, listed: Iterable[tuple[str, Any]]) -> None:
        """Listed ids (each at most once) with their `created_at` (UNIX seconds; an id
        whose `created_at` is anything else is always compared). One call per page:
        this runs for every id of every listing."""
        stored: list[Digest] = []
        compared: list[Digest] = []
        newest, bound = self.newest_created_at, self.compared_up_to
        comparing = self.comparable is not None
        for ident, created_at in listed:
            entry = digest(ident)
            stored.append(entry)
            created = created_at if created_at.__class__ is int else None  # not bool
            if created is not None and created > newest:
                newest = created
            if comparing and (bound is None or created is None or created <= bound):
                compared.append(entry)
        self.current.add_all(stored)
        if self.comparable is not None:
            self.comparable.add_all(compared)
        self.newest_created_at = newest
        self.listed += len(stored)

    def finish(self) -> Difference:
        """The ids of the previous listing that this one lacks (`removed`)."""
        if self.previous is None or self.comparable is None:
            return Difference()
        difference = self.previous.difference(self.comparable)
        if not difference.complete:
            # The sketch being filled cannot grow (the ids are not kept): the next one will.
            wanted = difference.undecoded_cells + len(difference.removed) + len(difference.added)
            self.next_cells = max(self.next_cells, cells_for(2 * wanted))
        return difference

    def keep(self, ident: str) -> None:
        """An id found alive after all (a listing can miss a record that moved): it stays
        in the sketch, so its deletion is seen later."""
        self.current.add(ident)

    def save(self) -> None:
        """Put this listing in the state (call once its deletions were emitted)."""
        self.state[SKETCH_KEY] = self.current.to_text()
        self.state[NEWEST_CREATED_KEY] = self.newest_created_at
        self.state[LISTED_AT_KEY] = self.started_at
        self.state[CELLS_KEY] = self.next_cells


class SearchBaseline:
    """The first sketch of a stream, from a search sorted by `updated_at` ascending with
    no lower bound (it lists every record), so the first run does not list them all a
    second time.

    A search is not a snapshot, and the sketch must get every id exactly once (an id
    added twice cancels out of its cells). A record changed while the search runs comes
    again at the end, with its new `updated_at`. `cutoff` is the newest `updated_at` the
    search held when the run began, less `SEARCH_LAG_ALLOWANCE_SECONDS`: below it, each
    record comes once (its one state from before the run) and goes into the sketch at
    once; ids at or above it are held in a set (bounded by the records changed around
    the run) and at the end added unless the part below `cutoff` already had them
    (those ids are queued on disk and read back once).

    What the sketch lacks, compared with a listing: records the search did not return,
    that is, records created within the search's lag (minutes) before it reached its
    end. This run does not emit them either; like records created after any listing,
    their deletion is seen only if it comes after the next listing.
    """

    def __init__(self, reconciliation: IdReconciliation, newest_updated_at: int) -> None:
        self.reconciliation = reconciliation
        self.cutoff = newest_updated_at - SEARCH_LAG_ALLOWANCE_SECONDS
        self._recent: dict[str, Any] = {}  # id: created_at
        self._earlier: DiskQueue[list[str]] = DiskQueue()

    def add_page(self, records: list[dict[str, Any]]) -> None:
        """One page of the search's records, as the API sent them."""
        cutoff, recent = self.cutoff, self._recent
        earlier: list[tuple[str, Any]] = []
        for record in records:
            updated = record.get("updated_at")
            if isinstance(updated, int) and updated < cutoff:
                earlier.append((record["id"], record.get("created_at")))
            else:
                recent[record["id"]] = record.get("created_at")
        if earlier:
            self.reconciliation.add_all(earlier)
            self._earlier.append([ident for ident, _ in earlier])

    def finish(self) -> None:
        """Add the ids seen only at or after `cutoff`; the sketch is then complete (call
        once the search has been read to its end)."""
        self._earlier.close()
        try:
            if self._recent:
                for ids in self._earlier:
                    for ident in ids:
                        self._recent.pop(ident, None)
        finally:
            self._earlier.discard()
        self.reconciliation.add_all(self._recent.items())
        self._recent.clear()
