"""Benchmark: the statements target-snowflake sends per run, by kind, from the strict local
Snowflake's statement log.

Run: .venv/bin/python -m bench.target_statements [--as-admin]

Extracts the demo's sandbox workspace once with tap-intercom (to bench/results/), then runs
the `target-snowflake` command twice over the same input against a fresh local Snowflake
(the loader role, with the database and schema prepared by the administrator; with
`--as-admin` the target logs in as the administrator instead, for a target that needs more
privileges). Prints, per run, the number of statements of each kind, and the DDL on
objects that are not temporary. The second run of the same streams should send no such DDL.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import subprocess
import sys
from pathlib import Path

from scripts.demo import SANDBOX_TOKEN, intercom_sandbox
from testbed.servers import admin_connection, admin_settings, local_snowflake, prepare_database

RESULTS = Path(__file__).parent / "results"
BIN = Path(sys.executable).parent
DATABASE, SCHEMA = "DEMO", "INTERCOM"


def tap_output(path: Path) -> None:
    """The demo workspace as tap-intercom emits it (written once)."""
    if path.exists():
        return
    with intercom_sandbox(RESULTS / "sandbox.log") as url:
        config = RESULTS / "tap-config.json"
        config.write_text(json.dumps({"api_url": url, "access_token": SANDBOX_TOKEN}))
        with path.open("wb") as out:
            subprocess.run(
                [str(BIN / "tap-intercom"), "--config", str(config)],
                stdout=out,
                stderr=subprocess.DEVNULL,
                check=True,
            )


def is_ddl(entry: dict) -> bool:
    kind = entry["kind"]
    temporary = "TEMPORARY" in kind or "#LOAD_" in entry["sql"] or "__LOAD_" in entry["sql"]
    return kind.startswith(("CREATE", "ALTER", "DROP")) and not temporary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-admin", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    singer = RESULTS / "demo-workspace.singer"
    tap_output(singer)
    log_dir = RESULTS / "statements"
    with local_snowflake(log_dir) as server:
        with contextlib.closing(admin_connection(server)) as admin:
            prepare_database(admin, DATABASE, SCHEMA)
        login = admin_settings(server) if args.as_admin else server
        config = {**login, "database": DATABASE, "default_target_schema": SCHEMA}
        config_path = RESULTS / "statements-config.json"
        config_path.write_text(json.dumps(config))
        log = log_dir / "statements.jsonl"
        for run in (1, 2):
            start = len(log.read_text().splitlines())
            with singer.open("rb") as stdin:
                subprocess.run(
                    [str(BIN / "target-snowflake"), "--config", str(config_path)],
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
            entries = [json.loads(line) for line in log.read_text().splitlines()[start:]]
            kinds = collections.Counter(e["kind"] for e in entries)
            ddl = [e["sql"][:100] for e in entries if is_ddl(e)]
            print(f"run {run}: {len(entries)} statements; DDL on non-temporary objects: {len(ddl)}")
            for kind, count in sorted(kinds.items()):
                print(f"  {count:5d}  {kind}")
            for sql in ddl:
                print(f"  DDL: {sql}")
    log.unlink()


if __name__ == "__main__":
    main()
