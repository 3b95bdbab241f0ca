"""Event-to-row latency: a change in the sandbox until its row is in the local Snowflake.

Run: .venv/bin/python -m bench.webhook_latency [--rates 20 200] [--seconds 60]

For each rate and each way of loading, on fresh local servers: the Intercom sandbox
delivers a signed notification per change (a new conversation each) to a
`tap-intercom-webhooks` receiver; the loader is either
- follow: `tap-intercom` with `webhook_follow` piped into `target-snowflake`
  (`max_uncommitted_age_seconds` 1), started once, or
- cron: the same pipe without follow, started every `--cron-interval` seconds (60: a
  per-minute cron job), from the last committed state.
Changes go at `rate`/s for `--seconds`; a row's time is when a poll of the table (every
0.2 s) first sees it, never the pipeline's logs. Prints p50/p95/max per case and the
follow-mode tap's peak RSS against its RSS after 5 s; writes
bench/results/webhook_latency.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from testbed.catalog import TAP, catalog_selecting
from testbed.intercom import run_sandbox
from testbed.intercom.options import SandboxOptions
from testbed.pipeline import LocalEndpoints
from testbed.servers import local_snowflake
from testbed.webhooks import (
    STREAM,
    TARGET,
    FollowLoader,
    follow_config,
    running_receiver,
    subscribe,
    tap_config,
)

RESULTS = Path(__file__).parent / "results"
POLL_SECONDS = 0.2
DRAIN_TIMEOUT = 300.0


def _rss_kib(pid: int, field: str) -> int:
    """VmRSS or VmHWM (peak) of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RowWatcher:
    """Polls the table; notes when each item id is first seen."""

    def __init__(self, endpoints: LocalEndpoints) -> None:
        self.endpoints = endpoints
        self.seen: dict[str, float] = {}
        self._last_position = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.closing(self.endpoints.connect()) as conn:
            while not self._stop.wait(POLL_SECONDS):
                try:
                    cursor = conn.cursor().execute(
                        f'SELECT "ITEM", "SPOOL_POSITION" FROM "{self.endpoints.schema}".'
                        f'"{STREAM.upper()}" WHERE "SPOOL_POSITION" > %s',
                        (self._last_position,),
                    )
                    rows = cursor.fetchall()
                except Exception:
                    continue
                now = time.monotonic()
                for item, position in rows:
                    item = json.loads(item) if isinstance(item, str) else item
                    self.seen.setdefault(item["id"], now)
                    self._last_position = max(self._last_position, position)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _cron_run(work: Path, state: dict, spool: Path, target: dict) -> dict:
    """One run of the non-following pipe; its last STATE (or `state`)."""
    (work / "tap.json").write_text(json.dumps(tap_config(spool)))
    (work / "target.json").write_text(json.dumps(target))
    (work / "catalog.json").write_text(json.dumps(catalog_selecting([STREAM])))
    (work / "state.json").write_text(json.dumps(state))
    pipe = (
        f"{TAP} --config tap.json --catalog catalog.json --state state.json 2>>tap.log"
        f" | {TARGET} --config target.json 2>>target.log"
    )
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipe], cwd=work, capture_output=True, text=True
    )
    # The target writes each committed state's value as a line.
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else state


def _case(mode: str, rate: float, args: argparse.Namespace, snowflake: dict) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"latency-{mode}-", dir=RESULTS))
    database = f"LATENCY_{mode.upper()}_{int(rate)}"
    endpoints = LocalEndpoints("http://127.0.0.1:9", "unused", snowflake, database)
    endpoints.prepare_database()
    target = {**endpoints.target_config(), "max_uncommitted_age_seconds": 1}
    spool = work / "spool"
    changed: dict[str, float] = {}
    rss: dict[str, int] = {}
    try:
        with (
            run_sandbox(SandboxOptions(contacts=50, companies=10, conversations=50)) as sandbox,
            running_receiver(spool, work / "receiver.log") as receiver,
        ):
            subscribe(sandbox.url, receiver.url)
            watcher = RowWatcher(endpoints)
            loader = FollowLoader(work / "follow", follow_config(spool), target)
            if mode == "follow":
                loader.start()
                time.sleep(3)  # started and logged in, as a service is
            state: dict = {}
            start = time.monotonic()
            next_cron = start + args.cron_interval
            count = int(rate * args.seconds)
            for n in range(count):
                due = start + n / rate
                while (delay := due - time.monotonic()) > 0:
                    if mode == "cron" and time.monotonic() >= next_cron:
                        state = _cron_run(work, state, spool, target)
                        next_cron += args.cron_interval
                    time.sleep(min(delay, 0.05))
                [conversation] = sandbox.client.change("conversations", "add", 1)
                changed[conversation] = time.monotonic()
                if mode == "follow" and "first" not in rss and time.monotonic() - start > 5:
                    assert loader.tap is not None
                    rss["first"] = _rss_kib(loader.tap.pid, "VmRSS")
            deadline = time.monotonic() + DRAIN_TIMEOUT
            while set(changed) - set(watcher.seen) and time.monotonic() < deadline:
                if mode == "cron" and time.monotonic() >= next_cron:
                    state = _cron_run(work, state, spool, target)
                    next_cron += args.cron_interval
                time.sleep(0.2)
            if mode == "follow":
                assert loader.tap is not None
                rss["peak"] = _rss_kib(loader.tap.pid, "VmHWM")
                loader.stop()
            watcher.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    latencies = sorted(watcher.seen[i] - changed[i] for i in changed if i in watcher.seen)
    return {
        "mode": mode,
        "rate": rate,
        "events": len(changed),
        "rows": len(latencies),
        "p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "p95_s": round(latencies[int(len(latencies) * 0.95) - 1], 2) if latencies else None,
        "max_s": round(latencies[-1], 2) if latencies else None,
        "tap_rss_first_kib": rss.get("first"),
        "tap_rss_peak_kib": rss.get("peak"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[20.0, 200.0])
    parser.add_argument("--seconds", type=float, default=60.0, help="changes for this long")
    parser.add_argument("--cron-interval", type=float, default=60.0)
    parser.add_argument("--modes", nargs="+", default=["follow", "cron"])
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    results = []
    with local_snowflake() as snowflake:
        for mode in args.modes:
            for rate in args.rates:
                result = _case(mode, rate, args, snowflake)
                results.append(result)
                print(json.dumps(result), flush=True)
    print(f"load average at start {load[0]:.1f} (1 min), {os.cpu_count()} CPUs")
    print(f"{'mode':<7} {'rate/s':>6} {'rows':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for r in results:
        print(
            f"{r['mode']:<7} {r['rate']:>6.0f} {r['rows']:>6} {r['p50_s']:>7} "
            f"{r['p95_s']:>7} {r['max_s']:>7}"
        )
    (RESULTS / "webhook_latency.json").write_text(
        json.dumps({"args": vars(args), "load_average": load, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
