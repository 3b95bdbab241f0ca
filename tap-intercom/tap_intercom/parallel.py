"""An adaptive worker pool for per-item endpoints that keeps order and checkpoints honest.

Items are fetched by threads (`requests` is synchronous, and the pacer, sessions and
retries are thread-based already). How many run at once is not a fixed figure: after
every finished item the pool asks `in_flight_target` (the workspace pacer's Little's
law estimate: the rate the rate-limit window still allows times the observed latency)
and starts new items only below it, never above `max_workers`. Until the budget and
the latency are known it starts small and grows by one per finished item.

Results come out in input order, and a batch's checkpoint comes out only after every
item of that batch, so a STATE never covers unfetched items. Finished results wait
for the slowest earlier item in a bounded queue; listing the next batch of parents
overlaps with fetching the current one.
"""

from __future__ import annotations

import logging
import queue
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


class ConcurrencyLimit:
    """How many items may be in flight: the pacer's estimate, within `[1, upper]`."""

    def __init__(self, upper: int, in_flight_target: Callable[[], int | None]) -> None:
        self.upper = upper
        self._target = in_flight_target
        self.current = min(INITIAL_IN_FLIGHT, upper)

    def item_finished(self) -> None:
        """Follow the estimate; without one, grow by one (a doubling per round trip)."""
        target = self._target()
        wanted = self.current + 1 if target is None else target
        self.current = max(1, min(self.upper, wanted))


def ordered_parallel_map(
    fetch: Callable[[Item], list[Result]],
    batches: Iterable[tuple[list[Item], Checkpoint | None]],
    max_workers: int,
    in_flight_target: Callable[[], int | None] = lambda: None,
    logger: logging.Logger | None = None,
) -> Iterator[tuple[list[Result], Checkpoint | None]]:
    """For every item, `(fetch(item), None)` in input order; after each batch that has
    a checkpoint, `([], checkpoint)`. A failed fetch raises here, in order. At the end,
    `logger` (if any) is told the most items that were in flight."""
    limit = ConcurrencyLimit(max_workers, in_flight_target)
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
                running -= 1
                limit.item_finished()
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
