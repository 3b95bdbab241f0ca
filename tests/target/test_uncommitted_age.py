"""max_uncommitted_age_seconds: a STATE goes out within the age bound while records keep
trickling in (no batch fills up, the input does not end)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.target.conftest import (
    messages_text,
    record,
    schema_message,
    streaming_target,
    table_rows,
)

PROPERTIES = {"id": {"type": "integer"}}


def trickle(
    config: dict, tmp_path, seconds: float, loaded: Callable[[], list]
) -> tuple[list[tuple[float, dict]], float, list]:
    """Send 5 records and a STATE, then one record every 0.1 s for up to `seconds` or
    until the target emits a state. Returns the states with the time they came (since
    the first record was sent), when stdin was closed, and the rows loaded by then."""
    states: list[tuple[float, dict]] = []
    with streaming_target(config, tmp_path) as (process, lines):
        head = [schema_message("s", PROPERTIES, ["id"])]
        head += [record("s", {"id": n}) for n in range(1, 6)]
        started = time.monotonic()
        process.stdin.write(messages_text([*head, {"type": "STATE", "value": {"n": 5}}]).encode())
        process.stdin.flush()
        n = 5
        while time.monotonic() - started < seconds and not states:
            time.sleep(0.1)
            n += 1
            process.stdin.write(messages_text([record("s", {"id": n})]).encode())
            process.stdin.flush()
            while not lines.empty():
                states.append((time.monotonic() - started, json.loads(lines.get())))
        closed = time.monotonic() - started
        rows = loaded() if states else []
    return states, closed, rows


def test_state_goes_out_within_the_age_bound(config, snowflake, schema, tmp_path):
    config["max_uncommitted_age_seconds"] = 1
    loaded = lambda: table_rows(snowflake, schema, "S", '"ID"')  # noqa: E731
    states, closed, rows = trickle(config, tmp_path, 60, loaded)
    assert states, "no STATE while records kept coming"
    arrived, state = states[0]
    assert state == {"n": 5}
    assert arrived < closed  # while the input was still open
    assert arrived >= 1.0  # not before the oldest record was 1 s old
    assert {(n,) for n in range(1, 6)} <= set(rows)  # everything before it committed


def test_without_the_bound_the_state_waits_for_a_batch(config, snowflake, schema, tmp_path):
    """Control: with the default (60 s) nothing goes out in the first 3 seconds."""
    states, _, _ = trickle(config, tmp_path, 3, list)
    assert states == []
