"""Pacing: every rule that decides when a request to Intercom may go, how many may be
in flight, and how long to wait after a refusal or an error. Callers hand work to it
(`Pacing.send`, `Pacing.map_in_order`, `retry_waits`) and make no pacing decision of
their own.

- When the next request may go: one `RateLimitPacer` per run (the tap's), shared by
  every stream and thread. Intercom counts requests over 10-second windows
  and reports the budget on every response (`X-RateLimit-Limit`, `-Remaining`,
  `-Reset`). The pacer keeps a local estimate of what is left in the current window:
  each request takes one unit before it is sent, each answer corrects the estimate,
  and when it runs out every caller waits for the reset (plus a little jitter, so
  threads do not stampede) instead of provoking 429s.
- How many may be in flight: per-item fetchers keep the pacer's Little's law
  estimate in flight (`sustainable_in_flight`): the rate that spends what is left of
  the window by its reset, times the observed round-trip time. Concurrency then
  grows while the window has room and shrinks as it runs out, before any 429; the
  budget itself caps the request rate whatever the concurrency. Where the server is
  the bottleneck, more in flight only queues, so above a few dozen a climb must also
  pay in throughput (`ConcurrencyLimit`), and never beyond `max_workers`. Searches
  list `WINDOWS_AT_ONCE` windows at once.
- How long to wait after a refusal or an error (`retry_waits`): after a 429, only
  jitter (the pacer already holds every thread until the reset), up to
  `MAX_RATE_LIMITED_TRIES` times; after a transient failure, exponential backoff
  with jitter, capped, up to `MAX_TRIES` attempts. The companies scroll, of which
  Intercom allows one open at a time, has its own waits (`SCROLL_*`).

Per-item requests go through `ordered_parallel_map`, a pool of threads (`requests` is
synchronous) that starts items only below the `ConcurrencyLimit`. Results come out
in input order, and a batch's checkpoint only after every item of that batch, so a
STATE never covers unfetched items; finished results wait for the slowest earlier
item in a bounded queue.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from tap_intercom.errors import ANSWER_ERRORS, RateLimitedError

Answer = TypeVar("Answer")
Item = TypeVar("Item")
Result = TypeVar("Result")
Checkpoint = TypeVar("Checkpoint")

# -- when the next request may go (the rate budget) ---------------------------------

# Intercom's windows are 10 s long: never trust a reset further away than this (a
# server clock ahead of ours must not freeze the tap).
MAX_WINDOW_SECONDS = 10.0
# Requests kept in hand per window, against small disagreements between our clock
# and the server's window boundaries.
SAFETY_MARGIN = 2
# Longest random delay added to a wait for the window's reset, so that the threads
# waiting for it do not all send at the same instant.
RESET_JITTER_SECONDS = 0.25
# Weight of each new round-trip time in the running latency estimate: a few dozen
# responses settle it, one slow answer does not swing it.
LATENCY_WEIGHT = 0.1

# -- how many requests may be in flight -----------------------------------------------

# The catch-up rate near a window's end never exceeds this multiple of the steady
# rate (limit / window): a window that was barely used must not ask for a huge pool.
MAX_CATCH_UP = 2.0
# Below this many seconds left in a window, the rate is computed over this horizon
# instead: what remains of the window is too short to measure a rate on. Short, so
# that the number in flight does not fall ahead of the window's end (by up to a round
# trip); what it holds back, a quarter second's taper, hedges against the server's
# window turning before ours.
MIN_HORIZON_SECONDS = 0.25
# Upper bound of requests in flight for per-item endpoints (`max_workers`): it must
# not be what limits the working figure, which adapts. A 1,666-per-10 s budget at
# 1 s latency keeps about 167 requests in flight; 200 leaves room for latency swings.
# Threads start only when needed, so a bound the budget never reaches is free.
DEFAULT_MAX_WORKERS = 200
# Items in flight before the first answers tell the budget and the latency.
INITIAL_IN_FLIGHT = 4
# The ceiling in flight at the start: threads and queued requests this few cost
# little, and the budget's pace at short latencies needs no more.
FREE_IN_FLIGHT = 32
# Above that, the ceiling climbs by this factor per period that shows the last climb
# paid: throughput grew by at least PAYBACK of the concurrency's relative growth (a
# latency-bound server gives all of it, a saturated one none; the margin absorbs the
# noise of a shared machine). Until a climb first fails to pay it doubles instead (a
# slow start), so that a large budget at a long latency is reached in few climbs.
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
# Finished results the ordered pool holds while an earlier item is still running, per
# item in flight (plus a few): enough that one slow item does not stall the others at
# once, bounded so memory stays small.
QUEUED_PER_IN_FLIGHT = 2
QUEUED_EXTRA = 16
# Search windows listed at the same time. A window's pages follow each other (a
# cursor): at 1 s a page one window lists 150 records a second, under the 167
# requests a second of Intercom's default budget that their children (one request
# each) may spend. Three list 450 a second, enough up to about 2.5 s a page.
WINDOWS_AT_ONCE = 3

# -- how long to wait after a refusal or an error ------------------------------------

# Attempts per request for transient failures (5xx, drops, broken bodies).
MAX_TRIES = 8
# 429s are retried apart: each waits for the window to reset, and a storm of them must
# not use up the attempts meant for real failures.
MAX_RATE_LIMITED_TRIES = 30
# After a 429 a retry waits only this jitter (seconds, uniform): the pacer holds the
# thread, and every other, until the window resets.
RATE_LIMITED_JITTER_SECONDS = (0.1, 1.0)
# After a transient failure: BACKOFF_BASE_SECONDS, doubled per attempt, at most
# MAX_BACKOFF_SECONDS, times a random factor in BACKOFF_JITTER (threads that failed
# together do not retry together).
BACKOFF_BASE_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
BACKOFF_JITTER = (0.75, 1.25)
# A page lost mid-scroll (a 5xx, a drop, a broken body) is retried in place at most
# SCROLL_MAX_FAILURES_IN_A_ROW times in a row (the scroll may have moved: what it lost
# is made good by a new scroll), and a scroll restarted at most SCROLL_MAX_RESTARTS
# times in a row before the run fails.
SCROLL_MAX_FAILURES_IN_A_ROW = 5
SCROLL_MAX_RESTARTS = 5
# Another companies scroll is open (`scroll_exists`; Intercom allows one per
# workspace, and an abandoned one expires after about a minute idle): ask again every
# SCROLL_EXISTS_WAIT_SECONDS, for at most SCROLL_EXISTS_MAX_WAIT_SECONDS.
SCROLL_EXISTS_WAIT_SECONDS = 5.0
SCROLL_EXISTS_MAX_WAIT_SECONDS = 150.0
# Opening the scroll failed otherwise: 2 s, doubled per failure in a row, at most
# this many seconds, plus up to half a second of jitter.
MAX_SCROLL_OPEN_BACKOFF_SECONDS = 10.0
SCROLL_OPEN_JITTER_SECONDS = 0.5


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


class RateLimitPacer:
    """Blocks callers so that all of them together stay inside the rate budget."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._limit: int | None = None
        self._remaining: int | None = None  # None: unknown, do not hold anyone back
        self._window_end = 0.0  # monotonic time at which the current window resets
        self._in_flight = 0  # sent, no answer yet: not yet counted by the server's headers
        self._latency: float | None = None  # running estimate of a round trip, seconds
        self.waits = 0  # how often a caller had to wait (for logs and benchmarks)

    def acquire(self) -> None:
        """Take one request from the budget, waiting for the next window if needed."""
        with self._condition:
            while True:
                now = time.monotonic()
                if now >= self._window_end and self._limit is not None:
                    # A new window: the full budget until a response says otherwise,
                    # minus the requests still in flight, which will count in it.
                    self._remaining = self._limit - self._in_flight
                    self._window_end = now + MAX_WINDOW_SECONDS
                if self._remaining is None or self._remaining > self._margin():
                    if self._remaining is not None:
                        self._remaining -= 1
                    self._in_flight += 1
                    return
                self.waits += 1
                self._condition.wait(
                    self._window_end - now + random.uniform(0.0, RESET_JITTER_SECONDS)
                )

    def _margin(self) -> int:
        # A budget of a few requests a window cannot spare the full margin: keep at
        # most half of it in hand, so at least one request a window goes out.
        return min(SAFETY_MARGIN, (self._limit or 0) // 2)

    def release(self) -> None:
        """A request acquired with `acquire` ended without a response."""
        with self._condition:
            self._in_flight = max(0, self._in_flight - 1)

    def update(self, headers: Mapping[str, str], round_trip: float | None = None) -> None:
        """Correct the estimate from a response's `X-RateLimit-*` headers, and the
        latency estimate from its round-trip time (seconds)."""
        limit = _header_int(headers, "X-RateLimit-Limit")
        remaining = _header_int(headers, "X-RateLimit-Remaining")
        reset = _header_int(headers, "X-RateLimit-Reset")
        with self._condition:
            self._in_flight = max(0, self._in_flight - 1)
            if round_trip is not None:
                self._latency = (
                    round_trip
                    if self._latency is None
                    else self._latency + LATENCY_WEIGHT * (round_trip - self._latency)
                )
            if limit is None or remaining is None:
                return
            self._limit = limit
            window_end = self._window_end_from(reset)
            # The server has not counted the requests still in flight yet; they will
            # count against this window too.
            remaining -= self._in_flight
            if self._remaining is None or window_end > self._window_end + 0.5:
                self._remaining = remaining  # a window we had not seen yet
            else:
                self._remaining = min(self._remaining, remaining)
            self._window_end = window_end
            self._condition.notify_all()

    def exhausted(self, headers: Mapping[str, str]) -> float:
        """Record a 429: nobody sends until the reset. Returns the seconds to wait."""
        reset = _header_int(headers, "X-RateLimit-Reset")
        with self._condition:
            self._in_flight = max(0, self._in_flight - 1)
            self._limit = _header_int(headers, "X-RateLimit-Limit") or self._limit or 1
            self._window_end = max(self._window_end, self._window_end_from(reset))
            self._remaining = 0
            return max(0.0, self._window_end - time.monotonic())

    def account(self, status: int, headers: Mapping[str, str], round_trip: float) -> None:
        """Account an answer (`status`, its headers, its round trip in seconds): a 429
        empties the window, any other answer corrects the estimate."""
        if status == 429:
            self.exhausted(headers)
        else:
            self.update(headers, round_trip)

    def send(self, send: Callable[[], Answer]) -> Answer:
        """`send()` one request once the budget allows it. An answer is accounted by
        whoever reads it (`account`), also one `send` raises for (`ANSWER_ERRORS`);
        without an answer the request gives its unit back."""
        self.acquire()
        try:
            return send()
        except ANSWER_ERRORS:
            raise
        except BaseException:
            self.release()  # no answer: the request did not count
            raise

    def sustainable_in_flight(self) -> int | None:
        """Requests to keep in flight so that the window's budget is spent by its reset
        and not before; None while the budget or the latency is unknown."""
        with self._condition:
            if self._limit is None or self._remaining is None or self._latency is None:
                return None
            steady_rate = self._limit / MAX_WINDOW_SECONDS
            left = self._window_end - time.monotonic()
            if left <= 0:
                rate = steady_rate  # a new window: the full budget
            else:
                spendable = max(self._remaining - self._margin(), 0)
                rate = min(spendable / max(left, MIN_HORIZON_SECONDS), MAX_CATCH_UP * steady_rate)
            return math.ceil(rate * self._latency) + 1

    @staticmethod
    def _window_end_from(reset: int | None) -> float:
        seconds = MAX_WINDOW_SECONDS if reset is None else reset - time.time()
        return time.monotonic() + min(max(seconds, 0.0), MAX_WINDOW_SECONDS)


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


def retry_waits() -> Generator[float, Any, None]:
    """Seconds to wait before each retry (a `backoff` wait generator: it is sent the
    error of each failed attempt): after a 429, jitter only; after anything else,
    exponential backoff, capped, with jitter."""
    attempt = 0
    error = yield 0.0
    while True:
        attempt += 1
        if isinstance(error, RateLimitedError):
            wait = random.uniform(*RATE_LIMITED_JITTER_SECONDS)
        else:
            wait = min(BACKOFF_BASE_SECONDS * 2**attempt, MAX_BACKOFF_SECONDS)
            wait *= random.uniform(*BACKOFF_JITTER)
        error = yield wait


def scroll_open_wait(failures: int) -> float:
    """Seconds before opening the companies scroll again after `failures` failures in
    a row (other than `scroll_exists`)."""
    return min(2.0**failures, MAX_SCROLL_OPEN_BACKOFF_SECONDS) + random.uniform(
        0, SCROLL_OPEN_JITTER_SECONDS
    )


class Pacing:
    """The pacing of one stream's requests: its workspace's pacer, and the stream's
    bound of requests in flight."""

    def __init__(self, pacer: RateLimitPacer, max_in_flight: int, logger: logging.Logger) -> None:
        self.pacer = pacer
        self.max_in_flight = max_in_flight
        self._logger = logger

    def map_in_order(
        self,
        fetch: Callable[[Item], list[Result]],
        batches: Iterable[tuple[list[Item], Checkpoint | None]],
        *,
        log: bool = True,
    ) -> Iterator[tuple[list[Result], Checkpoint | None]]:
        """`ordered_parallel_map` of `fetch` over `batches`, with as many items in
        flight as the budget sustains (`ConcurrencyLimit`), at most `max_in_flight`.
        `log`: say when more in flight stopped paying, and the most in flight."""
        return ordered_parallel_map(
            fetch,
            batches,
            self.max_in_flight,
            self.pacer.sustainable_in_flight,
            self._logger if log else None,
            lambda: self.pacer.waits,
        )


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
