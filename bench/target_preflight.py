"""Benchmark: target-snowflake's startup check, its statements and wall time.

Run: .venv/bin/python -m bench.target_preflight [--repeats 5]

Starts the strict local Snowflake (loopback; the loader role with the database and schema
prepared by the administrator, and CREATE SCHEMA on the database) and plain fakesnow. On
each, per repeat, a fresh session (`Connection.open`: login, then the check) and then the
check again on that open session (`check_privileges` alone), with the schema existing;
and, on a fresh schema each time, the first run's path (the check creates the schema).
Statements are counted from the connection's own SQL log. Prints the medians and writes
bench/results/target_preflight.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from target_snowflake.connection import Connection
from target_snowflake.preflight import check_privileges

from testbed.servers import admin_connection, local_snowflake, plain_fakesnow, prepare_database

RESULTS = Path(__file__).parent / "results"
DATABASE, SCHEMA = "BENCH_PREFLIGHT", "INTERCOM"


class StatementCount(logging.Handler):
    """Counts the statements `Connection.execute` logs (at DEBUG, "SQL: ...")."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("SQL: "):
            self.statements += 1


@contextlib.contextmanager
def counted() -> Iterator[StatementCount]:
    logger = logging.getLogger("target_snowflake.connection")
    handler, level = StatementCount(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def measure(action: Callable[[], object]) -> tuple[float, int]:
    """Wall seconds and statements of one call."""
    with counted() as count:
        start = time.perf_counter()
        action()
        return time.perf_counter() - start, count.statements


def bench(server: dict, repeats: int) -> dict[str, tuple[float, int]]:
    """Median wall seconds and the statement count of each path."""
    config = {
        **server,
        "database": DATABASE,
        "default_target_schema": SCHEMA,
        "statement_timeout_seconds": 600,  # no SHOW PARAMETERS at login: open() = login + check
    }
    paths: dict[str, list[tuple[float, int]]] = {"open": [], "check": [], "new schema": []}
    for repeat in range(repeats + 1):  # the first is a warm-up
        connection = Connection(config)
        opened = measure(connection.open)
        checked = measure(partial(check_privileges, connection, server["warehouse"], None))
        connection.close()
        fresh = Connection({**config, "default_target_schema": f"{SCHEMA}_{repeat}"})
        created = measure(fresh.open)
        fresh.close()
        if repeat:
            paths["open"].append(opened)
            paths["check"].append(checked)
            paths["new schema"].append(created)
    return {
        path: (statistics.median(s for s, _ in runs), runs[0][1]) for path, runs in paths.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-preflight-") as work:
        with local_snowflake(Path(work) / "strict") as strict:
            with contextlib.closing(admin_connection(strict)) as admin:
                prepare_database(admin, DATABASE, SCHEMA, create_schemas=True)
            results = {"strict local Snowflake": bench(strict, args.repeats)}
        with plain_fakesnow(Path(work) / "plain.log") as plain:
            results["plain fakesnow"] = bench(plain, args.repeats)
    rows.append("| server | path | statements | median wall (ms) |")
    rows.append("|---|---|---:|---:|")
    labels = {
        "open": "login + check (schema exists)",
        "check": "check alone, on an open session",
        "new schema": "login + check creating the schema",
    }
    for server, paths in results.items():
        for path, (seconds, statements) in paths.items():
            rows.append(f"| {server} | {labels[path]} | {statements} | {seconds * 1000:.1f} |")
    table = "\n".join(rows)
    print(table)
    (RESULTS / "target_preflight.md").write_text(
        f"# bench.target_preflight (median of {args.repeats})\n\n{table}\n"
    )


if __name__ == "__main__":
    main()
