"""`make demo-live`: a change made in the Intercom sandbox arrives as a Snowflake row in
seconds, through the webhook path (docs/webhooks.md).

Local servers only: the sandbox delivers a signed notification for each change to a
`tap-intercom-webhooks` receiver; `tap-intercom` in follow mode, piped into
`target-snowflake` (`max_uncommitted_age_seconds` 1), loads the spool into the local
Snowflake. Each change's row is found by polling the table.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

from snowflake.connector import SnowflakeConnection

from testbed.intercom import run_sandbox
from testbed.pipeline import LocalEndpoints, fetch_rows
from testbed.servers import local_snowflake
from testbed.webhooks import (
    STREAM,
    FollowLoader,
    delivery_status,
    follow_config,
    running_receiver,
    subscribe,
)

CHANGES = (
    ("conversations", "add"),
    ("contacts", "update"),
    ("conversations", "add_parts"),
    ("companies", "update"),
    ("conversations", "update"),
)
TIMEOUT = 60.0


def _loaded(endpoints: LocalEndpoints, conn: SnowflakeConnection) -> dict[str, str]:
    """Item id -> topic of every row so far."""
    try:
        rows = fetch_rows(conn, endpoints.schema, STREAM.upper())
    except Exception:  # no table before the first load
        return {}
    items = {}
    for row in rows:
        item = json.loads(row["ITEM"]) if isinstance(row["ITEM"], str) else row["ITEM"]
        items[item["id"]] = row["TOPIC"]
    return items


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="demo-live-") as scratch,
        local_snowflake() as snowflake,
        run_sandbox() as sandbox,
        running_receiver(Path(scratch) / "spool", Path(scratch) / "receiver.log") as receiver,
    ):
        endpoints = LocalEndpoints(sandbox.url, sandbox.token, snowflake, "DEMO_LIVE")
        endpoints.prepare_database()
        subscribe(sandbox.url, receiver.url)
        print(f"sandbox {sandbox.url} -> receiver {receiver.url} -> spool -> follow loader")
        target = {**endpoints.target_config(), "max_uncommitted_age_seconds": 1}
        loader = FollowLoader(Path(scratch) / "loader", follow_config(receiver.spool), target)
        with loader, contextlib.closing(endpoints.connect()) as conn:
            time.sleep(3)  # the loader starts and logs in, as a running service has
            for kind, action in CHANGES:
                [changed] = sandbox.client.change(kind, action, 1)
                started = time.monotonic()
                while changed not in (loaded := _loaded(endpoints, conn)):
                    if time.monotonic() - started > TIMEOUT:
                        raise SystemExit(f"{kind} {changed} did not arrive in {TIMEOUT:.0f} s")
                    time.sleep(0.1)
                print(
                    f"{kind} {action:<9} id {changed:<26} -> row ({loaded[changed]}) "
                    f"after {time.monotonic() - started:.1f} s"
                )
            counts = delivery_status(sandbox.url)
            tap_exit, target_exit = loader.stop()
            print(
                f"delivered {counts['delivered']}, rows {len(_loaded(endpoints, conn))}; "
                f"SIGTERM to the tap: tap exit {tap_exit}, target exit {target_exit}"
            )


if __name__ == "__main__":
    main()
