"""Benchmark: seconds of work lost when `tap-intercom | target-snowflake` is killed.

Run: .venv/bin/python -m bench.pipeline_kills [--kills N] [--cadence S]
     [--earliest T] [--latest T] [--latency-ms MS] [--seed N] [--keep DIR]
     [--streams NAME ...]
Each kill is a fresh first sync (conversations and their parts, on the sandbox with
MS latency and the default budget of 1,666 requests per 10 s, into the local
Snowflake), SIGKILLed at a moment drawn uniformly from [T_earliest, T_latest] seconds
into the run. With both streams selected the conversations are listed first (the
whole first three minutes); `--streams conversation_parts` fetches parts from the
start (STATE at the search windows' ends and, between them, the interim ones).
Work lost: the kill's moment minus the moment the tap wrote the last STATE the
target had passed on (the whole run when there was none). With no
--cadence, both sides run with their defaults (tap `state_interval_seconds` 20,
target `max_uncommitted_age_seconds` 60); with --cadence S both are S. Prints the
median and the maximum; writes bench/results/pipeline_kills.md.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.tap_common import median, print_table
from testbed.crash import KillablePipeline
from testbed.intercom import SandboxOptions, run_sandbox
from testbed.pipeline import LocalEndpoints
from testbed.servers import local_snowflake

STREAMS = ["conversations", "conversation_parts"]
PARTS_PER_SECOND = 160  # about what the default budget sustains: sizes the workspace


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[str]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="bench-kills-") as tmp:
            yield tmp
    else:
        keep.mkdir(parents=True, exist_ok=True)
        yield str(keep)


def _timeline(run: KillablePipeline) -> str:
    """When (s into the run) the tap wrote STATE, and when the target passed one on
    (with when the tap had written that one): what a kill's loss is made of."""
    emitted = sorted(at - run.started_at for at in run.emitted.values())
    committed = [
        f"{c.at - run.started_at:.0f}"
        + (f" (of {c.emitted_at - run.started_at:.0f})" if c.emitted_at is not None else "")
        for c in run.committed
    ]
    return (
        f"tap STATE at {', '.join(f'{at:.0f}' for at in emitted) or 'none'} s; "
        f"passed on at {', '.join(committed) or 'none'} s"
    )


def main() -> None:
    # A plain `kill` of the benchmark stops its servers and pipelines too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--cadence", type=float, help="seconds (default: the plugins' own)")
    parser.add_argument("--earliest", type=float, help="default: one minute, or 2 cadences")
    parser.add_argument("--latest", type=float, help="default: three minutes, or 6 cadences")
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument(
        "--streams",
        nargs="+",
        default=STREAMS,
        help="selected streams (conversation_parts alone: the parts are fetched from the start)",
    )
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--keep", type=Path, help="work here and keep it: each kill's tap.log and target.log"
    )
    args = parser.parse_args()
    unit = args.cadence or 60.0
    earliest = args.earliest if args.earliest is not None else (2 * unit if args.cadence else 60)
    latest = args.latest if args.latest is not None else 3 * earliest
    rng = random.Random(args.seed)
    settings: dict[str, Any] = {}
    target_settings: dict[str, Any] = {}
    if args.cadence:
        settings["state_interval_seconds"] = args.cadence
        target_settings["max_uncommitted_age_seconds"] = args.cadence

    conversations = int(latest * PARTS_PER_SECOND * 1.5)
    options = SandboxOptions(
        contacts=100, conversations=conversations, big_conversations=0, companies=5, tickets=2
    )
    options.faults.merge({"latency_ms": args.latency_ms})
    lost: list[float] = []
    with (
        _workdir(args.keep) as tmp,
        local_snowflake(Path(tmp) / "fakesnow") as snowflake,
        run_sandbox(options) as sandbox,
    ):
        for kill in range(args.kills):
            endpoints = LocalEndpoints(
                intercom_url=sandbox.url,
                intercom_token=sandbox.token,
                snowflake=snowflake,
                database=f"BENCH_KILL_{kill}",
            )
            endpoints.prepare_database()  # the administrator's part
            run = KillablePipeline(
                Path(tmp) / f"kill-{kill}",
                endpoints.tap_config() | settings,
                endpoints.target_config() | target_settings,
                args.streams,
            ).start()
            moment = rng.uniform(earliest, latest)
            try:
                time.sleep(max(0.0, run.started_at + moment - time.monotonic()))
                ended = run.tap.poll() is not None
            finally:
                killed_at = run.kill()
            if ended:
                raise SystemExit(f"the first sync ended before {moment:.0f} s: a bigger sandbox")
            lost.append(run.work_lost(killed_at))
            print(
                f"kill {kill + 1}: at {moment:.1f} s, {len(run.committed)} STATE committed "
                f"before, {lost[-1]:.1f} s of work lost; {_timeline(run)}",
                flush=True,
            )
    cadence = f"{args.cadence:g} s" if args.cadence else "defaults (tap 20 s, target 60 s)"
    suffix = (f"_{args.cadence:g}s" if args.cadence else "") + (
        "" if args.streams == STREAMS else "_" + "_".join(args.streams)
    )
    print_table(
        f"pipeline killed at random moments in [{earliest:g}, {latest:g}] s of a first sync "
        f"({args.kills} kills; {', '.join(args.streams)}; cadences: {cadence}; "
        f"{args.latency_ms:g} ms latency)",
        [
            ("work lost, median (s)", f"{median(lost):.1f}"),
            ("work lost, maximum (s)", f"{max(lost):.1f}"),
            ("work lost, every kill (s)", ", ".join(f"{value:.0f}" for value in lost)),
        ],
        f"pipeline_kills{suffix}.md",
    )


if __name__ == "__main__":
    main()
