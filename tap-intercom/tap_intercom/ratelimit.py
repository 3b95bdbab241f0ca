"""One rate-limit pacer per Intercom workspace, shared by every stream and thread.

Intercom counts requests over 10-second windows and reports the budget on every
response (`X-RateLimit-Limit`, `-Remaining`, `-Reset`). The pacer keeps a local
estimate of what is left in the current window: each request takes one unit before
it is sent, each response corrects the estimate, and when it runs out every caller
waits for the reset (plus a little jitter, so threads do not stampede) instead of
provoking 429s.
"""

from __future__ import annotations

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

    def update(self, headers: Mapping[str, str]) -> None:
        """Correct the estimate from a response's `X-RateLimit-*` headers."""
        limit = _header_int(headers, "X-RateLimit-Limit")
        remaining = _header_int(headers, "X-RateLimit-Remaining")
        reset = _header_int(headers, "X-RateLimit-Reset")
        with self._condition:
            self._in_flight = max(0, self._in_flight - 1)
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
