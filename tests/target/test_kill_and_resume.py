"""Kill-and-resume: SIGKILL the target at random points of a multi-batch load, rerun from
the last STATE it emitted, and end with exactly the tables of an uninterrupted load.

After every kill it also checks the STATE promise itself: every record before the last
emitted state is in the table (a row may be newer, never older).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest

from tests.target.conftest import (
    TARGET_BIN,
    control,
    messages_text,
    record,
    schema_message,
    statements,
    table_rows,
)

STREAMS = ("alpha", "beta")
KEYS = 150
RECORDS = 4000
SEED = 20240611


def tap_output(rng: random.Random) -> tuple[list[str], list[str]]:
    """Schemas (re-sent on every run) and the records/states a tap would emit."""
    properties = {"id": {"type": "integer"}, "n": {"type": "integer"}, "pad": {"type": "string"}}
    schemas = [messages_text([schema_message(s, properties, ["id"])]) for s in STREAMS]
    body: list[str] = []
    for n in range(1, RECORDS + 1):
        stream = rng.choice(STREAMS)
        row = {"id": rng.randrange(KEYS), "n": n, "pad": "x" * rng.randrange(50)}
        body.append(messages_text([record(stream, row)]))
        if n % 40 == 0 or n == RECORDS:
            # The bookmark: where to resume in `body` (the line after this state).
            body.append(messages_text([{"type": "STATE", "value": {"pos": len(body) + 1}}]))
    return schemas, body


def expected_tables(body: list[str], upto: int) -> dict[str, dict[int, int]]:
    """Per stream: key -> n of the last record among body[:upto]."""
    tables: dict[str, dict[int, int]] = {s: {} for s in STREAMS}
    for line in body[:upto]:
        message = json.loads(line)
        if message["type"] == "RECORD":
            tables[message["stream"]][message["record"]["id"]] = message["record"]["n"]
    return tables


def loaded(snowflake, schema: str) -> dict[str, dict[int, int]]:
    result = {}
    for stream in STREAMS:
        try:
            rows = table_rows(snowflake, schema, stream.upper(), '"ID", "N"')
        except Exception:  # table not created yet
            rows = []
        result[stream] = dict(rows)
    return result


def run(config_path, lines: list[str], kill: tuple[int, float] | None) -> list[dict]:
    """Feed lines to the target. With `kill=(k, delay)`: SIGKILL it `delay` seconds after
    its k-th STATE (so the kill lands in the middle of the load, wherever that is)."""
    process = subprocess.Popen(
        [TARGET_BIN, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            for line in lines:
                process.stdin.write(line.encode())
            process.stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = []
    if kill is not None:
        states_before_kill, delay = kill
        while len(out) < states_before_kill and (line := process.stdout.readline()):
            out.append(line)
        time.sleep(delay)
        process.kill()
    out += process.stdout.readlines()
    returncode = process.wait(120)
    writer.join(10)
    if kill is None:
        assert returncode == 0
    return [json.loads(line) for line in out if line.strip()]


def check_committed(snowflake, schema: str, body: list[str], position: int) -> None:
    """The promise behind every emitted state: all records before it are committed."""
    committed = expected_tables(body, position)
    now = loaded(snowflake, schema)
    for stream in STREAMS:
        for key, n in committed[stream].items():
            assert now[stream].get(key, 0) >= n, (stream, key, position)


def test_killed_at_random_points_and_resumed_equals_an_uninterrupted_load(
    config, snowflake, schema, tmp_path
):
    rng = random.Random(SEED)
    schemas, body = tap_output(rng)
    config["batch_size_rows"] = 100
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))

    position = 0
    interrupted = 0
    while interrupted < 3:
        kill = (rng.randrange(3), rng.uniform(0.0, 0.3))
        states = run(config_path, schemas + body[position:], kill)
        if states:
            position = states[-1]["pos"]
        check_committed(snowflake, schema, body, position)
        if position == len(body):  # the kill landed after the end of the input
            break
        interrupted += 1
    states = run(config_path, schemas + body[position:], None)
    position = states[-1]["pos"] if states else position
    check_committed(snowflake, schema, body, position)
    assert interrupted >= 2
    assert position == len(body)
    assert loaded(snowflake, schema) == expected_tables(body, len(body))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_without_loading_the_open_batch(
    config, snowflake, snowflake_server, schema, tmp_path, signum
):
    """SIGTERM or SIGINT may land mid-record: the open batch file is not loaded (it is
    removed), the session is closed, the process exits 128 + the signal, and every state
    it did emit is covered by committed rows."""
    schemas, body = tap_output(random.Random(SEED))
    config["batch_size_rows"] = 100
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    work = tmp_path / "work"  # where the target keeps its batch files
    work.mkdir()
    control(snowflake_server, "/strict/log/clear", {})
    process = subprocess.Popen(
        [TARGET_BIN, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(work)},
    )
    with contextlib.suppress(BrokenPipeError, OSError):
        for line in schemas + body[:1000]:
            process.stdin.write(line.encode())
        process.stdin.flush()
    first = process.stdout.readline()
    process.send_signal(signum)
    rest, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr[-3000:]
    assert f"Received signal {signal.Signals(signum).name}".encode() in stderr
    assert b"rerun from that state" in stderr
    states = [json.loads(line) for line in [first, *rest.splitlines()] if line.strip()]
    assert states
    check_committed(snowflake, schema, body, states[-1]["pos"])
    assert [s["kind"] for s in statements(snowflake_server) if s["user"] == "LOADER"][-1] == (
        "LOGOUT"
    )
    assert list(work.iterdir()) == []


def test_keyless_streams_resume_at_least_once_doubling_only_records_after_the_last_state(
    config, snowflake, schema, tmp_path
):
    """Without keys a row cannot be matched, so records a killed run committed after the
    last state it emitted are loaded again on the rerun (the README's STATE guarantees).
    Nothing is lost, and nothing before an emitted state is ever loaded twice."""
    rng = random.Random(SEED + 1)
    properties = {"n": {"type": "integer"}, "pad": {"type": "string"}}
    schemas = [messages_text([schema_message("events", properties)])]
    body: list[str] = []
    for n in range(1, 2001):
        body.append(messages_text([record("events", {"n": n, "pad": "x" * rng.randrange(50)})]))
        if n % 40 == 0 or n == 2000:
            body.append(messages_text([{"type": "STATE", "value": {"pos": len(body) + 1}}]))
    record_at = {
        i: json.loads(line)["record"]["n"]
        for i, line in enumerate(body)
        if json.loads(line)["type"] == "RECORD"
    }
    config["batch_size_rows"] = 100
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))

    def copies() -> Counter:
        try:
            return Counter(n for (n,) in table_rows(snowflake, schema, "EVENTS", '"N"'))
        except Exception:  # table not created yet
            return Counter()

    position, interrupted, settled = 0, 0, {}
    while interrupted < 3 and position < len(body):
        kill = (rng.randrange(3), rng.uniform(0.0, 0.3))
        states = run(config_path, schemas + body[position:], kill)
        position = states[-1]["pos"] if states else position
        now = copies()
        # Every record before the emitted state is in, and no later run may add to it.
        settled.update({n: now[n] for i, n in record_at.items() if i < position})
        assert all(settled[n] >= 1 for n in settled)
        interrupted += 1
    states = run(config_path, schemas + body[position:], None)
    assert states[-1]["pos"] == len(body)
    final = copies()
    assert set(final) == set(record_at.values())  # nothing lost
    assert all(final[n] == count for n, count in settled.items())  # nothing settled doubled
    assert max(final.values()) <= 1 + interrupted
