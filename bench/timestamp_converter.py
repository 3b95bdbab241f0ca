"""Micro benchmark: tap_intercom.schemas.timestamp_converter on contact and conversation records.

Run: .venv/bin/python -m bench.timestamp_converter [--records N] [--repeats R]
Prints µs per record (median of R runs) for the compiled converter and, for scale, for a
per-record schema walk (the test normaliser) and for json.loads of the same record.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from tap_intercom.schemas import load_schema, timestamp_converter

from testbed.intercom.expected import expected_record
from testbed.intercom.options import SandboxOptions
from testbed.intercom.store import Workspace


def sample_records(stream: str, count: int) -> list[dict[str, Any]]:
    """`count` records of `stream` as the Intercom sandbox serves them (seed 7)."""
    workspace = Workspace(SandboxOptions(**{stream: count}))
    return [workspace.kinds[stream].record(i) for i in range(count)]


def per_record_us(
    records: list[dict[str, Any]], work: Callable[[dict[str, Any]], Any], repeats: int
) -> float:
    """Median µs per record of `work` over fresh copies of `records`."""
    timings = []
    for _ in range(repeats):
        batch = copy.deepcopy(records)
        start = time.perf_counter()
        for record in batch:
            work(record)
        timings.append((time.perf_counter() - start) / len(batch) * 1e6)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows = []
    for stream in ("contacts", "conversations"):
        records = sample_records(stream, args.records)
        texts = [json.dumps(r) for r in records]
        convert = timestamp_converter(load_schema(stream))
        compiled = per_record_us(records, convert, args.repeats)
        walk = per_record_us(records, lambda r, s=stream: expected_record(s, r), args.repeats)
        start = time.perf_counter()
        for text in texts:
            json.loads(text)
        parse = (time.perf_counter() - start) / len(texts) * 1e6
        rows.append((stream, compiled, walk, parse))

    print(f"{args.records} records per run, median of {args.repeats} runs")
    print(
        f"{'stream':<14} {'converter µs':>13} {'schema walk µs':>15} {'json.loads µs':>14}"
        f" {'walk/converter':>15}"
    )
    for stream, compiled, walk, parse in rows:
        print(
            f"{stream:<14} {compiled:>13.2f} {walk:>15.2f} {parse:>14.2f}"
            f" {walk / compiled:>14.1f}x"
        )


if __name__ == "__main__":
    main()
