"""The id sketch names the ids that left a set, within its capacity, from a small state."""

from __future__ import annotations

import hashlib
import random

import pytest
from tap_intercom.deletions import IdReconciliation
from tap_intercom.idsketch import IdSketch, cells_for, digest


def _ids(n: int, seed: int = 1) -> list[str]:
    r = random.Random(seed)
    return [f"{r.getrandbits(96):024x}" for _ in range(n)]


def _sketch(ids: list[str], cells: int) -> IdSketch:
    sketch = IdSketch(cells)
    for ident in ids:
        sketch.add(ident)
    return sketch


@pytest.mark.parametrize("capacity", [1, 20, 300])
def test_names_every_removed_and_added_id_up_to_its_capacity(capacity):
    ids = _ids(5_000)
    gone = set(random.Random(2).sample(ids, capacity // 2 + 1))
    new = _ids(capacity // 2, seed=3)
    cells = cells_for(capacity)
    before = _sketch(ids, cells)
    after = _sketch([i for i in ids if i not in gone] + new, cells)
    difference = before.difference(after)
    assert difference.complete
    assert set(difference.removed) == gone
    assert set(difference.added) == set(new)


def test_an_overflow_is_reported_and_what_it_names_is_right():
    ids = _ids(3_000)
    gone = set(ids[:500])
    cells = cells_for(50)
    difference = _sketch(ids, cells).difference(_sketch(ids[500:], cells))
    assert not difference.complete and difference.undecoded_cells > 0
    assert set(difference.removed) <= gone and not difference.added


def test_an_id_set_fills_the_cells_earlier_versions_filled():
    """A sketch in the state, saved by an earlier version, is compared with this
    version's: the same ids must fill the same cells alike, added one by one or a
    page at a time (the cells' digest is pinned)."""
    r = random.Random(7)
    ids = [f"{r.getrandbits(96):024x}" for _ in range(500)] + [str(n) for n in range(1, 500)]
    one_by_one = _sketch(ids, cells_for(100))
    by_page = IdSketch(cells_for(100))
    for start in range(0, len(ids), 150):
        by_page.add_all(digest(ident) for ident in ids[start : start + 150])
    for sketch in (one_by_one, by_page):
        cells = repr((sketch.counts, sketch.keys, sketch.checks)).encode()
        assert hashlib.sha256(cells).hexdigest() == (
            "aa561d62006208f8908ed73363d1a70bd9d788600ccc47e33e39ff08f250a2b6"
        )


def test_the_state_text_round_trips_and_stays_small():
    sketch = _sketch(_ids(100_000), cells_for(1_000))
    text = sketch.to_text()
    assert len(text) < 100_000  # against 2.4 MB for the ids themselves
    again = IdSketch.from_text(text)
    assert again.difference(sketch).complete and not again.difference(sketch).removed
    with pytest.raises(ValueError, match="not an id sketch"):
        IdSketch.from_text("bm90IGEgc2tldGNo")
    with pytest.raises(ValueError, match="cannot be carried"):
        IdSketch(60).add("x" * 25)


def test_reconciliation_compares_only_ids_created_before_the_last_listing_ended():
    state: dict = {}
    first = IdReconciliation(state, capacity=10)
    first.add_all((ident, 1_000 + n) for n, ident in enumerate(_ids(200)))
    assert not first.finish().removed and not first.has_baseline
    first.save()
    second = IdReconciliation(state, capacity=10)
    survivors = _ids(200)[5:]
    second.add_all((ident, 1_005 + n) for n, ident in enumerate(survivors))
    # many new ones: not compared
    second.add_all((ident, 2_000 + n) for n, ident in enumerate(_ids(5_000, seed=9)))
    difference = second.finish()
    assert difference.complete and set(difference.removed) == set(_ids(200)[:5])
    assert not difference.added


def test_an_overflowing_reconciliation_grows_the_next_sketch():
    state: dict = {}
    first = IdReconciliation(state, capacity=10)
    first.add_all((ident, 1) for ident in _ids(1_000))
    first.save()
    second = IdReconciliation(state, capacity=10)
    second.add_all((ident, 1) for ident in _ids(1_000)[400:])
    assert not second.finish().complete
    second.save()
    assert state["id_sketch_cells"] > cells_for(10)
    assert len(IdReconciliation(state, capacity=10).current) == state["id_sketch_cells"]
