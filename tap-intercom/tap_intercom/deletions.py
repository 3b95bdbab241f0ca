"""Deletion records, and finding the ids a complete listing no longer holds.

A deletion is emitted as `{"id": ..., "_sdc_deleted_at": ...}`: the target marks the
row (or removes it with `hard_delete`). `IdReconciliation` compares a complete listing
of a stream's ids with the previous one, kept in the stream's state as an `IdSketch`.
Only ids created before the previous listing ended are compared (the newest
`created_at` it saw bounds them), so the sketch's capacity is spent on ids that left,
not on new ones.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

import msgspec

from tap_intercom.client import to_rfc3339
from tap_intercom.idsketch import Difference, IdSketch, cells_for, digest

SKETCH_KEY = "id_sketch"
NEWEST_CREATED_KEY = "id_sketch_newest_created_at"
LISTED_AT_KEY = "id_sketch_listed_at"
CELLS_KEY = "id_sketch_cells"
DEFAULT_CAPACITY = 1_000


class ListedId(msgspec.Struct, gc=False):
    """What a reconciliation needs of a listed record; its other fields are skipped."""

    id: str
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

    def add(self, ident: str, created_at: Any) -> None:
        """One listed id (each at most once) and its `created_at` (UNIX seconds)."""
        stored = digest(ident)
        self.current.add(stored)
        self.listed += 1
        created = created_at if isinstance(created_at, int) else None
        if created is not None and created > self.newest_created_at:
            self.newest_created_at = created
        if self.comparable is not None and (
            self.compared_up_to is None or created is None or created <= self.compared_up_to
        ):
            self.comparable.add(stored)

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
