"""End to end: deliveries -> receiver -> spool -> tap -> target-snowflake -> local Snowflake.

The warehouse must hold exactly the notifications that got a 200, once each, whether
the tap is piped into the target by hand (state file) or run by `meltano run`.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests
from tap_intercom.webhooks.spool import list_segments

from testbed.pipeline import (
    MELTANO,
    PLUGINS_BIN,
    LocalEndpoints,
    fetch_rows,
    meltano_install,
    run_pipeline,
)
from testbed.webhooks import (
    STREAM,
    RunningReceiver,
    deliver,
    deliver_concurrently,
    encode,
    make_notification,
    running_receiver,
    tap_config,
)
from tests.tap.conftest import catalog_selecting

TABLE = STREAM.upper()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[RunningReceiver]:
    # Small segments, so that the spool visibly shrinks between runs.
    with running_receiver(
        tmp_path / "spool", tmp_path / "receiver.log", "--segment-max-bytes", "20000"
    ) as running:
        yield running


def _deliveries(receiver: RunningReceiver, prefix: str, count: int) -> set[str]:
    """Deliver `count` new notifications plus noise; return the ids answered 200."""
    notifications = [
        make_notification(f"{prefix}-{i}", created_at=1_700_000_000 + i) for i in range(count)
    ]
    statuses = deliver_concurrently(receiver.url, notifications, threads=8)
    # A redelivery and a forged delivery must not add rows.
    assert deliver(receiver.url, notifications[0]) == 200
    forged = encode(make_notification(f"{prefix}-forged"))
    assert requests.post(receiver.url, data=forged, timeout=30).status_code == 401
    return {notification_id for notification_id, status in statuses.items() if status == 200}


def _warehouse_rows(warehouse: LocalEndpoints) -> list[dict]:
    with contextlib.closing(warehouse.connect()) as conn:
        return fetch_rows(conn, warehouse.schema, TABLE)


def _assert_rows_are(warehouse: LocalEndpoints, acknowledged: set[str]) -> None:
    rows = _warehouse_rows(warehouse)
    ids = [row["ID"] for row in rows]
    assert len(ids) == len(set(ids)), "a notification was loaded twice"
    assert set(ids) == acknowledged
    sample = next(row for row in rows if row["ID"].endswith("-1"))
    sent = make_notification(sample["ID"], created_at=1_700_000_001)
    item = sample["ITEM"]
    assert (json.loads(item) if isinstance(item, str) else item) == sent["data"]["item"]
    created = sample["CREATED_AT"]
    created = created if isinstance(created, datetime) else datetime.fromisoformat(created)
    assert created.timestamp() == sent["created_at"]
    assert sample["TOPIC"] == sent["topic"]


def test_tap_piped_into_the_target_loads_exactly_what_got_a_200(
    receiver: RunningReceiver, warehouse: LocalEndpoints, tmp_path: Path
):
    (tmp_path / "tap.json").write_text(json.dumps(tap_config(receiver.spool)))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_selecting([STREAM])))
    (tmp_path / "target.json").write_text(json.dumps(warehouse.target_config()))
    (tmp_path / "state.json").write_text("{}")
    pipe = (
        f"{PLUGINS_BIN / 'tap-intercom'} --config tap.json --catalog catalog.json"
        " --state state.json 2>tap.log"
        f" | {PLUGINS_BIN / 'target-snowflake'} --config target.json > out.jsonl 2>target.log"
    )
    acknowledged: set[str] = set()
    segments_before_run = []
    for round_, count in enumerate((150, 100)):
        acknowledged |= _deliveries(receiver, f"pipe{round_}", count)
        segments_before_run.append(len(list_segments(receiver.spool)))
        subprocess.run(
            ["bash", "-o", "pipefail", "-c", pipe], cwd=tmp_path, check=True, timeout=300
        )
        states = (tmp_path / "out.jsonl").read_text().splitlines()
        assert states, "the target wrote no state"
        (tmp_path / "state.json").write_text(states[-1])
        _assert_rows_are(warehouse, acknowledged)
    # The second run started from the first run's committed state: its segments went.
    assert len(list_segments(receiver.spool)) < segments_before_run[1]


@pytest.mark.e2e
def test_meltano_run_loads_exactly_what_got_a_200(
    receiver: RunningReceiver, warehouse: LocalEndpoints, tmp_path: Path
):
    if not MELTANO.exists():
        pytest.fail(f"{MELTANO} is missing: run `make install` first")
    meltano_install()
    # A .meltano of its own: Meltano's run files collide between concurrent runs.
    env = warehouse.meltano_env(sys_dir=tmp_path / ".meltano")
    # The job as docs/webhooks.md gives it: the prod environment with the settings the
    # README recommends for it (start_date among them), pointed at the local servers.
    env |= {
        "MELTANO_ENVIRONMENT": "prod",
        "TAP_INTERCOM_START_DATE": "2024-01-01T00:00:00Z",
        "TARGET_SNOWFLAKE_ACCOUNT": str(warehouse.snowflake["account"]),
        "TAP_INTERCOM_WEBHOOK_SPOOL_DIR": str(receiver.spool),
        "TAP_INTERCOM__SELECT": json.dumps([f"{STREAM}.*"]),
    }
    acknowledged = _deliveries(receiver, "meltano0", 120)
    # A state ID of its own, as the README advises for the webhook job.
    own_state = ("--state-id-suffix", "webhooks")
    first = run_pipeline(env, tmp_path / "run-1.log", own_state)
    assert first.records[STREAM] == len(acknowledged)
    assert set(first.records) == {STREAM}
    _assert_rows_are(warehouse, acknowledged)

    acknowledged |= _deliveries(receiver, "meltano1", 80)
    second = run_pipeline(env, tmp_path / "run-2.log", own_state)
    assert second.records[STREAM] == len(acknowledged) - 120  # only the new ones
    _assert_rows_are(warehouse, acknowledged)
