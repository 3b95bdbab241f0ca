"""Benchmark: conversation parts of 2,000 conversations, 100 ms sandbox latency and a
budget of 1,000 requests per 10 s.

Run: .venv/bin/python -m bench.tap_parts [--conversations N] [--workers W ...] [--repeats R]
Prints requests/s achieved (requests over the span of the request log, and over the
tap's wall time) and failed requests, per `max_workers`; writes
bench/results/tap_parts.md.
"""

from __future__ import annotations

import argparse

from bench.tap_common import median, print_table, run_tap, sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=2_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 12])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    rows = []
    with sandbox(conversations=args.conversations, contacts=100, companies=10, tickets=5) as box:
        box.client.set_faults(latency_ms=100, rate_limit=1_000)
        for workers in args.workers:
            runs = [
                run_tap(box, ["conversation_parts"], max_workers=workers)
                for _ in range(args.repeats)
            ]
            span_rate = median([run.requests / run.request_span for run in runs])
            wall_rate = median([run.requests / run.wall for run in runs])
            rows += [
                (f"max_workers={workers}: requests", f"{runs[0].requests}"),
                (f"max_workers={workers}: requests/s (request log span)", f"{span_rate:.1f}"),
                (f"max_workers={workers}: requests/s (tap wall time)", f"{wall_rate:.1f}"),
                (f"max_workers={workers}: parts", f"{runs[0].records.get('conversation_parts')}"),
                (
                    f"max_workers={workers}: failed requests (429 or other)",
                    f"{sum(run.failed_requests for run in runs)}",
                ),
            ]
    print_table(
        f"tap-intercom: conversation parts of {args.conversations:,} conversations "
        "(100 ms latency, 1,000 requests / 10 s)",
        rows,
        "tap_parts.md",
    )


if __name__ == "__main__":
    main()
