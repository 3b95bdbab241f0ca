"""The shared pacer holds callers back when the window's budget is spent."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from tap_intercom import pacing
from tap_intercom.pacing import RateLimitPacer


def _headers(limit: int, remaining: int, reset_in: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(time.time() + reset_in)),
    }


def test_unknown_budget_does_not_block():
    pacer = RateLimitPacer()
    started = time.monotonic()
    for _ in range(100):
        pacer.acquire()
        pacer.release()
    assert time.monotonic() - started < 0.5


def test_spent_budget_blocks_until_the_reset():
    pacer = RateLimitPacer()
    pacer.acquire()
    pacer.update(_headers(limit=10, remaining=3, reset_in=2))
    started = time.monotonic()
    pacer.acquire()  # 3 left, margin 2: one more goes through at once
    assert time.monotonic() - started < 0.2
    pacer.update(_headers(limit=10, remaining=2, reset_in=2))
    pacer.acquire()  # must wait for the window to reset
    waited = time.monotonic() - started
    assert 0.9 < waited < 3.5
    assert pacer.waits >= 1


def test_a_429_holds_every_thread_until_the_reset():
    pacer = RateLimitPacer()
    pacer.acquire()
    assert 0 < pacer.exhausted(_headers(limit=10, remaining=0, reset_in=1.5)) <= 1.5
    finished: list[float] = []
    started = time.monotonic()

    def worker() -> None:
        pacer.acquire()
        finished.append(time.monotonic() - started)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(finished) == 4
    assert min(finished) > 0.4


def test_a_budget_no_bigger_than_the_safety_margin_still_lets_requests_through():
    # With a limit of 2 the margin must not swallow the whole window: one request per
    # window still goes out (it used to wait forever).
    pacer = RateLimitPacer()
    pacer.acquire()
    pacer.update(_headers(limit=2, remaining=1, reset_in=2))
    finished: list[float] = []
    started = time.monotonic()

    def worker() -> None:
        pacer.acquire()
        finished.append(time.monotonic() - started)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(12)
    assert finished, "the pacer never let a request through"
    assert finished[0] > 0.5  # only once the window has reset (1-2 s away)


def test_every_stream_of_a_run_shares_the_taps_pacer():
    from tap_intercom.client import IntercomStream
    from tap_intercom.tap import TapIntercom

    def api_streams() -> list[IntercomStream]:
        config = {"access_token": "token", "api_url": "http://127.0.0.1:9"}
        streams = TapIntercom(config=config, validate_config=False).streams.values()
        return [stream for stream in streams if isinstance(stream, IntercomStream)]

    first, second = api_streams(), api_streams()
    assert len(first) > 20
    shared = first[0].pacer
    assert all(stream.pacer is shared for stream in first)
    assert all(stream.pacer is not shared for stream in second)  # another run


def test_sustainable_in_flight_is_the_remaining_budget_rate_times_the_latency():
    pacer = RateLimitPacer()
    assert pacer.sustainable_in_flight() is None  # nothing known yet
    pacer.acquire()
    # 1,000 left for 10 s (the margin aside): 100 a second, at 0.5 s each: ~50 in flight.
    pacer.update(_headers(limit=1_000, remaining=1_000, reset_in=10), round_trip=0.5)
    assert 45 <= pacer.sustainable_in_flight() <= 65
    # The same window almost spent: fewer in flight, before any 429.
    pacer.acquire()
    pacer.update(_headers(limit=1_000, remaining=100, reset_in=10), round_trip=0.5)
    assert pacer.sustainable_in_flight() <= 8
    # Higher latency: more in flight for the same rate.
    slow = RateLimitPacer()
    slow.acquire()
    slow.update(_headers(limit=1_000, remaining=1_000, reset_in=10), round_trip=2.0)
    assert slow.sustainable_in_flight() >= 180


def test_the_last_round_trip_of_a_window_keeps_the_rate(monkeypatch: pytest.MonkeyPatch):
    # Half a second before the reset, 52 left (the margin of 2 aside, 50), 1 s a round
    # trip: still 100 a second, so about 100 in flight, as all window long (not the 50
    # a 1-s horizon gave, which left the last second half spent).
    clock = SimpleNamespace(time=lambda: 1_000_000.5, monotonic=lambda: 500.5)
    monkeypatch.setattr(pacing, "time", clock)
    pacer = RateLimitPacer()
    pacer.acquire()
    headers = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "52"}
    pacer.update({**headers, "X-RateLimit-Reset": "1000001"}, round_trip=1.0)
    assert pacer.sustainable_in_flight() == 101
    # A tenth of a second before the reset, 12 left: the rate is taken over a quarter
    # second (10 / 0.25 s), not over what is left.
    clock.time, clock.monotonic = (lambda: 1_000_000.9), (lambda: 500.9)
    pacer.acquire()
    pacer.update({**headers, "X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "1000001"}, 1.0)
    assert pacer.sustainable_in_flight() == 41
