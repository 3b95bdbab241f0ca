"""Benchmark: target-snowflake loading BATCH messages against RECORD messages, same data.

Run: .venv/bin/python -m bench.target_batch [--contacts 1000000] [--repeats 3]

Starts the Intercom sandbox (N contacts) and fakesnow, runs the real `tap-intercom` on
`contacts` twice, once plain (RECORD messages) and once with `batch_config` (jsonl, gzip:
BATCH messages of the tap's own files), and keeps both outputs. Then replays each into
`target-snowflake` R times, alternating, each time into a fresh schema (a first load:
every row is new). For each mode it prints the median of the target process's own CPU
seconds (user+sys, measured by `bench/own_rusage.py`: the emulator's and the tap's are
not counted), its wall seconds and peak RSS; writes bench/results/target_batch.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.own_rusage import launcher, read_usage
from bench.tap_common import RESULTS, TOKEN, sandbox, write_catalog
from bench.target_upsert import loader_config
from testbed.catalog import TAP
from testbed.servers import local_snowflake

TARGET = str(Path(sys.executable).with_name("target-snowflake"))
MODES = ("RECORD", "BATCH")


def tap_output(url: str, workdir: Path, batch_root: Path | None, batch_size: int) -> Path:
    """Run the tap on contacts; its stdout (Singer messages) to a file."""
    config: dict = {"access_token": TOKEN, "api_url": url}
    if batch_root is not None:
        config["batch_config"] = {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": batch_root.as_uri(), "prefix": "contacts-"},
            "batch_size": batch_size,
        }
    config_path = workdir / f"tap-{'batch' if batch_root else 'record'}.json"
    config_path.write_text(json.dumps(config))
    output = workdir / f"{config_path.stem}.singer"
    catalog = write_catalog(["contacts"], workdir)
    started = time.perf_counter()
    with output.open("wb") as out, (RESULTS / "tap.log").open("ab") as log:
        subprocess.run(
            [TAP, "--config", str(config_path), "--catalog", str(catalog)],
            stdout=out,
            stderr=log,
            check=True,
        )
    print(f"tap ({config_path.stem}): {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return output


def run_target(config: dict, messages: Path, workdir: Path) -> dict:
    """One target run on `messages`; its own CPU time, wall time and peak RSS."""
    config_path = workdir / "target.json"
    config_path.write_text(json.dumps(config))
    started = time.perf_counter()
    usage_path = workdir / "usage.json"
    with messages.open("rb") as stdin, (RESULTS / "target.log").open("ab") as log:
        process = subprocess.Popen(
            [*launcher(usage_path), TARGET, "--config", str(config_path)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        assert process.stdout is not None
        states = len(process.stdout.read().splitlines())
        status = process.wait()
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"target failed; see {RESULTS / 'target.log'}")
    usage = read_usage(usage_path)
    return {
        "cpu": usage["cpu_seconds"],
        "wall": wall,
        "rss_mb": usage["rss_mb"],
        "states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100_000)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    figures: dict[str, list[dict]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="bench-target-batch-") as tmp:
        workdir = Path(tmp)
        batch_root = workdir / "batches"
        batch_root.mkdir()
        with sandbox(contacts=args.contacts, companies=10, conversations=10, tickets=5) as box:
            box.client.set_faults(rate_limit=1_000_000)
            inputs = {
                "RECORD": tap_output(box.url, workdir, None, args.batch_size),
                "BATCH": tap_output(box.url, workdir, batch_root, args.batch_size),
            }
        with local_snowflake(RESULTS / "fakesnow") as server:
            for repeat in range(args.repeats):
                for mode in MODES:
                    schema = f"BATCH_{mode}_{repeat}_{int(time.time())}"
                    config = loader_config(server, schema, args.batch_size)
                    result = run_target(config, inputs[mode], workdir)
                    figures[mode].append(result)
                    print(f"{mode} #{repeat + 1}: {result}", file=sys.stderr)

    def median(mode: str, key: str) -> float:
        return statistics.median(run[key] for run in figures[mode])

    title = (
        f"target-snowflake: {args.contacts:,} contacts from tap-intercom, RECORD vs BATCH "
        f"(jsonl gzip, batch_size {args.batch_size:,}), median of {args.repeats}"
    )
    lines = [
        f"## {title}",
        "",
        "| input | target CPU s | wall s | rows per target CPU s | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for mode in MODES:
        cpu, wall = median(mode, "cpu"), median(mode, "wall")
        lines.append(
            f"| {mode} | {cpu:.1f} | {wall:.1f} | {args.contacts / cpu:,.0f} "
            f"| {median(mode, 'rss_mb'):.0f} |"
        )
    ratio_cpu = median("RECORD", "cpu") / median("BATCH", "cpu")
    ratio_wall = median("RECORD", "wall") / median("BATCH", "wall")
    lines += ["", f"BATCH: {ratio_cpu:.1f}x less target CPU, {ratio_wall:.1f}x less wall time."]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    (RESULTS / "target_batch.md").write_text(text)


if __name__ == "__main__":
    main()
