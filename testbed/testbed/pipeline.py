"""Run the Meltano project against the sandbox and the local Snowflake, and look at the result.

Shared by the end-to-end tests, `make demo` (scripts/demo.py) and the benchmarks: the
environment a run gets, following a `meltano run` as it goes (records read per stream, rows
loaded per table), running the dbt project standalone, and reading the warehouse back.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import snowflake.connector
from snowflake.connector import SnowflakeConnection

from testbed.servers import admin_connection, prepare_database, stop_process

ROOT = Path(__file__).resolve().parents[2]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
PLUGINS_BIN = ROOT / ".venv" / "bin"
DBT = ROOT / ".venv-dbt" / "bin" / "dbt"
TRANSFORM = ROOT / "transform"
TAP = "tap-intercom"
TARGET = "target-snowflake"
# Meltano's dbt utility (meltano.yml), as a task of `meltano run`.
DBT_BUILD = "dbt-snowflake:build"
# The streams the analytics end models (transform/) read.
ANALYTICS_STREAMS = (
    "admins",
    "teams",
    "tags",
    "articles",
    "help_center_collections",
    "help_centers",
    "activity_logs",
    "contacts",
    "contact_tags",
    "contact_companies",
    "companies",
    "conversations",
    "conversation_parts",
    "tickets",
    "ticket_parts",
)
# Meltano's state ID for `meltano --environment=demo run tap-intercom target-snowflake`.
DEMO_STATE_ID = f"demo:{TAP}-to-{TARGET}"
# Settings a user's shell or .env may carry for prod; a local run must not inherit them:
# they are dropped from the environment, and Meltano reads no .env (LOCAL_ONLY).
PLUGIN_ENV_PREFIXES = ("TAP_INTERCOM_", "TARGET_SNOWFLAKE_", "MELTANO_")
LOCAL_ONLY = f"--env-file={os.devnull}"

# Called with ("read", stream, records) for the tap's counts and ("loaded", table, rows)
# for each batch the target commits.
ProgressCallback = Callable[[str, str, int], None]
# The target's log line for a committed batch: Loaded N rows for "DB"."SCHEMA"."TABLE".
LOADED = re.compile(r'Loaded (\d+) rows (?:for|into) .*\."((?:[^"]|"")+)"')


class PipelineError(RuntimeError):
    """A pipeline run failed; the message carries the last error lines of its log."""


@dataclass(frozen=True)
class LocalEndpoints:
    """Where one local pipeline reads from and writes to."""

    intercom_url: str
    intercom_token: str
    snowflake: dict[str, Any]  # connection settings of `testbed.servers.local_snowflake`
    database: str
    schema: str = "INTERCOM"

    def connect(self) -> SnowflakeConnection:
        """A connection to the warehouse database (short timeouts: the emulator is local)."""
        return snowflake.connector.connect(
            **self.snowflake, database=self.database, login_timeout=15, network_timeout=120
        )

    def prepare_database(self) -> None:
        """As the administrator: create the database and schema the run loads into, grant
        the loader role what a load needs (docs/snowflake-privileges.md), and let it create
        the schemas the dbt models go to (docs/analytics.md)."""
        with contextlib.closing(admin_connection(self.snowflake)) as admin:
            prepare_database(admin, self.database, self.schema, create_schemas=True)

    def meltano_env(self, sys_dir: Path | None = None) -> dict[str, str]:
        """Environment for `meltano --environment=demo ...` against these endpoints.

        With `sys_dir` the run gets a `.meltano` directory of its own (system
        database, so state; run files) that shares the installed plugins; without it
        Meltano uses the project's `.meltano/`.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith(PLUGIN_ENV_PREFIXES)}
        env |= {
            "MELTANO_ENVIRONMENT": "demo",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_INTERCOM_API_URL": self.intercom_url,
            "TAP_INTERCOM_ACCESS_TOKEN": self.intercom_token,
            "TARGET_SNOWFLAKE_HOST": str(self.snowflake["host"]),
            "TARGET_SNOWFLAKE_PORT": str(self.snowflake["port"]),
            "TARGET_SNOWFLAKE_PROTOCOL": str(self.snowflake["protocol"]),
            "TARGET_SNOWFLAKE_USER": str(self.snowflake["user"]),
            "TARGET_SNOWFLAKE_PASSWORD": str(self.snowflake["password"]),
            "TARGET_SNOWFLAKE_ROLE": str(self.snowflake["role"]),
            "TARGET_SNOWFLAKE_WAREHOUSE": str(self.snowflake["warehouse"]),
            "TARGET_SNOWFLAKE_DATABASE": self.database,
            "TARGET_SNOWFLAKE_DEFAULT_TARGET_SCHEMA": self.schema,
        }
        if sys_dir is not None:
            env["MELTANO_SYS_DIR_ROOT"] = str(own_meltano_dir(sys_dir))
        return env

    def dbt_env(self, work_dir: Path) -> dict[str, str]:
        """Environment for the dbt project run standalone (`run_dbt`): the target's
        variables, as a user exports them; dbt's files under `work_dir`, so that runs
        at the same time do not share them."""
        env = self.meltano_env()
        env |= {
            "TARGET_SNOWFLAKE_ACCOUNT": str(self.snowflake["account"]),
            "DBT_TARGET_PATH": str(work_dir / "target"),
            "DBT_LOG_PATH": str(work_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        return env

    def tap_config(self) -> dict[str, Any]:
        """tap.json for the shell pipe."""
        return {"api_url": self.intercom_url, "access_token": self.intercom_token}

    def target_config(self) -> dict[str, Any]:
        """target.json for the shell pipe."""
        return {
            **self.snowflake,
            "database": self.database,
            "default_target_schema": self.schema,
        }


@dataclass
class RunResult:
    """What one pipeline run did."""

    returncode: int
    records: collections.Counter[str] = field(default_factory=collections.Counter)  # by stream
    loaded: collections.Counter[str] = field(default_factory=collections.Counter)  # by table
    errors: list[str] = field(default_factory=list)


def own_meltano_dir(path: Path) -> Path:
    """A `.meltano` directory for concurrent runs: Meltano writes each run's config,
    catalog and state files to fixed paths under `.meltano/run/`, so two runs sharing
    one directory overwrite and delete each other's. The plugin installs are shared."""
    path.mkdir(parents=True, exist_ok=True)
    for plugin_type in ("extractors", "loaders", "utilities"):
        link = path / plugin_type
        if not link.exists():
            link.symlink_to(ROOT / ".meltano" / plugin_type, target_is_directory=True)
    return path


def meltano_install(env: dict[str, str] | None = None) -> None:
    """Build both plugins' virtual environments in .meltano/ (fast when up to date)."""
    result = subprocess.run(
        [str(MELTANO), "install"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise PipelineError(f"meltano install failed:\n{result.stdout}\n{result.stderr}")


def meltano(args: list[str], env: dict[str, str]) -> str:
    """Run a short meltano command (state, config) and return its stdout."""
    result = subprocess.run(
        [str(MELTANO), LOCAL_ONLY, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise PipelineError(f"meltano {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class MeltanoRun:
    """`meltano run tap-intercom target-snowflake` in its own process group.

    Meltano logs as JSON lines; the tap's stderr arrives as events named
    `tap-intercom`, among them singer-sdk's `METRIC: {...}` points, whose
    `record_count` counters are increments per stream; the target's as events named
    `target-snowflake`, with a `Loaded N rows into ...` line per committed batch.
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        extra_args: tuple[str, ...] = (),
        tasks: tuple[str, ...] = (TAP, TARGET),
    ):
        self.log_path = log_path
        self.result = RunResult(returncode=-1)
        self.process = subprocess.Popen(
            [str(MELTANO), LOCAL_ONLY, "--log-format=json", "run", *extra_args, *tasks],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def follow(
        self,
        on_progress: ProgressCallback | None = None,
        until: Callable[[dict], bool] | None = None,
    ) -> RunResult:
        """Read the log to the end (or until `until(event)` is true), counting records."""
        assert self.process.stdout is not None
        with open(self.log_path, "w") as log:
            for line in self.process.stdout:
                event = self._record(line, log, on_progress)
                if until is not None and event is not None and until(event):
                    return self.result
        self.result.returncode = self.process.wait()
        return self.result

    def _record(self, line: str, log: TextIO, on_progress: ProgressCallback | None) -> dict | None:
        log.write(line)
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            self.result.errors.append(line.rstrip())
            return None
        message = str(event.get("event", ""))
        if event.get("level") in ("error", "critical"):
            self.result.errors.append(f"{event.get('name', 'meltano')}: {message}")
        progress = None
        if event.get("name") == TAP and message.startswith("METRIC: "):
            point = json.loads(message.removeprefix("METRIC: "))
            if point.get("metric") == "record_count" and point.get("value"):
                progress = ("read", point["tags"]["stream"], point["value"])
                self.result.records[progress[1]] += progress[2]
        elif event.get("name") == TARGET and (loaded := LOADED.search(message)):
            progress = ("loaded", loaded.group(2).replace('""', '"'), int(loaded.group(1)))
            self.result.loaded[progress[1]] += progress[2]
        if progress is not None and on_progress is not None:
            on_progress(*progress)
        return event

    def kill(self) -> None:
        """SIGKILL Meltano, the tap and the target at once, as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Terminate the run if it is still going (Ctrl-C, failure elsewhere)."""
        stop_process(self.process)

    def __enter__(self) -> MeltanoRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self.process.stdout is not None:
            self.process.stdout.close()


def run_pipeline(
    env: dict[str, str],
    log_path: Path,
    extra_args: tuple[str, ...] = (),
    on_progress: ProgressCallback | None = None,
    tasks: tuple[str, ...] = (TAP, TARGET),
) -> RunResult:
    """One complete `meltano run`; raises PipelineError when it fails."""
    with MeltanoRun(env, log_path, extra_args, tasks) as run:
        result = run.follow(on_progress)
    if result.returncode != 0:
        tail = "\n".join(result.errors[-20:])
        raise PipelineError(f"meltano run exited {result.returncode} (log: {log_path}):\n{tail}")
    return result


def table_names(conn: SnowflakeConnection, schema: str) -> list[str]:
    """The tables of a warehouse schema."""
    cur = conn.cursor()
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
        " ORDER BY table_name",
        (schema,),
    )
    return [row[0] for row in cur.fetchall()]


def fetch_rows(conn: SnowflakeConnection, schema: str, table: str) -> list[dict[str, Any]]:
    """Every row of a warehouse table as {COLUMN: value}."""
    cur = conn.cursor(snowflake.connector.DictCursor)
    cur.execute(f'SELECT * FROM "{schema}"."{table}"')
    return list(cur.fetchall())


@dataclass(frozen=True)
class TableCount:
    """Rows in a warehouse table, and how many of them are soft-deleted."""

    rows: int
    deleted: int


def table_counts(endpoints: LocalEndpoints) -> dict[str, TableCount]:
    """Rows per table of the loaded schema (counted in SQL: the local Snowflake reads a
    NULL timestamp back as 1970-01-01)."""
    counts = {}
    with contextlib.closing(endpoints.connect()) as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT table_name FROM information_schema.columns"
            " WHERE table_schema = %s AND column_name = '_SDC_DELETED_AT'",
            (endpoints.schema,),
        )
        with_deletions = {row[0] for row in cur.fetchall()}
        for table in table_names(conn, endpoints.schema):
            deleted = 'COUNT("_SDC_DELETED_AT")' if table in with_deletions else "0"
            cur.execute(f'SELECT COUNT(*), {deleted} FROM "{endpoints.schema}"."{table}"')
            counted = cur.fetchone()
            assert counted is not None  # an aggregate query returns one row
            rows, deleted_rows = counted
            counts[table] = TableCount(rows=rows, deleted=deleted_rows)
    return counts


@dataclass(frozen=True)
class DbtResult:
    """What one dbt command did, from its run_results.json: each node's status and the rows
    its statement reported (inserted, merged, deleted), by node name."""

    statuses: dict[str, str]
    rows_affected: dict[str, int]
    elapsed_seconds: float
    output: str


def run_dbt(args: list[str], env: dict[str, str], check: bool = True) -> DbtResult:
    """`dbt ARGS` on the transform/ project with the profile that reads the target's
    variables; raises PipelineError when it fails (unless `check` is false)."""
    result = subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(TRANSFORM),
            "--profiles-dir",
            str(TRANSFORM / "profiles"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise PipelineError(f"dbt {' '.join(args)} exited {result.returncode}:\n{output[-6000:]}")
    results_path = Path(env.get("DBT_TARGET_PATH", TRANSFORM / "target")) / "run_results.json"
    statuses: dict[str, str] = {}
    rows: dict[str, int] = {}
    elapsed = 0.0
    if results_path.exists():
        run_results = json.loads(results_path.read_text())
        elapsed = float(run_results.get("elapsed_time", 0.0))
        for node in run_results["results"]:
            name = node["unique_id"].split(".")[-1]
            statuses[name] = node["status"]
            affected = (node.get("adapter_response") or {}).get("rows_affected")
            if affected is not None:
                rows[name] = int(affected)
    return DbtResult(statuses, rows, elapsed, output)
