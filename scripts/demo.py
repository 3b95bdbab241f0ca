"""`make demo`: the whole pipeline on a local demo.

Starts the Intercom sandbox and the local Snowflake (fakesnow) on loopback, runs
`meltano --environment=demo run tap-intercom target-snowflake dbt-snowflake:build` with live
progress, changes records in the sandbox, runs again incrementally and shows what landed and
the support KPIs the analytics models give.
Every server it starts is stopped at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from testbed.intercom import SandboxClient
from testbed.pipeline import (
    DBT_BUILD,
    DEMO_STATE_ID,
    ROOT,
    TAP,
    TARGET,
    TRANSFORM,
    LocalEndpoints,
    PipelineError,
    RunResult,
    TableCount,
    meltano,
    meltano_install,
    run_pipeline,
    table_counts,
)
from testbed.servers import LOOPBACK, local_snowflake, stop_process

DEMO_DIR = ROOT / ".demo"
SANDBOX_TOKEN = "demo-token"
# The demo workspace: big enough to show paging and parallel fetches, small enough
# to load in well under a minute.
SANDBOX_ARGS = ["--seed", "7", "--contacts", "2000", "--token", SANDBOX_TOKEN]
# What happens in Intercom between the two runs: (kind, action, count).
CHANGES = [
    ("contacts", "update", 25),
    ("contacts", "add", 10),
    ("companies", "update", 5),
    ("companies", "add", 2),
    ("conversations", "update", 10),
    ("conversations", "add_parts", 10),
    ("conversations", "add", 5),
    ("conversations", "delete", 3),
    ("tickets", "update", 5),
    ("tickets", "add", 2),
]
SANDBOX_START_TIMEOUT = 60.0
TASKS = (TAP, TARGET, DBT_BUILD)
# Support KPIs per current team, from the end models (docs/analytics.md).
KPI_QUERY = """
SELECT COALESCE(teams.team_name, 'no team') AS team,
       COUNT(*) AS conversations,
       MEDIAN(metrics.time_to_first_response_minutes) AS first_response,
       MEDIAN(IFF(metrics.conversation_state = 'closed', metrics.time_to_last_close_minutes, NULL))
           AS time_to_close,
       AVG(metrics.conversation_rating) AS csat,
       COUNT(metrics.conversation_rating) AS rated,
       COUNT_IF(metrics.conversation_state != 'closed') AS open_backlog
FROM INTERCOM_ANALYTICS.INTERCOM__CONVERSATION_METRICS AS metrics
LEFT JOIN INTERCOM_STAGING.STG_INTERCOM__TEAMS AS teams
    ON metrics.source_relation = teams.source_relation
    AND metrics.team_assignee_id = teams.team_id
GROUP BY 1
ORDER BY 1
"""


def say(text: str = "") -> None:
    """Print a line of the demo's story at once (the output may be piped)."""
    print(text, flush=True)


@contextlib.contextmanager
def intercom_sandbox(log_path: Path) -> Iterator[str]:
    """Run the sandbox CLI on a free loopback port; yield its URL (its first stdout line)."""
    args = [sys.executable, "-m", "testbed.intercom", "--host", LOOPBACK, "--port", "0"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*args, *SANDBOX_ARGS],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield _sandbox_url(process, log_path)
    finally:
        stop_process(process)


def _sandbox_url(process: subprocess.Popen, log_path: Path) -> str:
    deadline = time.monotonic() + SANDBOX_START_TIMEOUT
    while time.monotonic() < deadline:
        for line in log_path.read_text().splitlines():
            if line.startswith("http://"):
                return line.strip()
        if process.poll() is not None:
            raise PipelineError(f"the sandbox exited with {process.returncode}; see {log_path}")
        time.sleep(0.1)
    raise PipelineError(
        f"the sandbox printed no URL within {SANDBOX_START_TIMEOUT}s; see {log_path}"
    )


class Progress:
    """Prints, as they happen, the records the tap has read per stream (at each stream's
    end, and every minute for long streams) and the rows the target has committed."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.totals = {"read": 0, "loaded": 0}

    def __call__(self, kind: str, name: str, count: int) -> None:
        self.totals[kind] += count
        elapsed = time.monotonic() - self.started
        say(
            f"      {elapsed:5.1f} s  {kind:<6} {name.lower():<24} {count:>7,}"
            f"   ({self.totals[kind]:,} {'records' if kind == 'read' else 'rows'} so far)"
        )


def pipeline_run(
    title: str, endpoints: LocalEndpoints, sandbox: SandboxClient, log: Path
) -> RunResult:
    """One `meltano run` with live progress and a closing line."""
    say(title)
    say(f"      $ meltano --environment=demo run {' '.join(TASKS)}")
    sandbox.clear_requests()
    progress = Progress()
    result = run_pipeline(endpoints.meltano_env(), log, on_progress=progress, tasks=TASKS)
    requests = len(sandbox.requests())
    elapsed = time.monotonic() - progress.started
    say(
        f"      done in {elapsed:.1f} s: {sum(result.records.values()):,} records read from"
        f" {len(result.records)} streams with {requests:,} API requests,"
        f" {sum(result.loaded.values()):,} rows loaded (log: {log.relative_to(ROOT)})"
    )
    return result


def change_sandbox(sandbox: SandboxClient) -> None:
    """Make the changes a day of Intercom use would: updates, new records, deletions."""
    say("[4/6] Changing data in Intercom (the sandbox's control API)")
    for kind, action, count in CHANGES:
        ids = sandbox.change(kind, action, count)
        say(f"      {kind:<14} {action:<10} {len(ids):>3}")


def print_tables(
    before: dict[str, TableCount], after: dict[str, TableCount], second: RunResult
) -> None:
    """Rows per warehouse table after each run (how many of them marked deleted), and
    what the second run changed."""
    say("[6/6] The warehouse: DEMO.INTERCOM")
    columns = ("run 1 rows", "run 2 rows", "new rows", "newly deleted", "run 2 records")
    header = f"      {'table':<24}" + "".join(f" {name:>13}" for name in columns)
    say(header)
    say("      " + "-" * (len(header) - 6))
    for table in sorted(after):
        first = before.get(table, TableCount(0, 0))
        now = after[table]
        figures = (
            f"{first.rows:,}" + (f" ({first.deleted:,} del)" if first.deleted else ""),
            f"{now.rows:,}" + (f" ({now.deleted:,} del)" if now.deleted else ""),
            f"{now.rows - first.rows:+,}",
            f"{now.deleted - first.deleted:+,}",
            f"{second.records.get(table.lower(), 0):,}",
        )
        say(f"      {table:<24}" + "".join(f" {figure:>13}" for figure in figures))
    say(
        "      Run 2 re-reads the small full-table streams whole and only what changed in"
        " the incremental ones.\n      A conversation deleted in Intercom stays as a row"
        " with _SDC_DELETED_AT set ('del'); `hard_delete: true` removes it instead."
    )


Kpis = dict[str, tuple[float | None, ...]]


def support_kpis(endpoints: LocalEndpoints) -> Kpis:
    """The KPI table's figures per team."""
    with contextlib.closing(endpoints.connect()) as conn:
        cursor = conn.cursor()
        cursor.execute(KPI_QUERY)
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{float(value):,.1f}".removesuffix(".0")


def print_kpis(title: str, kpis: Kpis, before: Kpis | None = None) -> None:
    """Median first response and time to close (minutes), CSAT (1-5) and the open backlog
    per team; with `before`, each figure's change since then."""
    say(title)
    labels = ("convs", "1st resp min", "to close min", "CSAT", "rated", "open")
    header = f"      {'team':<12}" + "".join(f" {label:>16}" for label in labels)
    say(header)
    say("      " + "-" * (len(header) - 6))
    for team, figures in kpis.items():
        cells = []
        for n, value in enumerate(figures):
            cell = _figure(value)
            old = before.get(team, (None,) * len(figures))[n] if before is not None else None
            if before is not None and old != value and None not in (old, value):
                cell += f" ({float(value) - float(old):+,.1f})".replace(".0)", ")")
            cells.append(cell)
        say(f"      {team:<12}" + "".join(f" {cell:>16}" for cell in cells))


def print_incremental_models() -> None:
    """What dbt's incremental models merged in the last build (its run_results.json)."""
    results = json.loads((TRANSFORM / "target" / "run_results.json").read_text())
    merged = {
        node["unique_id"].split(".")[-1]: (node.get("adapter_response") or {}).get("rows_affected")
        for node in results["results"]
        if node["unique_id"].split(".")[-1]
        in ("intercom__conversation_parts", "intercom__activity_logs", "intercom__webhook_events")
    }
    say(
        "      incremental models, rows merged by the second build: "
        + ", ".join(
            f"{model} {rows if rows is not None else '-'}" for model, rows in merged.items()
        )
    )


def demo() -> None:
    """The demo, from installing the plugins to the final table."""
    started = time.monotonic()
    DEMO_DIR.mkdir(exist_ok=True)
    say("[1/6] Installing both plugins into .meltano/ (meltano install)")
    meltano_install()
    say(f"      done in {time.monotonic() - started:.1f} s")
    with contextlib.ExitStack() as servers:
        say("[2/6] Starting the Intercom sandbox and the local Snowflake (fakesnow)")
        url = servers.enter_context(intercom_sandbox(DEMO_DIR / "sandbox.log"))
        snowflake = servers.enter_context(local_snowflake(DEMO_DIR / "fakesnow"))
        say(f"      Intercom sandbox  {url}  (log .demo/sandbox.log)")
        say(
            f"      local Snowflake   {snowflake['host']}:{snowflake['port']}"
            "  (log .demo/fakesnow/fakesnow.log)"
        )
        sandbox = SandboxClient(url)
        endpoints = LocalEndpoints(
            intercom_url=url, intercom_token=SANDBOX_TOKEN, snowflake=snowflake, database="DEMO"
        )
        # As on a real account, an administrator creates the database and schema and grants
        # the loader role what it needs (docs/snowflake-privileges.md).
        endpoints.prepare_database()
        # The local Snowflake starts empty, so the demo starts without a saved bookmark.
        env = endpoints.meltano_env()
        meltano(["--environment=demo", "state", "clear", "--force", DEMO_STATE_ID], env)

        pipeline_run(
            "[3/6] First run: everything, then the analytics models",
            endpoints,
            sandbox,
            DEMO_DIR / "run-1.log",
        )
        before = table_counts(endpoints)
        kpis_before = support_kpis(endpoints)
        print_kpis("      Support KPIs per team (INTERCOM_ANALYTICS, after run 1)", kpis_before)
        change_sandbox(sandbox)
        second = pipeline_run(
            "[5/6] Second run: incremental, from the state Meltano saved",
            endpoints,
            sandbox,
            DEMO_DIR / "run-2.log",
        )
        print_tables(before, table_counts(endpoints), second)
        print_kpis(
            "      Support KPIs per team after run 2 (change since run 1)",
            support_kpis(endpoints),
            kpis_before,
        )
        print_incremental_models()
    took = time.monotonic() - started
    say(f"Stopped the sandbox and the local Snowflake. The demo took {took:.0f} s.")
    say(f"Meltano kept the state: .venv-meltano/bin/meltano state get {DEMO_STATE_ID}")


def main() -> int:
    """Run the demo; a failure or an interrupt still stops every server it started."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    try:
        demo()
    except PipelineError as error:
        say(f"\nThe demo failed: {error}")
        return 1
    except KeyboardInterrupt:
        say("\nInterrupted; every server the demo started is stopped.")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
