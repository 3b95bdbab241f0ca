"""The ordered worker pool: order, checkpoints after their batch, errors, bounds."""

from __future__ import annotations

import random
import threading
import time

import pytest
from tap_intercom.parallel import ordered_parallel_map


def test_results_keep_input_order_and_checkpoints_follow_their_batch():
    running = 0
    most = 0
    lock = threading.Lock()

    def fetch(item: int) -> list[int]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(random.uniform(0, 0.01))
        with lock:
            running -= 1
        return [item, item]

    batches = [([1, 2, 3], None), ([4, 5], "cp1"), ([6], None), ([], "cp2")]
    out = list(ordered_parallel_map(fetch, iter(batches), max_workers=3))
    flat = [value for records, _ in out for value in records]
    assert flat == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    checkpoints = [(index, cp) for index, (_, cp) in enumerate(out) if cp is not None]
    assert [cp for _, cp in checkpoints] == ["cp1", "cp2"]
    # "cp1" comes right after item 5's results, "cp2" after item 6's.
    assert out[checkpoints[0][0] - 1] == ([5, 5], None)
    assert out[checkpoints[1][0] - 1] == ([6, 6], None)
    assert 1 < most <= 3


def test_a_failed_fetch_raises_in_order():
    def fetch(item: int) -> list[int]:
        if item == 3:
            raise RuntimeError("boom")
        return [item]

    results = ordered_parallel_map(fetch, iter([([1, 2, 3, 4], None)]), max_workers=2)
    assert next(results) == ([1], None)
    assert next(results) == ([2], None)
    with pytest.raises(RuntimeError, match="boom"):
        next(results)


def _concurrency_probe(delay: float):
    """A fetch that records the most items running at once."""
    state = {"running": 0, "most": 0}
    lock = threading.Lock()

    def fetch(item: int) -> list[int]:
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
        time.sleep(delay)
        with lock:
            state["running"] -= 1
        return [item]

    return fetch, state


def test_in_flight_follows_the_target_not_the_bound():
    fetch, state = _concurrency_probe(0.02)
    out = list(ordered_parallel_map(fetch, iter([(list(range(200)), None)]), 100, lambda: 5))
    assert [records for records, _ in out] == [[item] for item in range(200)]
    assert state["most"] <= 5


def test_the_bound_caps_a_larger_target():
    fetch, state = _concurrency_probe(0.02)
    list(ordered_parallel_map(fetch, iter([(list(range(200)), None)]), 6, lambda: 50))
    assert 1 < state["most"] <= 6


def test_without_a_target_concurrency_grows_from_a_few():
    fetch, state = _concurrency_probe(0.01)
    list(ordered_parallel_map(fetch, iter([(list(range(300)), None)]), 40))
    # Starts at a handful, one more per finished item: well above the start, never
    # above the bound.
    assert 10 < state["most"] <= 40


def test_a_slow_first_item_bounds_the_results_held_for_ordering():
    started: list[int] = []

    def fetch(item: int) -> list[int]:
        started.append(item)
        time.sleep(1.0 if item == 0 else 0.001)
        return [item]

    results = ordered_parallel_map(fetch, iter([(list(range(1000)), None)]), 50, lambda: 4)
    assert next(results) == ([0], None)
    # While item 0 ran, the others finished but only a bounded number were started.
    assert len(started) < 4 * 2 + 16 + 4 + 1
    assert len(list(results)) == 999


def test_checkpoints_between_items_take_no_room_from_the_ordering_queue():
    # Every parent its own change time: a checkpoint after each item. While a slow
    # first item runs, as many others are fetched as without checkpoints.
    started: list[int] = []

    def fetch(item: int) -> list[int]:
        started.append(item)
        time.sleep(1.0 if item == 0 else 0.001)
        return [item]

    batches = iter([([item], item) for item in range(1000)])
    results = ordered_parallel_map(fetch, batches, 50, lambda: 4)
    assert next(results) == ([0], None)
    assert 4 * 2 + 16 <= len(started) < 4 * 2 + 16 + 4 + 1
    rest = list(results)
    assert [checkpoint for _, checkpoint in rest if checkpoint is not None] == list(range(1000))
    assert [records for records, _ in rest if records] == [[item] for item in range(1, 1000)]
