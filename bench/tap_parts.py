"""Benchmark: conversation parts over a latency x rate-budget grid, default settings.

Run: .venv/bin/python -m bench.tap_parts [--conversations N] [--latencies MS ...]
     [--budgets N ...] [--max-workers W] [--repeats R]
For every (latency, budget) pair: requests/s over the full 10-second windows of the
sandbox's rate limiter while parts are fetched (the window of the first part request
and the last, partial, window left out) and that rate's share of the budget, 429s
(all, and after the first window), other failed requests; medians of R runs. Also the
CPU time of the tap and of the sandbox per request, the cores both together need to
spend the whole budget, the cores they used (CPU seconds per second of the run), and
how long the tap's threads waited for a CPU while runnable (per second of the run),
and the load average: a rate under the budget while the tap waits for a CPU is CPU
starvation, not the tap's pacing.
Writes bench/results/tap_parts.md.
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.tap_common import Sandbox, median, print_table, run_tap, sandbox

PART = re.compile(r"^/conversations/\d+$")
WINDOW = 10  # seconds: the sandbox counts requests per 10-second window, as Intercom does


@dataclass
class Pace:
    rate: float  # requests per second over the full windows
    rate_429: int
    late_429: int  # after the first window
    other_failed: int
    parts: int
    tap_cpu_ms: float  # the tap's CPU milliseconds per request
    sandbox_cpu_ms: float  # the sandbox's
    busy: float  # CPU seconds of tap and sandbox together per second of the tap's run
    starved: float  # seconds the tap's threads waited for a CPU per second of its run
    load: float  # the machine's load average (1 minute) at the end of the run

    def cores_needed(self, budget: int) -> float:
        """Cores the tap and the sandbox together need to spend the whole budget."""
        return (self.tap_cpu_ms + self.sandbox_cpu_ms) / 1000 * budget / WINDOW


def measure(box: Sandbox, latency: float, config: dict[str, Any]) -> Pace:
    sandbox_cpu = box.cpu_seconds()
    run = run_tap(box, ["conversation_parts"], **config)
    sandbox_cpu = box.cpu_seconds() - sandbox_cpu
    load = os.getloadavg()[0]
    log = box.client.requests()
    for entry in log:  # logged after the latency; the limiter counts on arrival
        entry["time"] -= latency
    windows = Counter(int(entry["time"]) // WINDOW for entry in log)
    first, last = min(windows), max(windows)
    # Steady state: from the first window in which parts were fetched (before it, the
    # tap only lists the first search window of conversations).
    parts_from = min(int(e["time"]) // WINDOW for e in log if PART.match(e["path"]))
    full = [count for window, count in windows.items() if parts_from < window < last]
    # Shorter than three windows: the span of the log is all there is.
    rate = sum(full) / (WINDOW * len(full)) if full else run.requests / max(run.request_span, 1e-9)
    statuses = [(int(entry["time"]) // WINDOW, entry["status"]) for entry in log]
    return Pace(
        rate=rate,
        rate_429=sum(1 for _, status in statuses if status == 429),
        late_429=sum(1 for window, status in statuses if status == 429 and window > first),
        other_failed=sum(1 for _, status in statuses if status is None or status >= 400)
        - sum(1 for _, status in statuses if status == 429),
        parts=run.records.get("conversation_parts", 0),
        tap_cpu_ms=1000 * run.cpu / len(log),
        sandbox_cpu_ms=1000 * sandbox_cpu / len(log),
        busy=(run.cpu + sandbox_cpu) / run.wall,
        starved=run.cpu_wait / run.wall,
        load=load,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--latencies", type=int, nargs="+", default=[50, 100, 300, 1_000])
    parser.add_argument("--budgets", type=int, nargs="+", default=[1_000, 1_666])
    parser.add_argument("--max-workers", type=int, help="default: the tap's default bound")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = {"max_workers": args.max_workers} if args.max_workers else {}

    rows = []
    sizes = {"conversations": args.conversations, "contacts": 100, "companies": 10, "tickets": 5}
    with sandbox(**sizes, big_conversations=0) as box:
        for latency in args.latencies:
            for budget in args.budgets:
                box.client.set_faults(latency_ms=latency, rate_limit=budget)
                paces = [measure(box, latency / 1000, config) for _ in range(args.repeats)]
                rate = median([pace.rate for pace in paces])
                share = rate / (budget / WINDOW)
                name = f"{latency} ms, {budget:,} / 10 s"
                rows.append(
                    (
                        name,
                        f"{rate:.1f} requests/s ({share:.0%} of budget; runs "
                        f"{', '.join(f'{pace.rate:.1f}' for pace in paces)}); 429s "
                        f"{max(p.rate_429 for p in paces)} (after the first window "
                        f"{max(p.late_429 for p in paces)}); other failed "
                        f"{max(p.other_failed for p in paces)}; parts {paces[0].parts}; "
                        f"CPU ms per request: tap "
                        f"{median([p.tap_cpu_ms for p in paces]):.2f}, sandbox "
                        f"{median([p.sandbox_cpu_ms for p in paces]):.2f} (cores needed at "
                        f"the budget {median([p.cores_needed(budget) for p in paces]):.2f}, "
                        f"used {median([p.busy for p in paces]):.2f}); the tap waited for "
                        f"a CPU {median([p.starved for p in paces]):.2f} s per s; load average "
                        f"{median([p.load for p in paces]):.1f}",
                    )
                )
                print(name, rows[-1][1], flush=True)
    bound = args.max_workers or "default"
    print_table(
        f"tap-intercom: conversation parts of {args.conversations:,} conversations, "
        f"max_workers {bound}, median of {args.repeats} (429s and failures: worst run)",
        rows,
        "tap_parts.md",
    )


if __name__ == "__main__":
    main()
