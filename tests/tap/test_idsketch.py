"""The id sketch names the ids that left a set, within its capacity, from a small state."""

from __future__ import annotations

import random

import pytest
from tap_intercom.deletions import IdReconciliation
from tap_intercom.idsketch import IdSketch, cells_for


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
    for n, ident in enumerate(_ids(200)):
        first.add(ident, 1_000 + n)
    assert not first.finish().removed and not first.has_baseline
    first.save()
    second = IdReconciliation(state, capacity=10)
    survivors = _ids(200)[5:]
    for n, ident in enumerate(survivors):
        second.add(ident, 1_005 + n)
    for n, ident in enumerate(_ids(5_000, seed=9)):  # many new ones: not compared
        second.add(ident, 2_000 + n)
    difference = second.finish()
    assert difference.complete and set(difference.removed) == set(_ids(200)[:5])
    assert not difference.added


def test_an_overflowing_reconciliation_grows_the_next_sketch():
    state: dict = {}
    first = IdReconciliation(state, capacity=10)
    for ident in _ids(1_000):
        first.add(ident, 1)
    first.save()
    second = IdReconciliation(state, capacity=10)
    for ident in _ids(1_000)[400:]:
        second.add(ident, 1)
    assert not second.finish().complete
    second.save()
    assert state["id_sketch_cells"] > cells_for(10)
    assert len(IdReconciliation(state, capacity=10).current) == state["id_sketch_cells"]
