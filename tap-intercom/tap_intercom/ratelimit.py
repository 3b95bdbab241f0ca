"""One rate-limit pacer per Intercom workspace, shared by every stream and thread.

Intercom counts requests over 10-second windows and reports the budget on every
response (`X-RateLimit-Limit`, `-Remaining`, `-Reset`). The pacer keeps a local
estimate of what is left in the current window: each request takes one unit before
it is sent, each response corrects the estimate, and when it runs out every caller
waits for the reset (plus a little jitter, so threads do not stampede) instead of
provoking 429s.

The pacer also tells per-item fetchers how many requests to keep in flight
(`sustainable_in_flight`): by Little's law, the rate that spends what is left of the
window by its reset, times the observed round-trip time. Concurrency then grows while
the window has room and shrinks as it runs out, before any 429; the budget itself
caps the request rate whatever the concurrency, so a slower server never draws more
requests than the budget allows.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Mapping

# Intercom's windows are 10 s long: never trust a reset further away than this (a
# server clock ahead of ours must not freeze the tap).
MAX_WINDOW_SECONDS = 10.0
# Requests kept in hand per window, against small disagreements between our clock
# and the server's window boundaries.
SAFETY_MARGIN = 2
# Weight of each new round-trip time in the running latency estimate: a few dozen
# responses settle it, one slow answer does not swing it.
LATENCY_WEIGHT = 0.1
# The catch-up rate near a window's end never exceeds this multiple of the steady
# rate (limit / window): a window that was barely used must not ask for a huge pool.
MAX_CATCH_UP = 2.0
# Below this many seconds left in a window, the rate is computed over this horizon
# instead: what remains of the window is too short to measure a rate on. Short: over
# a longer horizon the rate, and with it the number in flight, falls ahead of the
# window's end by up to a round trip (a 1-s horizon left half of the last second's
# budget unspent, 5% of it at 1 s a request); what it still holds back, a quarter
# second's taper, is a hedge against the server's window turning before ours.
MIN_HORIZON_SECONDS = 0.25


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
                self._condition.wait(self._window_end - now + random.uniform(0.0, 0.25))

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


_pacers: dict[str, RateLimitPacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(workspace_key: str) -> RateLimitPacer:
    """The process-wide pacer of one workspace (API host plus token fingerprint)."""
    with _pacers_lock:
        pacer = _pacers.get(workspace_key)
        if pacer is None:
            pacer = _pacers[workspace_key] = RateLimitPacer()
        return pacer
