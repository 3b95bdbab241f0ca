"""The whole pipeline, as users run it: sandbox -> tap -> target -> local Snowflake.

Every test uses the real `meltano` CLI (or the plugins' console scripts in a shell
pipe), a small sandbox workspace and its own database on the shared local Snowflake,
and checks the warehouse against the sandbox's ground truth.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from testbed.pipeline import (
    PLUGINS_BIN,
    LocalEndpoints,
    MeltanoRun,
    run_pipeline,
    table_counts,
)
from testbed.servers import admin_connection
from tests.e2e.truth import assert_warehouse_matches, warehouse_differences

pytestmark = pytest.mark.e2e

# Between two runs: updates, new records, new conversation parts and deletions.
CHANGES = [
    ("contacts", "update", 4),
    ("contacts", "add", 3),
    ("companies", "update", 2),
    ("companies", "add", 1),
    ("conversations", "update", 3),
    ("conversations", "add_parts", 2),
    ("conversations", "add", 2),
    ("conversations", "delete", 2),
    ("tickets", "update", 2),
    ("tickets", "add", 1),
    ("tickets", "add_parts", 1),
]
# Per-item endpoints whose requests show which parents a run read in detail.
DETAIL_PATHS = {
    "conversations": re.compile(r"^/conversations/(\d+)$"),
    "tickets": re.compile(r"^/tickets/(\d+)$"),
}
# What Meltano logs when it has stored a STATE message from the target.
STATE_SAVED = "Incremental state has been updated"
# How far back a contacts search re-reads: Intercom matches contact dates by day.
DAY = 86_400


def apply_changes(sandbox: Any) -> dict[str, set[str]]:
    """Make the CHANGES; the ids of the records changed and still there, per kind."""
    changed: dict[str, set[str]] = {}
    deleted: set[str] = set()
    for kind, action, count in CHANGES:
        ids = {str(i) for i in sandbox.client.change(kind, action, count)}
        assert len(ids) == count, (kind, action, ids)
        (deleted if action == "delete" else changed.setdefault(kind, set())).update(ids)
    changed["conversations"] -= deleted
    return changed


def detail_ids(requests: Iterable[Mapping[str, Any]], stream: str) -> set[str]:
    """Ids of the records of `stream` fetched one by one."""
    pattern = DETAIL_PATHS[stream]
    return {
        match.group(1)
        for request in requests
        if request["method"] == "GET" and (match := pattern.match(request["path"]))
    }


def recently_updated(truth: Mapping[str, Any], stream: str, since: int) -> set[str]:
    """Ids of the truth's records of `stream` updated at or after `since` (UNIX seconds)."""
    return {str(r["id"]) for r in truth["streams"][stream] if r["updated_at"] >= since}


def newest_update(truth: Mapping[str, Any], stream: str) -> int:
    return max(r["updated_at"] for r in truth["streams"][stream])


def test_meltano_run_loads_everything_then_only_what_changed(
    small_sandbox, endpoints: LocalEndpoints, meltano_env, stream_keys, tmp_path: Path
):
    password = "e2e-secret-password-9c2d"  # a loader user of its own, with this password
    with contextlib.closing(admin_connection(endpoints.snowflake)) as admin:
        admin.cursor().execute(
            f"CREATE USER E2E_LOADER PASSWORD = '{password}' DEFAULT_ROLE = LOADER"
            " DEFAULT_WAREHOUSE = LOADING"
        )
        admin.cursor().execute("GRANT ROLE LOADER TO USER E2E_LOADER")
    meltano_env = meltano_env | {
        "TARGET_SNOWFLAKE_USER": "E2E_LOADER",
        "TARGET_SNOWFLAKE_PASSWORD": password,
    }
    run_pipeline(meltano_env, tmp_path / "run-1.log")
    before = small_sandbox.client.truth()
    assert_warehouse_matches(endpoints, before, stream_keys)

    small_sandbox.client.clear_requests()
    changed = apply_changes(small_sandbox)
    second = run_pipeline(meltano_env, tmp_path / "run-2.log")
    after = small_sandbox.client.truth()
    assert_warehouse_matches(endpoints, after, stream_keys)

    requests = small_sandbox.client.requests()
    for stream in DETAIL_PATHS:
        fetched = detail_ids(requests, stream)
        # Re-reading around the first run's bookmark is allowed (the target upserts).
        window = recently_updated(before, stream, newest_update(before, stream) - DAY)
        assert changed[stream] <= fetched, f"{stream}: changed parents not read"
        assert fetched <= changed[stream] | window, f"{stream}: unchanged parents read again"
        assert len(window) < len(before["streams"][stream]) / 2, "workspace too recent to tell"
    assert second.records["contacts"] < len(after["streams"]["contacts"])
    for log in ("run-1.log", "run-2.log"):
        output = (tmp_path / log).read_text()
        assert small_sandbox.token not in output
        assert password not in output


def shell_pipe(directory: Path, endpoints: LocalEndpoints, state: bool) -> list[str]:
    """`tap-intercom --config tap.json [--state state.json] | target-snowflake --config
    target.json > out.jsonl`, as the README shows it; the lines of out.jsonl."""
    (directory / "tap.json").write_text(json.dumps(endpoints.tap_config()))
    (directory / "target.json").write_text(json.dumps(endpoints.target_config()))
    state_option = " --state state.json" if state else ""
    pipe = (
        f"{PLUGINS_BIN / 'tap-intercom'} --config tap.json{state_option} 2>tap.log"
        f" | {PLUGINS_BIN / 'target-snowflake'} --config target.json > out.jsonl 2>target.log"
    )
    subprocess.run(["bash", "-o", "pipefail", "-c", pipe], cwd=directory, check=True, timeout=300)
    return (directory / "out.jsonl").read_text().splitlines()


def test_shell_pipe_with_a_state_file(
    small_sandbox, endpoints: LocalEndpoints, stream_keys, tmp_path: Path
):
    (tmp_path / "state.json").write_text("{}")
    states = []
    for round_ in (1, 2):
        if round_ == 2:
            apply_changes(small_sandbox)
        lines = shell_pipe(tmp_path, endpoints, state=True)
        assert lines, "the target wrote no state"
        states.append(json.loads(lines[-1]))
        (tmp_path / "state.json").write_text(lines[-1])
        assert_warehouse_matches(endpoints, small_sandbox.client.truth(), stream_keys)

    first, second = (state["bookmarks"]["contacts"]["replication_key_value"] for state in states)
    assert datetime.fromisoformat(second) > datetime.fromisoformat(first)


def test_the_truth_comparison_sees_a_wrong_value_a_lost_row_and_a_duplicate(
    small_sandbox, endpoints: LocalEndpoints, stream_keys, tmp_path: Path
):
    shell_pipe(tmp_path, endpoints, state=False)
    truth = small_sandbox.client.truth()
    assert warehouse_differences(endpoints, truth, stream_keys) == []

    first, second = sorted(r["id"] for r in truth["streams"]["tags"])[:2]
    team = truth["streams"]["teams"][0]["id"]
    with contextlib.closing(endpoints.connect()) as conn:
        cur = conn.cursor()
        cur.execute('UPDATE INTERCOM.TAGS SET "NAME" = \'renamed\' WHERE "ID" = %s', (first,))
        cur.execute('DELETE FROM INTERCOM.TEAMS WHERE "ID" = %s', (team,))
        cur.execute("INSERT INTO INTERCOM.ADMINS SELECT * FROM INTERCOM.ADMINS LIMIT 1")
    differences = "\n".join(warehouse_differences(endpoints, truth, stream_keys))
    assert f"tags['{first}'].name: 'renamed' != expected" in differences
    assert "teams: 1 missing" in differences
    assert "admins: 1 duplicate keys" in differences
    assert second not in differences


def test_full_refresh_reloads_without_duplicates(
    small_sandbox, endpoints: LocalEndpoints, meltano_env, stream_keys, tmp_path: Path
):
    run_pipeline(meltano_env, tmp_path / "run-1.log")
    apply_changes(small_sandbox)
    full = run_pipeline(meltano_env, tmp_path / "full.log", extra_args=("--full-refresh",))
    truth = small_sandbox.client.truth()
    # Duplicates are differences; so are conversations deleted since run 1 left unmarked.
    assert_warehouse_matches(endpoints, truth, stream_keys)
    for stream in ("contacts", "companies", "conversations", "tickets"):
        assert full.records[stream] >= len(truth["streams"][stream]), f"{stream} not reloaded"


def test_a_run_killed_midway_and_run_again_ends_with_the_same_tables(
    small_sandbox, endpoints: LocalEndpoints, meltano_env, stream_keys, tmp_path: Path
):
    # Slow responses and small batches: the kill lands mid-run, after some commits.
    small_sandbox.client.set_faults(latency_ms=20)
    meltano_env = meltano_env | {"TARGET_SNOWFLAKE_BATCH_SIZE_ROWS": "10"}
    with MeltanoRun(meltano_env, tmp_path / "killed.log") as run:
        run.follow(until=lambda event: STATE_SAVED in str(event.get("event")))
        assert run.process.poll() is None, "the run ended before it could be killed"
        run.kill()
    assert table_counts(endpoints), "nothing was loaded before the kill"

    small_sandbox.client.set_faults(latency_ms=0)
    # Meltano sees the killed job as still running until it goes stale (minutes).
    run_pipeline(meltano_env, tmp_path / "rerun.log", extra_args=("--force",))
    assert_warehouse_matches(endpoints, small_sandbox.client.truth(), stream_keys)
