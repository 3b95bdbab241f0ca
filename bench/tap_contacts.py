"""Benchmark: full `contacts` extraction of 100,000 contacts, no latency, no rate limit.

Run: .venv/bin/python -m bench.tap_contacts [--contacts N] [--repeats R] [--tap PATH ...]
[--intercom-version V]
Prints records/s, the tap's CPU seconds per 100,000 records, records per CPU second
and records per request (medians of R runs); writes bench/results/tap_contacts.md.

`--tap PATH` (repeatable) names tap-intercom executables to compare, for example another
checkout's `.venv/bin/tap-intercom`; without it, this environment's. Every tap reads the
same sandbox, with its own discovered catalog, in alternation (a, b, a, b, ...) so that
load on a shared machine falls on all of them alike; the table gives each tap's medians
and its records per CPU second relative to the first tap's.

`--intercom-version` (the tap's default, 2.15, without it): on 2.15 the search cannot be
sorted, so a first run also lists every id (`GET /contacts`) for its first deletion
sketch; on 2.16 the sorted search gives that sketch at no extra request.
"""

from __future__ import annotations

import argparse

from bench.tap_common import TapRun, median, print_table, run_tap, sandbox
from testbed.catalog import TAP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tap", action="append", dest="taps", metavar="PATH")
    parser.add_argument("--intercom-version", default=None)
    args = parser.parse_args()
    config = {"intercom_version": args.intercom_version} if args.intercom_version else {}
    taps: list[str] = args.taps or [TAP]

    runs: dict[str, list[TapRun]] = {tap: [] for tap in taps}
    with sandbox(contacts=args.contacts, companies=10, conversations=10, tickets=5) as box:
        box.client.set_faults(rate_limit=1_000_000)
        for repeat in range(args.repeats):
            for tap in taps:
                run = run_tap(box, ["contacts"], tap=tap, **config)
                assert run.records.get("contacts") == args.contacts, (tap, run.records)
                assert run.failed_requests == 0, tap
                runs[tap].append(run)
                print(
                    f"run {repeat + 1} {tap}: {run.cpu:.2f} CPU s, {run.wall:.2f} s wall, "
                    f"{args.contacts / run.cpu:,.0f} records per CPU second",
                    flush=True,
                )

    records = args.contacts
    rows: list[tuple[str, str]] = []
    first_rate = records / median([run.cpu for run in runs[taps[0]]])
    for tap in taps:
        walls = [run.wall for run in runs[tap]]
        cpus = [run.cpu for run in runs[tap]]
        rate = records / median(cpus)
        label = f" ({tap})" if len(taps) > 1 else ""
        rows += [
            (f"wall seconds{label}", f"{median(walls):.2f}"),
            (f"records per second (wall){label}", f"{records / median(walls):,.0f}"),
            (f"tap CPU seconds, each run{label}", ", ".join(f"{cpu:.2f}" for cpu in cpus)),
            (f"tap CPU seconds per 100k records{label}", f"{median(cpus) * 100_000 / records:.2f}"),
            (f"records per CPU second{label}", f"{rate:,.0f}"),
            (f"requests{label}", f"{runs[tap][0].requests}"),
            (f"records per request{label}", f"{records / runs[tap][0].requests:.1f}"),
            (f"failed requests{label}", f"{sum(run.failed_requests for run in runs[tap])}"),
        ]
        if len(taps) > 1:
            rows.append(
                (f"records per CPU second / first tap's{label}", f"{rate / first_rate:.3f}")
            )
    print_table(
        f"tap-intercom: full contacts extraction ({records:,} contacts, median of "
        f"{args.repeats}, Intercom version {args.intercom_version or 'default'})",
        rows,
        "tap_contacts.md",
    )


if __name__ == "__main__":
    main()
