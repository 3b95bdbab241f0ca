"""Benchmark: full `contacts` extraction of 100,000 contacts, no latency, no rate limit.

Run: .venv/bin/python -m bench.tap_contacts [--contacts N] [--repeats R]
Prints records/s, the tap's CPU seconds per 100,000 records, records per CPU second
and records per request (medians of R runs); writes bench/results/tap_contacts.md.
"""

from __future__ import annotations

import argparse

from bench.tap_common import median, print_table, run_tap, sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with sandbox(contacts=args.contacts, companies=10, conversations=10, tickets=5) as box:
        box.client.set_faults(rate_limit=1_000_000)
        runs = [run_tap(box, ["contacts"]) for _ in range(args.repeats)]

    for run in runs:
        assert run.records.get("contacts") == args.contacts, run.records
        assert run.failed_requests == 0
    walls = [run.wall for run in runs]
    cpus = [run.cpu for run in runs]
    records = args.contacts
    print_table(
        f"tap-intercom: full contacts extraction ({records:,} contacts, median of {args.repeats})",
        [
            ("wall seconds", f"{median(walls):.2f}"),
            ("records per second (wall)", f"{records / median(walls):,.0f}"),
            ("tap CPU seconds", f"{median(cpus):.2f}"),
            ("tap CPU seconds per 100k records", f"{median(cpus) * 100_000 / records:.2f}"),
            ("records per CPU second", f"{records / median(cpus):,.0f}"),
            ("requests", f"{runs[0].requests}"),
            ("records per request", f"{records / runs[0].requests:.1f}"),
            ("failed requests", f"{sum(run.failed_requests for run in runs)}"),
        ],
        "tap_contacts.md",
    )


if __name__ == "__main__":
    main()
