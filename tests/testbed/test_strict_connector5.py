"""What the strict layer does for connector 5.x and for the target's signal handling:
login session parameters sent as strings are typed per parameter, and a statement the
layer holds ends when another session of the user cancels it (SYSTEM$CANCEL_ALL_QUERIES)."""

from __future__ import annotations

import contextlib
import threading
import time

from snowflake.connector.errors import ProgrammingError

from testbed.snowflake_strict.responses import typed_session_parameters
from testbed.snowflake_strict.rules import SESSION_PARAMETERS
from tests.testbed.test_snowflake_strict import connect, control, run, server  # noqa: F401


def test_string_session_parameters_take_their_parameters_types():
    sent = {"AUTOCOMMIT": "false", "STATEMENT_TIMEOUT_IN_SECONDS": "600", "QUERY_TAG": "600"}
    assert typed_session_parameters(sent, SESSION_PARAMETERS) == {
        "AUTOCOMMIT": False,
        "STATEMENT_TIMEOUT_IN_SECONDS": 600,
        "QUERY_TAG": "600",
    }


def test_a_login_with_string_parameters_gets_typed_ones(server):  # noqa: F811
    """Connector 5.x sends `"false"`: the session must not autocommit (fakesnow reads any
    non-empty string as true)."""
    with contextlib.closing(
        connect(server, session_parameters={"AUTOCOMMIT": "false", "QUERY_TAG": "5x"})
    ) as connection:
        (session,) = [
            s
            for s in control(server, "/strict/sessions")["sessions"]
            if s["parameters"].get("QUERY_TAG") == "5x"
        ]
        assert session["parameters"]["AUTOCOMMIT"] is False
        assert run(connection, "SHOW PARAMETERS LIKE 'AUTOCOMMIT' IN SESSION")[0][1] == "false"


def test_another_session_of_the_user_cancels_the_held_statement(server):  # noqa: F811
    control(server, "/strict/config", {"delay_seconds": 30, "delay_match": "^SELECT 42"})
    errors: list[Exception] = []
    try:
        with (
            contextlib.closing(connect(server)) as busy,
            contextlib.closing(connect(server)) as other,
        ):

            def held() -> None:
                try:
                    run(busy, "SELECT 42")
                except ProgrammingError as error:
                    errors.append(error)

            worker = threading.Thread(target=held)
            worker.start()
            time.sleep(0.5)
            started = time.monotonic()
            run(other, f"SELECT SYSTEM$CANCEL_ALL_QUERIES({busy.session_id})")
            worker.join(10)
            assert time.monotonic() - started < 3
            assert run(busy, "SELECT 1") == [(1,)]  # the session goes on
    finally:
        control(server, "/strict/config", {"delay_seconds": 0})
    assert [getattr(error, "errno", None) for error in errors] == [604]
    log = [(s["kind"], s["outcome"]) for s in control(server, "/strict/log")["statements"]]
    assert ("SELECT", "000604 canceled") in log
