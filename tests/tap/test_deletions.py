"""`tap_intercom.deletions`: the first id sketch built from a search (`SearchBaseline`)."""

from __future__ import annotations

from typing import Any

from tap_intercom.deletions import (
    NEWEST_CREATED_KEY,
    SEARCH_LAG_ALLOWANCE_SECONDS,
    SKETCH_KEY,
    IdReconciliation,
    SearchBaseline,
)

NEWEST = 1_000_000
CUTOFF = NEWEST - SEARCH_LAG_ALLOWANCE_SECONDS


def _contact(ident: str, updated_at: Any, created_at: Any = 100) -> dict[str, Any]:
    return {"id": ident, "updated_at": updated_at, "created_at": created_at}


def _sketch_of(pages: list[list[dict[str, Any]]]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    baseline = SearchBaseline(IdReconciliation(state, capacity=50), NEWEST)
    for page in pages:
        baseline.add_page(page)
    baseline.finish()
    baseline.reconciliation.save()
    return state


def _listing_of(ids: list[tuple[str, Any]]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    reconciliation = IdReconciliation(state, capacity=50)
    reconciliation.add_all(ids)
    reconciliation.save()
    return state


def test_ids_seen_twice_while_the_search_ran_count_once() -> None:
    """A record changed during the run comes again at the end: the sketch is the one a
    listing of the same ids gives, whichever part (before or after the cutoff) saw it
    first."""
    pages = [
        [_contact("a", 10), _contact("b", 20), _contact("c", CUTOFF - 1)],
        [_contact("d", CUTOFF), _contact("e", NEWEST, created_at=NEWEST)],
        # changed during the run: a and c (first seen below the cutoff), d (above it),
        # e twice more; a string `updated_at` (drift) is held like a recent one
        [_contact("a", NEWEST + 5), _contact("c", NEWEST + 6), _contact("d", NEWEST + 6)],
        [_contact("e", NEWEST + 7, created_at=NEWEST), _contact("e", NEWEST + 9, NEWEST)],
        [_contact("f", "1999"), _contact("f", NEWEST + 10)],
    ]
    state = _sketch_of(pages)
    expected = _listing_of(
        [("a", 100), ("b", 100), ("c", 100), ("d", 100), ("e", NEWEST), ("f", 100)]
    )
    assert state[SKETCH_KEY] == expected[SKETCH_KEY]
    assert state[NEWEST_CREATED_KEY] == NEWEST  # the next listing compares up to the newest seen


def test_the_next_listing_finds_exactly_the_ids_gone() -> None:
    pages = [[_contact(f"id{n}", n) for n in range(0, 300, 3)], [_contact("id3", NEWEST + 1)]]
    state = _sketch_of(pages)
    listing = IdReconciliation(state, capacity=50)
    listing.add_all((f"id{n}", 100) for n in range(0, 300, 3) if n not in (6, 150))
    listing.add_all([("new", NEWEST + 100)])  # created after the sketch: not compared
    difference = listing.finish()
    assert sorted(difference.removed) == ["id150", "id6"]
    assert difference.added == [] and difference.complete
