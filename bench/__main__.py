"""`make bench`: run every benchmark with its default (issue-sized) figures.

Usage: python -m bench [NAME ...]   (names: tap_contacts tap_parts tap_pages
target_upsert target_batch webhook_load timestamp_converter tap_requests tap_memory
pipeline_kills dbt_models target_preflight; default: all). Each prints its own table and writes
bench/results/NAME.md.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    "tap_contacts",
    "tap_parts",
    "tap_pages",
    "target_upsert",
    "target_batch",
    "webhook_load",
    "timestamp_converter",
    "tap_requests",
    "tap_memory",
    "pipeline_kills",
    "dbt_models",
    "target_preflight",
]


def main(names: list[str]) -> int:
    """Run the named benchmarks one after another; the exit code is the first failure's."""
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {BENCHMARKS}")
        return 2
    failed = 0
    for name in names or BENCHMARKS:
        print(f"\n=== bench.{name} ===", flush=True)
        result = subprocess.run([sys.executable, "-m", f"bench.{name}"])
        failed = failed or result.returncode
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
