"""An adaptive worker pool for per-item endpoints that keeps order and checkpoints honest.

Items are fetched by threads (`requests` is synchronous, and the pacer, sessions and
retries are thread-based already). How many run at once is not a fixed figure: after
every finished item the pool asks `in_flight_target` (the workspace pacer's Little's
law estimate: the rate the rate-limit window still allows times the observed latency)
and starts new items only below it, never above `max_workers`. Until the budget and
the latency are known it starts small and grows by one per finished item.

Little's law assumes the latency does not depend on us. Where the server (or this
process) is the bottleneck, more requests in flight only queue: the latency grows with
them, and so would the estimate, up to `max_workers` threads that bring nothing. So
above a few dozen in flight, concurrency also has to pay in throughput
(`ConcurrencyLimit`): it climbs in steps, each kept only if the items finished per
second grew with it.

Results come out in input order, and a batch's checkpoint comes out only after every
item of that batch, so a STATE never covers unfetched items. Finished results wait
for the slowest earlier item in a bounded queue; listing the next batch of parents
overlaps with fetching the current one.
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Checkpoint = TypeVar("Checkpoint")

# Items in flight before the first answers tell the budget and the latency.
INITIAL_IN_FLIGHT = 4
# Finished results held for ordering, per item in flight (plus a few): enough that
# one slow item does not stall the others at once, bounded so memory stays small.
QUEUED_PER_IN_FLIGHT = 2
QUEUED_EXTRA = 16
# The ceiling in flight at the start: threads and queued requests this few cost
# little, and the budget's pace at short latencies needs no more.
FREE_IN_FLIGHT = 32
# Above that, the ceiling climbs by this factor per period that shows the last climb
# paid: throughput grew by at least PAYBACK of the concurrency's relative growth (a
# latency-bound server gives all of it, a saturated one none; the margin absorbs the
# noise of a shared machine). Until a climb first fails to pay it doubles instead (a
# slow start): at 1 s a request, a budget of 100 a second is then two climbs away
# from FREE_IN_FLIGHT instead of three, and each climb is a round trip or two at
# part speed.
SLOW_START_CLIMB = 2.0
CLIMB = 1.5
PAYBACK = 0.5
# A measuring period: a round trip's worth of items at the limit, at least
# PERIOD_MIN_ITEMS and PERIOD_MIN_SECONDS. After the ceiling moves, the items started
# before it moved finish first, outside any period: they would blur the new level's
# throughput with the old one's.
PERIOD_MIN_ITEMS = 16
PERIOD_MIN_SECONDS = 0.25
# After a climb that did not pay, try again this much later: the server may have
# become faster, the latency longer, or the budget larger; or the climb was judged on
# noise, which the first retry, soon, puts right. Each failure in a row doubles the
# wait, up to RETRY_SECONDS, so a saturated server is probed rarely.
FIRST_RETRY_SECONDS = 5.0
RETRY_SECONDS = 30.0


class ConcurrencyLimit:
    """How many items may be in flight: the pacer's estimate, within `[1, ceiling]`.

    The ceiling is what throughput has justified. It starts at FREE_IN_FLIGHT; when a
    period runs at the ceiling, the ceiling climbs (by SLOW_START_CLIMB until a climb
    first fails, then by CLIMB), an experiment judged by the first period that runs at
    the new level against the one just before the climb: kept (and the next climb
    allowed) if the items finished per second followed; if not, the ceiling goes back
    and the climb is retried, from a fresh measurement, after FIRST_RETRY_SECONDS,
    twice as long after each further failure in a row (up to RETRY_SECONDS), and
    FIRST_RETRY_SECONDS again once a climb has paid. Only climbs are judged: the
    pacer's estimate also moves the number in flight (down as a window's budget runs
    out, up as a new one starts, up as the latency grows), and those moves say nothing
    about queueing.
    """

    def __init__(
        self,
        upper: int,
        in_flight_target: Callable[[], int | None],
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
        budget_waits: Callable[[], int] = lambda: 0,
    ) -> None:
        self.upper = upper
        self._logger = logger
        self._target = in_flight_target
        self._budget_waits = budget_waits
        self._clock = clock
        self.ceiling = min(FREE_IN_FLIGHT, upper)
        self.current = min(INITIAL_IN_FLIGHT, upper)
        # (mean in flight, items per second) of the period before a climb being judged.
        self._climbed_from: tuple[float, float] | None = None
        self._climb = SLOW_START_CLIMB
        self._retry_at = math.inf
        self._retry_wait = FIRST_RETRY_SECONDS
        self._settling = 0  # items still to finish from before the ceiling moved
        self._start_period(clock())

    def _start_period(self, now: float) -> None:
        self._period_start = now
        self._period_budget_waits = self._budget_waits()
        self._period_below_ceiling = False
        self._period_items = self._period_in_flight = self._period_at_limit = 0

    def item_finished(self, in_flight: int) -> None:
        """One item finished while `in_flight` were running (itself included). Follow
        the pacer's estimate (without one, grow by one: a doubling per round trip)
        under the ceiling, and judge the ceiling when a period is complete."""
        now = self._clock()
        if self._settling:
            self._settling -= 1
            if not self._settling:
                self._start_period(now)
        else:
            self._period_items += 1
            self._period_in_flight += in_flight
            self._period_at_limit += in_flight >= self.current
            elapsed = now - self._period_start
            if (
                self._period_items >= max(PERIOD_MIN_ITEMS, self.current)
                and elapsed >= PERIOD_MIN_SECONDS
            ):
                ceiling = self.ceiling
                # Only a period spent at the ceiling says what a climb brought: not one
                # where the parents' listing kept the pool short of items, where the
                # pacer's estimate held it lower, or where the rate budget held
                # requests back (its throughput is the budget's, whatever the number
                # in flight).
                if (
                    2 * self._period_at_limit >= self._period_items
                    and not self._period_below_ceiling
                    and self._budget_waits() == self._period_budget_waits
                ):
                    self._judge(
                        self._period_in_flight / self._period_items,
                        self._period_items / elapsed,
                    )
                self._start_period(now)
                if self.ceiling != ceiling:
                    self._settling = in_flight
        if now >= self._retry_at:
            self._retry_at = math.inf  # the next period at the ceiling climbs again
        target = self._target()
        wanted = self.current + 1 if target is None else target
        self.current = max(1, min(self.ceiling, wanted))
        self._period_below_ceiling |= self.current < self.ceiling

    def _judge(self, in_flight: float, throughput: float) -> None:
        before, self._climbed_from = self._climbed_from, None
        if before is not None and in_flight >= before[0] * self._climb * 0.95:
            growth = in_flight / before[0] - 1
            if throughput - before[1] < PAYBACK * growth * before[1]:
                # The extra requests only queued: back to the level before the climb.
                self.ceiling = max(1, min(self.upper, math.ceil(before[0])))
                self._climb = CLIMB
                self._retry_at = self._clock() + self._retry_wait
                if self._logger is not None:
                    self._logger.info(
                        "%.0f requests in flight gave %.0f items/s, %.0f gave %.0f: "
                        "at most %d in flight for %.0f s",
                        before[0],
                        before[1],
                        in_flight,
                        throughput,
                        self.ceiling,
                        self._retry_wait,
                    )
                self._retry_wait = min(2 * self._retry_wait, RETRY_SECONDS)
                return
            self._retry_wait = FIRST_RETRY_SECONDS  # it paid: failures in a row start over
        if self.current >= self.ceiling and self._retry_at == math.inf:
            self._climbed_from = (in_flight, throughput)
            self.ceiling = min(self.upper, math.ceil(self.ceiling * self._climb))


def ordered_parallel_map(
    fetch: Callable[[Item], list[Result]],
    batches: Iterable[tuple[list[Item], Checkpoint | None]],
    max_workers: int,
    in_flight_target: Callable[[], int | None] = lambda: None,
    logger: logging.Logger | None = None,
    budget_waits: Callable[[], int] = lambda: 0,
) -> Iterator[tuple[list[Result], Checkpoint | None]]:
    """For every item, `(fetch(item), None)` in input order; after each batch that has
    a checkpoint, `([], checkpoint)`. A failed fetch raises here, in order.
    `budget_waits` counts the requests the rate budget has held back so far (the
    pacer's `waits`). `logger` (if any) is told when more in flight stopped paying,
    and at the end the most items that were in flight."""
    limit = ConcurrencyLimit(
        max_workers, in_flight_target, logger=logger, budget_waits=budget_waits
    )
    # Threads start only when an item finds none idle: a high `max_workers` costs
    # nothing where the budget needs few.
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="intercom")
    pending: deque[tuple[Future[list[Result]] | None, Checkpoint | None]] = deque()
    finished: queue.SimpleQueue[None] = queue.SimpleQueue()
    # Items in `pending` (running or done, not yet yielded): the ordering queue's bound
    # counts these, not the checkpoints between them (one per parent, when every
    # parent has its own change time, which would halve the room).
    running = most = queued = 0

    def collect(block: bool) -> None:
        nonlocal running
        try:
            finished.get(block=block)
            while True:
                limit.item_finished(running)
                running -= 1
                finished.get_nowait()
        except queue.Empty:
            pass

    def oldest() -> tuple[list[Result], Checkpoint | None]:
        nonlocal queued
        entry = pending.popleft()
        queued -= entry[0] is not None
        return _result(entry)

    try:
        for items, checkpoint in batches:
            for item in items:
                while True:
                    collect(block=False)
                    while pending and (pending[0][0] is None or pending[0][0].done()):
                        yield oldest()
                    if queued >= QUEUED_PER_IN_FLIGHT * limit.current + QUEUED_EXTRA:
                        yield oldest()  # the oldest holds everyone up
                    elif running < limit.current:
                        break
                    else:
                        collect(block=True)
                future = pool.submit(fetch, item)
                running += 1
                queued += 1
                most = max(most, running)
                future.add_done_callback(lambda _: finished.put(None))
                pending.append((future, None))
            if checkpoint is not None:
                pending.append((None, checkpoint))
        while pending:
            yield oldest()
        if logger is not None:
            logger.info("Up to %d requests in flight (max_workers %d)", most, max_workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(
    entry: tuple[Future[list[Result]] | None, Checkpoint | None],
) -> tuple[list[Result], Checkpoint | None]:
    future, checkpoint = entry
    return (future.result(), None) if future is not None else ([], checkpoint)
