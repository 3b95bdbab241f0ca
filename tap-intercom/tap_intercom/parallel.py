"""A bounded worker pool for per-item endpoints that keeps order and checkpoints honest.

Items are fetched up to `max_workers` at a time (the shared pacer keeps them inside
the rate budget); results come out in input order, and a batch's checkpoint comes
out only after every item of that batch, so a STATE never covers unfetched items.
Listing the next batch of parents overlaps with fetching the current one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Checkpoint = TypeVar("Checkpoint")

# Items queued per worker: enough that no worker idles while the next batch of
# parents is listed, few enough that memory stays small.
QUEUED_PER_WORKER = 4


def ordered_parallel_map(
    fetch: Callable[[Item], list[Result]],
    batches: Iterable[tuple[list[Item], Checkpoint | None]],
    max_workers: int,
) -> Iterator[tuple[list[Result], Checkpoint | None]]:
    """For every item, `(fetch(item), None)` in input order; after each batch that has
    a checkpoint, `([], checkpoint)`. A failed fetch raises here, in order."""
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="intercom")
    pending: deque[tuple[Future[list[Result]] | None, Checkpoint | None]] = deque()
    limit = max_workers * QUEUED_PER_WORKER
    try:
        for items, checkpoint in batches:
            for item in items:
                pending.append((pool.submit(fetch, item), None))
                while len(pending) > limit:
                    yield _result(pending.popleft())
            if checkpoint is not None:
                pending.append((None, checkpoint))
        while pending:
            yield _result(pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(
    entry: tuple[Future[list[Result]] | None, Checkpoint | None],
) -> tuple[list[Result], Checkpoint | None]:
    future, checkpoint = entry
    return (future.result(), None) if future is not None else ([], checkpoint)
