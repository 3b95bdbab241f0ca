"""Benchmark: the tap's peak memory on a first sync with a child stream, by workspace size.

Run: .venv/bin/python -m bench.tap_memory [--contacts N ...]
For each size: a first sync of `contacts` and `contact_notes` (one request per
contact; no latency, no rate limit), the tap's own peak RSS (`ru_maxrss`, measured as
bench/own_rusage.py explains) and the most notes requests it had in flight. Flat
memory means the largest size's peak is within 10% of the smallest's.
Writes bench/results/tap_memory.md.
"""

from __future__ import annotations

import argparse
import re

from bench.tap_common import RESULTS, print_table, run_tap, sandbox

IN_FLIGHT = re.compile(r"contact_notes .*Up to (\d+) requests in flight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, nargs="+", default=[200_000, 1_000_000])
    args = parser.parse_args()

    rows = []
    peaks = []
    for contacts in args.contacts:
        with sandbox(contacts=contacts, companies=10, conversations=10, tickets=5) as box:
            box.client.set_faults(rate_limit=1_000_000)
            run = run_tap(box, ["contacts", "contact_notes"])
        assert run.records.get("contacts") == contacts, run.records
        assert run.failed_requests == 0
        in_flight = IN_FLIGHT.search((RESULTS / "tap.log").read_text())
        peaks.append(run.peak_rss_mb)
        rows.append(
            (
                f"{contacts:,} contacts",
                f"peak RSS {run.peak_rss_mb:.0f} MB; {run.records.get('contact_notes', 0):,} "
                f"notes; {run.requests:,} requests; {run.wall:.0f} s; up to "
                f"{in_flight.group(1) if in_flight else '?'} in flight",
            )
        )
        print(rows[-1], flush=True)
    rows.append(("largest / smallest peak", f"{peaks[-1] / peaks[0]:.2f}"))
    print_table(
        "tap-intercom: peak RSS of a first sync of contacts + contact_notes",
        rows,
        "tap_memory.md",
    )


if __name__ == "__main__":
    main()
