"""The ordered worker pool: order, checkpoints after their batch, errors, bounds, and a
concurrency that climbs only while it pays."""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
from collections.abc import Callable

import pytest
from tap_intercom.pacing import ConcurrencyLimit, ordered_parallel_map


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


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _serve(
    upper: int,
    target: int | Callable[[float], int],
    seconds: float,
    throughput: Callable[[float, int], float],
    held_back: Callable[[float], bool] = lambda _: False,
) -> list[tuple[float, int]]:
    """Run a limit against a server that, at time t with n in flight, finishes
    `throughput(t, n)` items a second (the pool always at its limit), with the pacer's
    estimate `target` (or `target(t)`), and the budget holding requests back when
    `held_back(t)`. Returns the limit after every finished item, with its time."""
    clock = _Clock()
    estimate = target if callable(target) else lambda _: target
    waits = 0
    limit = ConcurrencyLimit(upper, lambda: estimate(clock.now), clock, budget_waits=lambda: waits)
    seen = []
    while clock.now < seconds:
        running = limit.current
        clock.now += 1 / throughput(clock.now, running)
        waits += held_back(clock.now)
        limit.item_finished(running)
        seen.append((clock.now, limit.current))
    return seen


def _serve_one_by_one(
    upper: int, target: Callable[[float], int], latency: float, seconds: float
) -> list[tuple[float, int, int]]:
    """Run a limit against requests that each take `latency`, refilling the pool to
    its limit after every answer (the lag between a change of the limit and its
    throughput included). Returns (time, limit, ceiling) after every answer."""
    clock = _Clock()
    limit = ConcurrencyLimit(upper, lambda: target(clock.now), clock)
    answers: list[float] = []
    seen = []
    while clock.now < seconds:
        while len(answers) < limit.current:
            heapq.heappush(answers, clock.now + latency)
        running = len(answers)
        clock.now = heapq.heappop(answers)
        limit.item_finished(running)
        seen.append((clock.now, limit.current, limit.ceiling))
    return seen


def test_the_pacer_moving_the_number_in_flight_is_not_taken_for_queueing():
    # 1 s per request; the budget's estimate asks for 170 in flight, and for 60 in the
    # last 2 s of each 10-s window (its budget running out). Throughput follows the
    # number in flight one round trip late, both ways: no reason to cap anything.
    seen = _serve_one_by_one(200, lambda now: 170 if now % 10 < 8 else 60, 1.0, 120)
    assert all(ceiling >= 170 for t, _, ceiling in seen if t > 20)


def test_concurrency_climbs_to_the_budget_where_the_latency_sets_the_pace():
    # 1 s per request, whatever the number in flight; the budget's pace needs 167.
    seen = _serve(200, 167, 40, lambda _, running: running / 1.0)
    assert max(current for _, current in seen) == 167
    assert all(current == 167 for t, current in seen if t > 20)


def test_concurrency_stops_climbing_where_the_server_is_the_bottleneck():
    # The server finishes 1,000 items a second, from 10 in flight up: more only queue.
    # The pacer's estimate (rate times the queueing latency) would ask for the bound.
    seen = _serve(200, 200, 300, lambda _, running: 100 * min(running, 10))
    # A climb that does not pay is undone within a period, and retried ever more
    # rarely (below): the pool spends nearly all its time at the free level.
    assert max(current for _, current in seen) <= 64
    assert sum(current > 32 for t, current in seen if t > 5) < 0.02 * len(seen)


def _climbs(seen: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """(time, new level) wherever the level changed in a series of (time, level)."""
    changes: list[tuple[float, int]] = []
    for t, level in seen:
        if not changes or changes[-1][1] != level:
            changes.append((t, level))
    return changes


def test_the_ceiling_doubles_until_a_climb_does_not_pay():
    # 1 s per request and the budget's 101 in flight: two climbs from 32, not three.
    seen = _serve_one_by_one(200, lambda _: 101, 1.0, 30)
    assert [ceiling for _, ceiling in _climbs([(t, c) for t, _, c in seen])] == [32, 64, 128]
    assert all(current == 101 for t, current, _ in seen if t > 4.5)
    # On a saturated server, the first climb (to 64) does not pay: from then on 1.5x.
    seen_saturated = _serve(200, 200, 60, lambda _, running: 100 * min(running, 10))
    assert [level for _, level in _climbs(seen_saturated)][:6] == [32, 64, 32, 48, 32, 48]


def test_a_failed_climb_is_retried_soon_then_ever_more_rarely():
    # Saturated from 10 in flight: every climb fails. The first retry comes 5 s after
    # the failure (a climb judged on noise is soon put right), each next one twice as
    # long after, up to 30 s.
    seen = _serve(200, 200, 130, lambda _, running: 100 * min(running, 10))
    retries = [t for t, level in _climbs(seen) if level > 32][1:]  # after the first (64)
    gaps = [later - earlier for earlier, later in itertools.pairwise(retries)]
    assert retries[0] < 7
    assert [round(gap / 5) * 5 for gap in gaps] == [10, 20, 30, 30, 30]


def test_a_climb_that_pays_makes_the_next_retry_soon_again():
    # Saturated for a minute (the retries are 30 s apart by then), then 1 s a request
    # up to 80 in flight: the climbs to 48 and 72 pay, the one to 108 does not and is
    # retried 5 s later, not 30.
    def server(now: float, running: int) -> float:
        return 100 * min(running, 10) if now < 60 else min(running, 80) / 1.0

    climbs = [t for t, level in _climbs(_serve(200, 200, 100, server)) if level == 108]
    assert 5 < climbs[1] - climbs[0] < 8


def test_concurrency_climbs_again_once_the_server_is_no_longer_the_bottleneck():
    # Saturated at 10 in flight for a minute, then 0.5 s per request at any number.
    def server(now: float, running: int) -> float:
        return 100 * min(running, 10) if now < 60 else running / 0.5

    seen = _serve(200, 150, 200, server)
    assert max(current for t, current in seen if t < 60) <= 72
    assert all(current == 150 for t, current in seen if t > 160)


def test_concurrency_follows_a_longer_latency_on_the_budget():
    # The budget's 166 a second at 300 ms per request, then at 600 ms: the estimate
    # doubles with no more throughput than before, which is not queueing. In the last
    # 2 s of every 10-s window the estimate asks for twice as many (a window's budget
    # to catch up on), which brings nothing and is undone.
    def latency(now: float) -> float:
        return 0.3 if now < 60 else 0.6

    def estimate(now: float) -> int:
        return math.ceil(166 * latency(now) * (2 if catching_up(now) else 1)) + 1

    def catching_up(now: float) -> bool:  # the budget holds back what goes beyond it
        return now % 10 > 8

    seen = _serve(
        200,
        estimate,
        300,
        lambda now, running: min(running / latency(now), 166),
        catching_up,
    )
    steady = [(t, current) for t, current in seen if t % 10 < 8]
    assert all(current == 51 for t, current in steady if 20 < t < 60)
    assert all(current == 101 for t, current in steady if t > 150)


def test_periods_the_budget_held_back_say_nothing_about_queueing():
    # 300 ms per request; from 1 s to 4 s into every 10-s window the budget is spent
    # and the pacer lets only a trickle through, whatever the number in flight (here
    # while the ceiling is still climbing).
    def held_back(now: float) -> bool:
        return 1 <= now % 10 < 4

    seen = _serve(
        200, 101, 300, lambda now, running: 20 if held_back(now) else running / 0.3, held_back
    )
    assert all(current == 101 for t, current in seen if t > 5 and not held_back(t))


def test_a_saturated_server_does_not_draw_the_upper_bound_of_threads():
    # One request served at a time, 2 ms each: 500 a second at any concurrency, and a
    # target (the budget's estimate) that would ask for all 200.
    fetch, state = _concurrency_probe(0.0)
    server = threading.Lock()

    def served(item: int) -> list[int]:
        with server:
            time.sleep(0.002)
        return fetch(item)

    list(ordered_parallel_map(served, iter([(list(range(2_500)), None)]), 200, lambda: 200))
    assert state["most"] <= 64
