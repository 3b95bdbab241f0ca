"""The dbt project (transform/) on the loaded tables, proven against the sandbox's truth.

One workspace is loaded and modelled with `meltano run tap-intercom target-snowflake
dbt-snowflake:build`; every end model is then compared row by row with the same figures
computed in Python from the sandbox's truth (tests/e2e/analytics_truth.py). The workspace
then changes, the pipeline runs again, and dbt runs standalone (the profile that reads the
target's variables): the models match the new truth, and the incremental models touched
only the rows in their lookback window. A second workspace in a schema of its own shows the
union of workspaces, through the project installed as a git package in another dbt project.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testbed.intercom import RunningSandbox, SandboxOptions, run_sandbox
from testbed.pipeline import (
    ANALYTICS_STREAMS,
    DBT,
    DBT_BUILD,
    ROOT,
    TAP,
    TARGET,
    LocalEndpoints,
    run_dbt,
    run_pipeline,
)
from testbed.webhooks import STREAM, deliver, make_notification, running_receiver
from tests.e2e.analytics_truth import (
    END_MODELS,
    AnalyticsTruth,
    model_differences,
    read_model,
)
from tests.e2e.test_pipeline import apply_changes, shell_pipe

pytestmark = pytest.mark.e2e

DATABASE = "E2E_ANALYTICS"
ANALYTICS = "INTERCOM_ANALYTICS"  # <the target's schema>_ANALYTICS
# Enough conversations for every lifecycle the sandbox makes, one over 500 parts.
WORKSPACE = {
    "seed": 23,
    "contacts": 80,
    "companies": 15,
    "conversations": 60,
    "big_conversations": 1,
    "deleted_conversations": 3,
    "tickets": 20,
    "articles": 8,
    "activity_logs": 20,
}
INCREMENTAL_MODELS = ("intercom__conversation_parts", "intercom__activity_logs")


@dataclass
class Workspace:
    sandbox: RunningSandbox
    endpoints: LocalEndpoints
    env: dict[str, str]
    work: Path
    notifications: list[dict[str, Any]] = field(default_factory=list)  # loaded so far

    def truth(self) -> AnalyticsTruth:
        records = {stream: self.sandbox.client.stream_truth(stream) for stream in ANALYTICS_STREAMS}
        return AnalyticsTruth(records, self.endpoints.schema, self.notifications)


@pytest.fixture(scope="module")
def workspace(
    meltano_project: Path, snowflake_server: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    """The workspace loaded and modelled by one `meltano run ... dbt-snowflake:build`."""
    work = tmp_path_factory.mktemp("analytics")
    with run_sandbox(SandboxOptions(**WORKSPACE)) as sandbox:
        endpoints = LocalEndpoints(sandbox.url, sandbox.token, snowflake_server, DATABASE)
        endpoints.prepare_database()
        env = endpoints.meltano_env(sys_dir=work / ".meltano")
        run_pipeline(env, work / "run-1.log", tasks=(TAP, TARGET, DBT_BUILD))
        yield Workspace(sandbox, endpoints, env, work)


def assert_models_match(workspace: Workspace) -> dict[str, int]:
    """Every end model equals the truth's figures; the rows compared per model."""
    truth = workspace.truth()
    problems, compared = {}, {}
    with contextlib.closing(workspace.endpoints.connect()) as conn:
        for model, (keys, expected) in END_MODELS.items():
            rows = expected(truth)
            compared[model] = len(rows)
            if differences := model_differences(rows, read_model(conn, ANALYTICS, model), keys):
                problems[model] = differences
    assert not problems, json.dumps({m: p[:10] for m, p in problems.items()}, indent=1)
    return compared


def test_meltano_run_builds_models_that_match_the_truth(workspace: Workspace):
    log = (workspace.work / "run-1.log").read_text()
    assert "dbt-snowflake" in log
    assert workspace.sandbox.token not in log
    print("rows compared, 0 mismatches:", json.dumps(assert_models_match(workspace)))


def test_every_end_model_has_rows(workspace: Workspace):
    with contextlib.closing(workspace.endpoints.connect()) as conn:
        for model in END_MODELS:
            assert read_model(conn, ANALYTICS, model), f"{model} is empty"


def test_parts_derived_figures_agree_with_intercoms_statistics(workspace: Workspace):
    """Where the parts are complete, ours and Intercom's agree; the warn test counts the
    rest (and does not fail the build)."""
    with contextlib.closing(workspace.endpoints.connect()) as conn:
        checks = read_model(conn, ANALYTICS, "intercom__conversation_statistics_check")
    assert checks
    complete = [c for c in checks if not c["is_missing_older_parts"]]
    agreeing = [c for c in complete if c["is_agreeing"]]
    assert len(agreeing) / len(complete) > 0.5, (len(agreeing), len(complete))
    print(f"agreeing: {sum(c['is_agreeing'] for c in checks)} of {len(checks)} conversations")
    assert any(not c["is_agreeing"] for c in checks if c["is_missing_older_parts"])


def test_incremental_build_after_changes_matches_and_touches_only_the_lookback(
    workspace: Workspace,
):
    apply_changes(workspace.sandbox)
    run_pipeline(workspace.env, workspace.work / "run-2.log")
    result = run_dbt(["build"], workspace.endpoints.dbt_env(workspace.work / "dbt"))
    print("rows compared after the changes:", json.dumps(assert_models_match(workspace)))
    with contextlib.closing(workspace.endpoints.connect()) as conn:
        totals = {m: len(read_model(conn, ANALYTICS, m)) for m in INCREMENTAL_MODELS}
    parts_touched = result.rows_affected["intercom__conversation_parts"]
    print("incremental rows merged:", result.rows_affected, "of", totals)
    assert 0 < parts_touched < totals["intercom__conversation_parts"] / 2, (parts_touched, totals)
    assert result.rows_affected["intercom__activity_logs"] < totals["intercom__activity_logs"]


def test_docs_generate_describes_every_end_model(workspace: Workspace, tmp_path: Path):
    """`dbt docs generate` needs nothing but the warehouse; every column the YAML documents
    exists in the built table."""
    run_dbt(["docs", "generate"], workspace.endpoints.dbt_env(tmp_path))
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    documented = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    built = {node["metadata"]["name"].lower(): node for node in catalog["nodes"].values()}
    for model in END_MODELS:
        assert documented[model]["description"], model
        columns = {name.lower() for name in built[model]["columns"]}
        assert set(documented[model]["columns"]) <= columns, model


# Custom attributes the consumer surfaces as columns (pass-through), as the sandbox names them.
PASS_THROUGH = {
    "intercom__conversation_custom_attributes": [
        {"name": "topic"},
        {"name": "escalation_level", "alias": "escalation", "type": "number"},
    ],
    "intercom__contact_custom_attributes": [{"name": "plan", "alias": "contact_plan"}],
}


def consumer_project(directory: Path, schemas: list[str]) -> Path:
    """Another team's dbt project that installs ours as a git package (this repository's
    current branch, subdirectory transform), reads the listed raw schemas and surfaces some
    custom attributes as columns."""
    branch = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    directory.mkdir(parents=True)
    variables = {"intercom_schemas": schemas, **PASS_THROUGH}
    (directory / "dbt_project.yml").write_text(
        "name: consumer\nversion: '1.0'\nconfig-version: 2\nprofile: intercom\n"
        f"vars: {json.dumps(variables)}\n"
    )
    (directory / "packages.yml").write_text(
        f"packages:\n  - git: 'file://{ROOT}'\n    revision: {branch}\n"
        "    subdirectory: transform\n"
    )
    return directory


def test_two_workspaces_through_the_package(
    workspace: Workspace, snowflake_server: dict, tmp_path: Path
):
    """A second workspace loaded into its own schema; a consumer project unions both."""
    second_options = {**WORKSPACE, "seed": 24, "conversations": 20, "big_conversations": 0}
    with run_sandbox(SandboxOptions(**second_options)) as sandbox:
        second = LocalEndpoints(
            sandbox.url, sandbox.token, snowflake_server, DATABASE, schema="SECOND_WORKSPACE"
        )
        second.prepare_database()
        (tmp_path / "pipe").mkdir()
        shell_pipe(tmp_path / "pipe", second, state=False)
        truths = [
            workspace.truth(),
            AnalyticsTruth(
                {s: sandbox.client.stream_truth(s) for s in ANALYTICS_STREAMS}, second.schema
            ),
        ]
    project = consumer_project(tmp_path / "consumer", [workspace.endpoints.schema, second.schema])
    env = workspace.endpoints.dbt_env(tmp_path / "dbt") | {
        "TARGET_SNOWFLAKE_DEFAULT_TARGET_SCHEMA": "CONSUMER"
    }
    dbt = [str(DBT), "--no-use-colors"]
    options = [
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(ROOT / "transform" / "profiles"),
    ]
    for command in (["deps"], ["build", "--select", "package:intercom"]):
        done = subprocess.run(
            [*dbt, *command, *options], env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout[-5000:]
    with contextlib.closing(workspace.endpoints.connect()) as conn:
        for model in ("intercom__conversation_metrics", "intercom__admin_metrics"):
            keys, expected = END_MODELS[model]
            rows: list[dict[str, Any]] = [row for t in truths for row in expected(t)]
            actual = read_model(conn, "CONSUMER_ANALYTICS", model)
            assert {r["source_relation"] for r in actual} == {"INTERCOM", "SECOND_WORKSPACE"}
            assert not model_differences(rows, actual, keys)[:10]
        conversations = read_model(conn, "CONSUMER_ANALYTICS", "intercom__conversation_enhanced")
        contacts = read_model(conn, "CONSUMER_ANALYTICS", "intercom__contact_enhanced")
    attributes = {
        (t.source, c["id"]): c["custom_attributes"]
        for t in truths
        for c in t.truth["conversations"]
    }
    assert conversations
    for row in conversations:
        wanted = attributes[row["source_relation"], row["conversation_id"]]
        assert (row["topic"], row["escalation"]) == (
            wanted.get("topic"),
            wanted.get("escalation_level"),
        )
    plans = {
        (t.source, c["id"]): c["custom_attributes"]["plan"]
        for t in truths
        for c in t.truth["contacts"]
    }
    assert {(r["source_relation"], r["contact_id"]): r["contact_plan"] for r in contacts} == plans


def conversation_notification(notification_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """A webhook notification about a conversation, as Intercom delivers it."""
    notification = make_notification(notification_id, topic="conversation.admin.closed")
    notification["data"]["item"] = item
    notification["created_at"] = item["updated_at"]
    return notification


def test_live_conversations_overlay_newer_webhook_notifications(
    workspace: Workspace, tmp_path: Path
):
    """The webhook job loads notifications: a conversation closed after the last poll shows
    closed, as of the notification's item; a notification older than the poll changes
    nothing."""
    conversations = workspace.sandbox.client.stream_truth("conversations")
    admin = workspace.sandbox.client.stream_truth("admins")[0]["id"]
    newer = []
    for conversation in conversations[:3]:
        closed_at = conversation["updated_at"] + 120
        item = conversation | {
            "updated_at": closed_at,
            "state": "closed",
            "open": False,
            "admin_assignee_id": int(admin),
            "statistics": (conversation.get("statistics") or {}) | {"last_close_at": closed_at},
        }
        newer.append(conversation_notification(f"live-{conversation['id']}", item))
    stale = conversations[3] | {"updated_at": conversations[3]["updated_at"] - 3600}
    notifications = [*newer, conversation_notification("live-stale", stale | {"state": "open"})]
    with running_receiver(tmp_path / "spool", tmp_path / "receiver.log") as receiver:
        for notification in notifications:
            assert deliver(receiver.url, notification) == 200
    env = workspace.env | {
        "TAP_INTERCOM_WEBHOOK_SPOOL_DIR": str(tmp_path / "spool"),
        "TAP_INTERCOM__SELECT": json.dumps([f"{STREAM}.*"]),
    }
    run_pipeline(env, tmp_path / "webhooks.log")
    workspace.notifications += notifications
    run_dbt(
        ["build", "--select", "+intercom__conversations_live"],
        workspace.endpoints.dbt_env(tmp_path / "dbt"),
    )
    keys, expected = END_MODELS["intercom__conversations_live"]
    with contextlib.closing(workspace.endpoints.connect()) as conn:
        actual = read_model(conn, ANALYTICS, "intercom__conversations_live")
    assert not model_differences(expected(workspace.truth()), actual, keys)
    by_id = {row["conversation_id"]: row for row in actual}
    for notification in newer:
        row = by_id[notification["data"]["item"]["id"]]
        assert (row["freshness_source"], row["conversation_state"]) == ("webhook", "closed")
    assert by_id[stale["id"]]["freshness_source"] == "poll"
