"""A refused stream is skipped, named with its permission; the others complete.

401 before the token has ever worked fails the run at once; `strict_permissions`
makes any refusal fatal; a run whose every stream is refused fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tap_intercom.permissions import STREAM_PERMISSIONS
from tap_intercom.summary import SUMMARY_PREFIX
from tap_intercom.tap import STREAM_TYPES

from tests.tap.conftest import tap_config

API_STREAMS = {t.name for t in STREAM_TYPES if t.name != "webhook_notifications"}
STREAMS = ["admins", "tags", "activity_logs", "news_items", "contacts", "company_segments"]


def summary(stderr: str) -> dict:
    line = next(line for line in stderr.splitlines() if SUMMARY_PREFIX in line)
    return json.loads(line.split(SUMMARY_PREFIX, 1)[1])


def test_every_api_stream_names_its_permission():
    assert set(STREAM_PERMISSIONS) == API_STREAMS


def test_docs_list_the_permission_of_every_stream():
    text = (Path(__file__).parents[2] / "docs" / "permissions.md").read_text()
    for stream, permission in STREAM_PERMISSIONS.items():
        assert f"| `{stream}` | {permission} |" in text, stream


def test_refused_streams_are_skipped_with_their_permission_and_the_others_complete(
    sandbox_factory, tap_runner, tmp_path
):
    sandbox = sandbox_factory(
        contacts=30,
        companies=10,
        refusals={
            "/admins/activity_logs": "api_plan_restricted",
            "/news": "token_unauthorized",
            "/companies": "not_found",  # a workspace without the endpoint
        },
    )
    bookmark = "2020-01-01T00:00:00+00:00"
    state = {
        "bookmarks": {
            "activity_logs": {"replication_key": "created_at", "replication_key_value": bookmark}
        }
    }
    summary_path = tmp_path / "summary.json"
    config = tap_config(sandbox, run_summary_path=str(summary_path))
    run = tap_runner(config, STREAMS, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert {"admins", "tags", "contacts"} <= set(run.records)
    assert not {"activity_logs", "news_items", "company_segments"} & set(run.records)
    assert run.bookmark("activity_logs") == bookmark

    warnings = [line for line in run.stderr.splitlines() if "Skipping stream" in line]
    assert len(warnings) == 3, warnings
    activity = next(line for line in warnings if "activity_logs" in line)
    assert "GET /admins/activity_logs" in activity and "403 api_plan_restricted" in activity
    assert '"Read admin activity logs"' in activity
    news = next(line for line in warnings if "news_items" in line)
    assert "403 token_unauthorized" in news
    assert '"Read and List news items and newsfeeds"' in news
    assert sandbox.token not in run.stderr

    skipped = {entry["stream"]: entry for entry in summary(run.stderr)["skipped_streams"]}
    assert set(skipped) == {"activity_logs", "news_items", "company_segments"}
    assert skipped["company_segments"]["status"] == 404
    assert skipped["activity_logs"] == {
        "stream": "activity_logs",
        "endpoint": "GET /admins/activity_logs",
        "status": 403,
        "error_codes": ["api_plan_restricted"],
        "permission": "Read admin activity logs",
    }
    assert (
        json.loads(summary_path.read_text())["skipped_streams"]
        == summary(run.stderr)["skipped_streams"]
    )


def test_strict_permissions_makes_a_refusal_fatal(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(refusals={"/tags": "token_unauthorized"})
    run = tap_runner(tap_config(sandbox, strict_permissions=True), ["admins", "tags"])
    assert run.returncode != 0
    assert "403 token_unauthorized" in run.stderr and '"Read tags"' in run.stderr


@pytest.mark.parametrize("refused", ["/admins", "/"])
def test_a_401_before_the_token_ever_worked_fails_at_once(sandbox_factory, tap_runner, refused):
    sandbox = sandbox_factory(refusals={refused: "unauthorized"})
    run = tap_runner(tap_config(sandbox), ["admins", "tags"])
    assert run.returncode != 0
    assert "401 unauthorized" in run.stderr
    assert "Skipping stream" not in run.stderr
    assert "tags" not in run.records  # nothing after the failure


def test_a_401_after_the_token_worked_skips_that_stream(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(refusals={"/tags": "unauthorized"})
    run = tap_runner(tap_config(sandbox), ["admins", "tags", "teams"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(run.records) == {"admins", "teams"}
    assert "Skipping stream tags" in run.stderr


def test_a_run_whose_every_stream_is_refused_fails(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(refusals={"/tags": "api_plan_restricted"})
    run = tap_runner(tap_config(sandbox), ["tags"])
    assert run.returncode != 0
    assert "refused every selected stream (tags)" in run.stderr


def test_a_404_on_a_search_endpoint_after_asking_me_skips_the_stream(sandbox_factory, tap_runner):
    """Windowed searches ask GET /me first: that answer must not make the stream's own
    404 look like a missing object."""
    sandbox = sandbox_factory(refusals={"/tickets": "not_found"})
    run = tap_runner(tap_config(sandbox), ["tickets", "admins"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Skipping stream tickets: Intercom refused POST /tickets/search with 404" in run.stderr
