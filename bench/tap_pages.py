"""Benchmark: records per request on every paged incremental stream, first run.

Run: .venv/bin/python -m bench.tap_pages [--records N]
Prints records, search/scroll requests and records per request for contacts,
conversations, tickets and companies (N records each); writes
bench/results/tap_pages.md.
"""

from __future__ import annotations

import argparse

from bench.tap_common import print_table, run_tap, sandbox

PAGED = {
    "contacts": "/contacts/search",
    "conversations": "/conversations/search",
    "tickets": "/tickets/search",
    "companies": "/companies/scroll",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()

    sizes = {name: args.records for name in PAGED}
    with sandbox(**sizes, big_conversations=0) as box:
        box.client.set_faults(rate_limit=1_000_000)
        rows = []
        for stream, path in PAGED.items():
            run = run_tap(box, [stream])
            log = box.client.requests()
            requests = sum(1 for entry in log if entry["path"] == path)
            records = run.records.get(stream, 0)
            rows.append((f"{stream}: records / requests", f"{records} / {requests}"))
            rows.append((f"{stream}: records per request", f"{records / requests:.1f}"))
    print_table(
        f"tap-intercom: records per request, first run ({args.records:,} records a stream)",
        rows,
        "tap_pages.md",
    )


if __name__ == "__main__":
    main()
