"""The receiver across stops: SIGKILL and SIGTERM during a burst, restarts, one writer."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from tap_intercom.webhooks.spool import list_segments, segment_path

from testbed.webhooks import (
    RECEIVER,
    SECRET,
    deliver,
    deliver_concurrently,
    make_notification,
    running_receiver,
    stored_ids,
)

BURST = 3000


def _burst_then_signal(
    url: str, process: subprocess.Popen, sig: signal.Signals, prefix: str
) -> tuple[list[dict], dict[str, int | None]]:
    """Deliver a burst and send `sig` to the receiver once 300 answers were 200."""
    notifications = [make_notification(f"{prefix}-{i}") for i in range(BURST)]
    answered = threading.Semaphore(0)

    def count(status: int | None) -> None:
        if status == 200:
            answered.release()

    with ThreadPoolExecutor(1) as runner:
        burst: Future = runner.submit(deliver_concurrently, url, notifications, 16, count)
        for _ in range(300):
            assert answered.acquire(timeout=60), "the burst stalled before the signal"
        os.killpg(process.pid, sig)
        statuses = burst.result(timeout=120)
    process.wait(30)
    return notifications, statuses


def test_sigkill_during_a_burst_loses_no_acknowledged_notification(tmp_path: Path):
    spool = tmp_path / "spool"
    with running_receiver(spool, tmp_path / "first.log") as receiver:
        notifications, statuses = _burst_then_signal(
            receiver.url, receiver.process, signal.SIGKILL, "killed"
        )
    acknowledged = {i for i, status in statuses.items() if status == 200}
    assert 300 <= len(acknowledged) < BURST, "the kill did not land during the burst"
    assert set(statuses.values()) <= {200, None}
    counts = Counter(stored_ids(spool))
    assert all(counts[i] == 1 for i in acknowledged)
    assert set(counts.values()) == {1}

    # Intercom delivers again whatever got no 200; the restarted receiver knows the rest.
    with running_receiver(spool, tmp_path / "second.log") as receiver:
        redelivered = deliver_concurrently(receiver.url, notifications, threads=16)
    assert set(redelivered.values()) == {200}
    assert Counter(stored_ids(spool)) == Counter({n["id"]: 1 for n in notifications})


def test_sigterm_during_a_burst_answers_200_only_for_stored_notifications(tmp_path: Path):
    spool = tmp_path / "spool"
    with running_receiver(spool, tmp_path / "receiver.log") as receiver:
        _, statuses = _burst_then_signal(
            receiver.url, receiver.process, signal.SIGTERM, "terminated"
        )
        # A graceful shutdown is a clean exit, not death by the signal.
        assert receiver.process.returncode == 0
        assert "Application shutdown complete" in receiver.log()
    assert set(statuses.values()) <= {200, 503, None}
    acknowledged = {i for i, status in statuses.items() if status == 200}
    assert len(acknowledged) >= 300
    counts = Counter(stored_ids(spool))
    assert all(counts[i] == 1 for i in acknowledged)
    assert set(counts.values()) == {1}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_shuts_down_gracefully_with_status_0(
    tmp_path: Path, stop_signal: signal.Signals
):
    with running_receiver(tmp_path / "spool", tmp_path / "receiver.log") as receiver:
        assert deliver(receiver.url, make_notification("before-stop")) == 200
        receiver.process.send_signal(stop_signal)
        assert receiver.process.wait(30) == 0, receiver.log()[-2000:]
        assert "Application shutdown complete" in receiver.log()
    assert stored_ids(tmp_path / "spool") == ["before-stop"]


def test_a_restarted_receiver_still_refuses_redeliveries(tmp_path: Path):
    spool = tmp_path / "spool"
    with running_receiver(spool, tmp_path / "first.log") as receiver:
        assert deliver(receiver.url, make_notification("before-restart")) == 200
    with running_receiver(spool, tmp_path / "second.log") as receiver:
        assert deliver(receiver.url, make_notification("before-restart")) == 200
        assert deliver(receiver.url, make_notification("after-restart")) == 200
        assert "2 known notification ids" not in receiver.log()
    assert stored_ids(spool) == ["before-restart", "after-restart"]


def test_a_second_receiver_on_the_same_spool_refuses_to_start(tmp_path: Path):
    spool = tmp_path / "spool"
    with running_receiver(spool, tmp_path / "first.log"):
        second = subprocess.run(
            [RECEIVER, "--port", "1", "--spool", str(spool)],
            capture_output=True,
            text=True,
            env={**os.environ, "INTERCOM_CLIENT_SECRET": SECRET},
            timeout=60,
        )
    assert second.returncode == 3
    assert "another receiver is writing the spool" in second.stderr


def test_an_idle_receiver_seals_an_old_segment(tmp_path: Path):
    spool = tmp_path / "spool"
    with running_receiver(spool, tmp_path / "receiver.log", "--segment-max-age", "0.2") as receiver:
        assert deliver(receiver.url, make_notification("aged")) == 200
        deadline = time.monotonic() + 10
        while len(list_segments(spool)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # an empty segment is never sealed: no third one appears
        segments = list_segments(spool)
    assert len(segments) == 2
    assert segment_path(spool, segments[1]).stat().st_size == 0
    assert stored_ids(spool) == ["aged"]
