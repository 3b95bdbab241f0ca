"""Running the tap as its users do (the console script) against a sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testbed.catalog import TAP, catalog_selecting
from testbed.intercom import RunningSandbox

DEFAULT_TIMEOUT = 240


@dataclass
class TapRun:
    """What one tap run wrote: records by stream, STATE values, and its logs."""

    returncode: int
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    @property
    def final_state(self) -> dict[str, Any]:
        """The last STATE value (empty when none was written)."""
        return self.states[-1] if self.states else {}

    def bookmark(self, stream: str) -> str | None:
        """The stream's bookmark in the final state."""
        return self.final_state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def tap_config(sandbox: Any, **overrides: Any) -> dict[str, Any]:
    """A config for the sandbox: its URL and token plus `overrides`."""
    return {"access_token": sandbox.token, "api_url": sandbox.url, **overrides}


def _parse(run: TapRun, line: str) -> None:
    if not line.strip():
        return
    message = json.loads(line)
    if message["type"] == "RECORD":
        run.records[message["stream"]].append(message["record"])
    elif message["type"] == "STATE":
        run.states.append(message["value"])


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    streams: list[str],
    *,
    state: dict[str, Any] | None = None,
    kill_after_records: int | None = None,
    seconds_per_record: float = 0.0,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> TapRun:
    """Run `tap-intercom` on `streams`; with `kill_after_records`, SIGKILL it once it
    has written that many records (what a crash mid-stream leaves behind); with
    `seconds_per_record`, read its output that slowly (a slow downstream); with
    `on_record`, call it with each RECORD message as it is read (to change the
    workspace while the run goes on: the tap is at most a pipe's buffer ahead)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    run_id = len(list(tmp_path.glob("config-*.json")))
    config_path = tmp_path / f"config-{run_id}.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / f"catalog-{run_id}.json"
    catalog_path.write_text(json.dumps(catalog_selecting(streams)))
    args = [TAP, "--config", str(config_path), "--catalog", str(catalog_path)]
    if state is not None:
        state_path = tmp_path / f"state-{run_id}.json"
        state_path.write_text(json.dumps(state))
        args += ["--state", str(state_path)]
    stderr_path = tmp_path / f"stderr-{run_id}.log"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True
        )
        run = TapRun(returncode=0)
        lines = []
        try:
            if kill_after_records is None and not seconds_per_record and on_record is None:
                stdout, _ = process.communicate(timeout=timeout)
                lines = stdout.splitlines()
            else:
                records = 0
                assert process.stdout is not None
                for line in process.stdout:
                    lines.append(line)
                    if '"RECORD"' in line[:40]:
                        records += 1
                        time.sleep(seconds_per_record)
                        if on_record is not None:
                            on_record(json.loads(line))
                        if kill_after_records is not None and records >= kill_after_records:
                            os.killpg(process.pid, signal.SIGKILL)
                            break
                process.wait(timeout)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    # A killed writer can leave half a line: what a reader would discard.
    for line in lines:
        try:
            _parse(run, line)
        except json.JSONDecodeError:
            assert kill_after_records is not None, f"bad output line: {line[:200]}"
    run.returncode = process.returncode
    run.stdout = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    run.stderr = stderr_path.read_text()
    return run


def live_records(
    sandbox: RunningSandbox, stream: str, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`records` without deletion records (`_sdc_deleted_at`), after checking that
    those name objects the sandbox really deleted."""
    deleted = set(sandbox.client.deleted(stream))
    marked = {record["id"] for record in records if "_sdc_deleted_at" in record}
    assert marked <= deleted, f"{stream}: marked deleted but not deleted: {marked - deleted}"
    return [record for record in records if "_sdc_deleted_at" not in record]


@pytest.fixture
def tap_runner(tmp_path: Path):
    """`run_tap` bound to the test's temporary directory."""

    def runner(config: dict[str, Any], streams: list[str], **kwargs: Any) -> TapRun:
        return run_tap(tmp_path / "tap", config, streams, **kwargs)

    return runner
