"""The target on a least-privilege account: the preflight, no DDL for what exists, the
pinned session, statement time limits and a clean exit on a signal. The local Snowflake
is the strict one (testbed.snowflake_strict), which logs every statement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from testbed.servers import prepare_database
from tests.target.conftest import (
    DATABASE,
    TARGET_BIN,
    base_config,
    control,
    messages_text,
    query,
    record,
    run_target,
    run_target_process,
    schema_message,
    state,
    statements,
)

PEOPLE = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
INPUT = messages_text(
    [schema_message("people", PEOPLE, ["id"]), record("people", {"id": 1}), state({"s": 1})]
)


def test_a_missing_schema_the_role_may_not_create_stops_before_reading_input(
    snowflake, snowflake_server, tmp_path
):
    config = base_config(snowflake_server, "NOT_PREPARED")
    result = run_target_process(config, INPUT, tmp_path)
    assert result.returncode != 0 and result.states == []
    assert (
        "Startup check failed at step 'create the schema' "
        '(CREATE SCHEMA "TARGET_TESTS"."NOT_PREPARED"): schema TARGET_TESTS.NOT_PREPARED does '
        "not exist (or role LOADER may not use it) and role LOADER may not create it"
    ) in result.stderr
    assert '  CREATE SCHEMA "TARGET_TESTS"."NOT_PREPARED";' in result.stderr
    assert 'GRANT CREATE SCHEMA ON DATABASE "TARGET_TESTS" TO ROLE "LOADER"' in result.stderr


def test_a_missing_schema_privilege_is_named_with_its_grant(snowflake, snowflake_server, tmp_path):
    with snowflake.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{DATABASE}"."NO_STAGE"')
        cursor.execute(
            f'GRANT USAGE, CREATE TABLE ON SCHEMA "{DATABASE}"."NO_STAGE" TO ROLE LOADER'
        )
    result = run_target_process(base_config(snowflake_server, "NO_STAGE"), INPUT, tmp_path)
    assert result.returncode != 0 and result.states == []
    assert (
        "Startup check failed at step 'create the run's temporary stage' (CREATE TEMPORARY "
        'STAGE IF NOT EXISTS "TARGET_SNOWFLAKE_STAGE"): role LOADER lacks CREATE STAGE on '
        "schema TARGET_TESTS.NO_STAGE"
    ) in result.stderr
    assert (
        'GRANT CREATE STAGE ON SCHEMA "TARGET_TESTS"."NO_STAGE" TO ROLE "LOADER"' in result.stderr
    )


def test_no_usable_warehouse_is_named_with_its_grant(snowflake, snowflake_server, schema, tmp_path):
    with snowflake.cursor() as cursor:
        cursor.execute("CREATE USER NO_WH PASSWORD = 'no-wh' DEFAULT_ROLE = LOADER")
        cursor.execute("GRANT ROLE LOADER TO USER NO_WH")
    config = base_config(snowflake_server, schema, user="NO_WH", password="no-wh")
    del config["warehouse"]  # and the user has no default warehouse
    result = run_target_process(config, INPUT, tmp_path)
    assert result.returncode != 0 and result.states == []
    assert (
        "Startup check failed at step 'create a temporary table holding one row' "
        '(CREATE TEMPORARY TABLE "TARGET_SNOWFLAKE#CHECK" AS SELECT TRUE AS "OK"): role LOADER '
        "has no usable warehouse (no `warehouse` is configured and the user has no default: "
        "set `warehouse`). Snowflake said: 000606: No active warehouse selected"
    ) in result.stderr
    assert 'GRANT USAGE ON WAREHOUSE "<warehouse>" TO ROLE "LOADER"' in result.stderr


def test_a_warehouse_the_role_may_not_use_fails_the_login(snowflake_server, schema, tmp_path):
    config = base_config(snowflake_server, schema, warehouse="OTHER_WH")
    result = run_target_process(config, INPUT, tmp_path)
    assert result.returncode != 0 and result.states == []
    assert "warehouse does not exist or not authorized" in result.stderr


def test_the_role_may_create_the_schema_when_granted(snowflake, snowflake_server):
    prepare_database(snowflake, "SCHEMA_CREATOR", create_schemas=True)
    config = {**base_config(snowflake_server, "MADE_BY_TARGET"), "database": "SCHEMA_CREATOR"}
    assert run_target(config, INPUT.splitlines()) == [{"s": 1}]
    assert query(snowflake, 'SELECT "ID" FROM SCHEMA_CREATOR.MADE_BY_TARGET.PEOPLE') == [(1,)]


def test_config_names_are_upper_cased_unless_quoted(snowflake_server, schema, tmp_path):
    """`database: target_tests` is TARGET_TESTS, as Snowflake resolves an unquoted name;
    `"target_tests"` is another database (which does not exist)."""
    lower = base_config(snowflake_server, schema.lower(), database=DATABASE.lower())
    assert run_target(lower, INPUT.splitlines()) == [{"s": 1}]
    quoted = base_config(snowflake_server, schema, database=f'"{DATABASE.lower()}"')
    result = run_target_process(quoted, INPUT, tmp_path)
    assert result.returncode != 0 and result.states == []
    assert "database does not exist or not authorized" in result.stderr


def test_a_second_run_issues_no_ddl_but_for_temporary_objects(config, snowflake_server):
    run_target(config, INPUT.splitlines())
    control(snowflake_server, "/strict/log/clear", {})
    assert run_target(config, INPUT.splitlines()) == [{"s": 1}]
    ddl = [
        s
        for s in statements(snowflake_server)
        if s["kind"].startswith(("CREATE", "ALTER", "DROP")) and "TEMPORARY" not in s["kind"]
    ]
    # The DROPs are of temporary tables: the batch's and the startup check's.
    temporary_tables = ("#LOAD_", '"TARGET_SNOWFLAKE#CHECK"')
    assert [s["sql"] for s in ddl if not any(name in s["sql"] for name in temporary_tables)] == []
    assert all(s["outcome"] == "ok" for s in statements(snowflake_server))


def test_the_session_pins_what_the_load_relies_on(config, snowflake_server):
    control(snowflake_server, "/strict/log/clear", {})
    run_target({**config, "query_tag": "intercom", "statement_timeout_seconds": 600}, [])
    logins = [s for s in statements(snowflake_server) if s["kind"] == "LOGIN"]
    parameters = json.loads(logins[-1]["sql"].split("parameters=", 1)[1][:-1])
    assert (
        parameters
        | {
            "AUTOCOMMIT": True,
            "TIMEZONE": "UTC",
            "QUOTED_IDENTIFIERS_IGNORE_CASE": False,
            "CLIENT_SESSION_KEEP_ALIVE": True,
            "ABORT_DETACHED_QUERY": True,
            "QUERY_TAG": "intercom",
            "STATEMENT_TIMEOUT_IN_SECONDS": 600,
            "TIMESTAMP_OUTPUT_FORMAT": 'YYYY-MM-DD"T"HH24:MI:SS.FF9TZH:TZM',
        }
        == parameters
    )


def test_a_statement_over_the_time_limit_fails_the_run_without_state(
    config, snowflake_server, tmp_path
):
    control(snowflake_server, "/strict/config", {"delay_seconds": 3, "delay_match": "^MERGE"})
    try:
        result = run_target_process({**config, "statement_timeout_seconds": 1}, INPUT, tmp_path)
    finally:
        control(snowflake_server, "/strict/config", {"delay_seconds": 0})
    assert result.returncode != 0 and result.states == []
    assert "timeout of 1 second(s)" in result.stderr


@pytest.mark.parametrize(
    "signals",
    [
        (signal.SIGTERM,),
        (signal.SIGINT,),
        (signal.SIGTERM, signal.SIGINT),
        (signal.SIGINT, signal.SIGTERM),
    ],
    ids=["SIGTERM", "SIGINT", "SIGTERM-then-SIGINT", "SIGINT-then-SIGTERM"],
)
def test_a_signal_rolls_back_the_open_transaction_closes_the_session_and_exits_non_zero(
    config, snowflake, snowflake_server, schema, tmp_path, signals, record_property
):
    """SIGTERM and SIGINT during a statement take the same path, under either connector
    line: the statement is cancelled, the server sees the open transaction rolled back
    and the session closed, the batch files are removed, no STATE goes out, and the
    process exits 128 + the signal within 5 s (the held statement would take 30). A
    second signal during the close (Ctrl-C, then the orchestrator's SIGTERM) neither cuts
    the close short nor changes the exit code."""
    overwrite = {**config, "load_method": "overwrite"}
    run_target(overwrite, INPUT.splitlines())  # the table holds id 1
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(overwrite))
    work = tmp_path / "work"  # where the target keeps its batch files
    work.mkdir()
    control(snowflake_server, "/strict/log/clear", {})
    # The refill of the table (inside BEGIN ... COMMIT) is held up long enough to stop it;
    # with two signals the rollback is held too, so that the second lands in the close.
    hold = (
        {"delay_seconds": 30, "delay_match": "^INSERT"}
        if len(signals) == 1
        else {"delay_seconds": 2, "delay_match": "^(INSERT|ROLLBACK)"}
    )
    control(snowflake_server, "/strict/config", hold)
    try:
        process = subprocess.Popen(
            [TARGET_BIN, "--config", str(config_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "stderr.log").open("wb"),
            env={**os.environ, "TMPDIR": str(work)},
        )
        assert process.stdin is not None
        process.stdin.write(
            messages_text(
                [schema_message("people", PEOPLE, ["id"]), record("people", {"id": 2})]
            ).encode()
        )
        process.stdin.close()
        deadline = time.monotonic() + 60
        while not any(s["sql"].startswith("DELETE FROM") for s in statements(snowflake_server)):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(0.5)  # the INSERT is in flight
        signalled = time.monotonic()
        process.send_signal(signals[0])
        for later in signals[1:]:
            time.sleep(1)
            process.send_signal(later)
        process.wait(timeout=30)
        stopped_after = time.monotonic() - signalled
    finally:
        control(snowflake_server, "/strict/config", {"delay_seconds": 0})
    stderr = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 128 + signals[0], stderr[-3000:]
    record_property("signal_to_exit_seconds", round(stopped_after, 2))  # in --junitxml
    assert stopped_after < 5
    assert f"Received signal {signals[0].name}" in stderr
    assert process.stdout is not None and process.stdout.read() == b""  # no STATE
    entries = statements(snowflake_server)
    session = next(s["session"] for s in entries if s["sql"].startswith("DELETE FROM"))
    log = [(s["kind"], s["outcome"]) for s in entries if s["session"] == session]
    # The held INSERT was cancelled (by another session of the loader), then, once it had
    # returned, the transaction was rolled back and the session closed.
    assert log[log.index(("TRANSACTION", "ok")) :] == [
        ("TRANSACTION", "ok"),
        ("DELETE", "ok"),
        ("INSERT", "000604 canceled"),
        ("ROLLBACK", "ok"),
        ("LOGOUT", "ok"),
    ], log
    assert list(work.iterdir()) == []  # the batch files are gone
    assert query(snowflake, f'SELECT "ID" FROM {DATABASE}."{schema}"."PEOPLE"') == [(1,)]
