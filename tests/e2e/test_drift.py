"""The whole pipeline on a workspace as messy as real ones (`--drift`): two `meltano run`s
finish (tap and target exit 0), refused streams are skipped, and every value the sandbox
drifted is in the warehouse: converted where its column is typed, under its JSON path in
`_SDC_DRIFT` where no conversion could keep it, in a column of its own for a new
top-level field, in place inside VARIANT columns for nested fields and free-form names.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from testbed.intercom.drift import (
    CONVERTED,
    DRIFT_REFUSALS,
    FREE_NAME,
    NESTED_FIELD,
    NEW_FIELD,
    UNCONVERTIBLE,
)
from testbed.pipeline import LocalEndpoints, fetch_rows, run_pipeline, table_names
from tests.e2e.conftest import SMALL_WORKSPACE
from tests.e2e.test_pipeline import apply_changes
from tests.e2e.truth import assert_warehouse_matches

pytestmark = pytest.mark.e2e

DRIFT_COLUMN = "_SDC_DRIFT"
# The streams `--drift` refuses (the activity logs' plan, the news permission).
REFUSED = {"activity_logs", "news_items", "newsfeeds"}
assert {"/admins/activity_logs", "/news"} == set(DRIFT_REFUSALS)


@pytest.fixture
def small_sandbox(sandbox_factory: Any) -> Any:
    """The e2e workspace, drifting."""
    return sandbox_factory(**SMALL_WORKSPACE, drift=True)


def _at(value: Any, steps: list[Any]) -> tuple[bool, Any]:
    """(found, value) at `steps` below `value`, parsing VARIANT text on the way."""
    for step in steps:
        if isinstance(value, str):
            value = json.loads(value)
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, value


def _parsed(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value


def found_in_warehouse(site: Mapping[str, Any], row: Mapping[str, Any] | None) -> bool:
    """Whether the drifted value of `site` is where a lossless pipeline keeps it."""
    column, *below = site["path"]
    if row is None or column.upper() not in row:
        return False
    found, value = _at(row[column.upper()], below)
    if site["kind"] == UNCONVERTIBLE:  # aside, under its JSON path; null in place
        aside_found, aside = _at(row.get(DRIFT_COLUMN), [site["json_path"]])
        return aside_found and aside == site["sent"] and (not found or value is None)
    return found and _parsed(value) == site["expected"]


def corrected_truth(truth: dict[str, Any]) -> dict[str, Any]:
    """The truth as the warehouse must hold it: converted values in their declared type,
    unconvertible ones null in place (they sit in the drift column)."""
    corrected = copy.deepcopy(truth)
    records = {
        (stream, str(record["id"])): record
        for stream, listed in corrected["streams"].items()
        for record in listed
        if "id" in record
    }
    for site in truth["drifted"]:
        record = records.get((site["stream"], site["id"]))
        if record is None or site["kind"] not in (CONVERTED, UNCONVERTIBLE):
            continue
        node = record
        for step in site["path"][:-1]:
            node = node[step]
        node[site["path"][-1]] = site["expected"] if site["kind"] == CONVERTED else None
    return corrected


def lost_values(endpoints: LocalEndpoints, truth: dict[str, Any]) -> list[dict[str, Any]]:
    """The truth's drifted values the warehouse does not hold."""
    with contextlib.closing(endpoints.connect()) as conn:
        rows = {
            stream: {
                str(row["ID"]): row for row in fetch_rows(conn, endpoints.schema, stream.upper())
            }
            for stream in {site["stream"] for site in truth["drifted"]}
        }
    return [
        site
        for site in truth["drifted"]
        if not found_in_warehouse(site, rows[site["stream"]].get(site["id"]))
    ]


def test_two_runs_on_a_drifting_workspace_lose_no_value(
    small_sandbox, endpoints: LocalEndpoints, meltano_env, stream_keys, tmp_path: Path
):
    extracted = {stream: key for stream, key in stream_keys.items() if stream not in REFUSED}
    for run in (1, 2):
        if run == 2:
            apply_changes(small_sandbox)
        result = run_pipeline(meltano_env, tmp_path / f"run-{run}.log")  # raises unless exit 0
        assert result.returncode == 0
        log = (tmp_path / f"run-{run}.log").read_text()
        for stream in REFUSED:
            assert f"Skipping stream {stream}: Intercom refused" in log
        assert "Schema drift in conversations at statistics.last_closed_by_id" in log
        assert small_sandbox.token not in log

        truth = small_sandbox.client.truth()
        kinds = Counter(site["kind"] for site in truth["drifted"])
        assert set(kinds) == {CONVERTED, UNCONVERTIBLE, NEW_FIELD, NESTED_FIELD, FREE_NAME}
        lost = lost_values(endpoints, truth)
        assert not lost, f"{len(lost)} of {len(truth['drifted'])} drifted values lost: {lost[:5]}"
        assert_warehouse_matches(endpoints, corrected_truth(truth), extracted)

    # A refused stream's SCHEMA went out before its first request: an empty table at most.
    with contextlib.closing(endpoints.connect()) as conn:
        tables = set(table_names(conn, endpoints.schema))
        for stream in REFUSED & {table.lower() for table in tables}:
            assert fetch_rows(conn, endpoints.schema, stream.upper()) == [], stream
    print(
        f"\ndrift e2e: {len(truth['drifted'])} drifted values in the truth "
        f"({dict(sorted(kinds.items()))}), {len(lost)} lost; both runs exit 0"
    )
