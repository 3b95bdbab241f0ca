"""Connecting to Snowflake and running statements on the one connection the target uses."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import typing as t
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from pathlib import Path

import snowflake.connector
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from singer_sdk.exceptions import ConfigValidationError

from target_snowflake.naming import config_identifier, quote
from target_snowflake.preflight import check_privileges

# What the target's SQL relies on, pinned for its session whatever the account or user
# sets: commits (AUTOCOMMIT), how strings become timestamps and back, identifier
# resolution, and a session that neither expires during a long run nor leaves its
# statements running when the target dies. Sent as login session parameters.
PINNED_SESSION_PARAMETERS: dict[str, t.Any] = {
    "AUTOCOMMIT": True,
    "TIMEZONE": "UTC",  # date-times without an offset mean UTC; NTZ columns hold UTC
    "QUOTED_IDENTIFIERS_IGNORE_CASE": False,
    "TIMESTAMP_INPUT_FORMAT": "AUTO",
    "DATE_INPUT_FORMAT": "AUTO",
    "TIME_INPUT_FORMAT": "AUTO",
    "TIMESTAMP_OUTPUT_FORMAT": 'YYYY-MM-DD"T"HH24:MI:SS.FF9TZH:TZM',
    "TIMESTAMP_TZ_OUTPUT_FORMAT": 'YYYY-MM-DD"T"HH24:MI:SS.FF9TZH:TZM',
    "TIMESTAMP_LTZ_OUTPUT_FORMAT": 'YYYY-MM-DD"T"HH24:MI:SS.FF9TZH:TZM',
    "TIMESTAMP_NTZ_OUTPUT_FORMAT": 'YYYY-MM-DD"T"HH24:MI:SS.FF9',
    "DATE_OUTPUT_FORMAT": "YYYY-MM-DD",
    "TIME_OUTPUT_FORMAT": "HH24:MI:SS.FF9",
    "CLIENT_SESSION_KEEP_ALIVE": True,
    "ABORT_DETACHED_QUERY": True,
}
DEFAULT_NETWORK_TIMEOUT = 300
# The connector line in use, read once: 5.x (a Rust core) takes other timeout settings.
CONNECTOR_MAJOR = int(snowflake.connector.__version__.split(".", 1)[0])
# Snowflake's default STATEMENT_TIMEOUT_IN_SECONDS (two days), used when the account's
# value cannot be read.
ACCOUNT_DEFAULT_STATEMENT_TIMEOUT = 172_800

logger = logging.getLogger(__name__)
_T = t.TypeVar("_T")

# Every setting that may hold a secret: never logged, never part of an error message.
SECRET_SETTINGS = (
    "password",
    "private_key",
    "private_key_passphrase",
    "token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
)


def redact(text: str, config: Mapping[str, t.Any]) -> str:
    """The text with every configured secret value (and its repr) replaced."""
    for setting in SECRET_SETTINGS:
        value = config.get(setting)
        if value:
            for form in {str(value), repr(value)}:
                text = text.replace(form, "<redacted>")
    return text


AUTH_METHODS = {
    "password": ("password",),
    "key pair": ("private_key", "private_key_path"),
    "oauth": ("authenticator", "token"),
}


def auth_method(config: Mapping[str, t.Any]) -> str:
    """The one authentication method the config chooses, else a config error."""
    chosen = [
        method
        for method, settings in AUTH_METHODS.items()
        if any(config.get(setting) for setting in settings)
    ]
    if len(chosen) != 1:
        found = ", ".join(chosen) if chosen else "none"
        msg = (
            "Configure exactly one authentication method: `password`; `private_key` or "
            "`private_key_path` (with `private_key_passphrase` if encrypted); or "
            f"`authenticator` with `token`. Found: {found}."
        )
        raise ConfigValidationError(msg, errors=[msg])
    method = chosen[0]
    if method == "key pair" and config.get("private_key") and config.get("private_key_path"):
        msg = "Set only one of `private_key` and `private_key_path`."
        raise ConfigValidationError(msg, errors=[msg])
    if method == "oauth" and not (config.get("authenticator") and config.get("token")):
        msg = "OAuth needs both `authenticator` and `token`."
        raise ConfigValidationError(msg, errors=[msg])
    return method


def _load_private_key(config: Mapping[str, t.Any]) -> t.Any:
    pem = config.get("private_key")
    if not pem:
        pem = Path(config["private_key_path"]).expanduser().read_text()
    passphrase = config.get("private_key_passphrase")
    try:
        return load_pem_private_key(
            pem.encode(), password=passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError) as exc:
        # The library's message never contains key material; keep only its class.
        msg = (
            "Could not read the private key (PEM expected; is `private_key_passphrase` "
            f"right?): {type(exc).__name__}"
        )
        raise ConfigValidationError(msg, errors=[msg]) from None


def connect_args(config: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Keyword arguments for `snowflake.connector.connect` from the target config.

    `network_timeout` bounds each network operation (socket connect and read) and the
    connector's retries of a request; how long a statement may run is the server's
    STATEMENT_TIMEOUT_IN_SECONDS (`statement_timeout_seconds`, else the account's): see
    `Connection.execute`. The database, warehouse and role are validated at login.
    """
    network_timeout = config.get("network_timeout") or DEFAULT_NETWORK_TIMEOUT
    # What the two connector lines name differently.
    if CONNECTOR_MAJOR < 5:
        by_line = {"network_timeout": network_timeout, "socket_timeout": network_timeout}
    else:
        by_line = {
            # 5.x would turn `network_timeout` into `query_timeout`, a wall clock on every
            # statement: a statement is bounded by `Connection.execute` instead (0: none).
            "request_timeout": network_timeout,
            "connect_timeout": network_timeout,
            "retry_timeout": network_timeout,
            "query_timeout": 0,
            # the logout is always sent (the target runs no asynchronous queries to keep)
            "enable_server_session_keep_alive_auto_detection": False,
        }
    parameters = dict(PINNED_SESSION_PARAMETERS)
    if config.get("statement_timeout_seconds"):
        parameters["STATEMENT_TIMEOUT_IN_SECONDS"] = int(config["statement_timeout_seconds"])
    if config.get("query_tag"):
        parameters["QUERY_TAG"] = config["query_tag"]
    args: dict[str, t.Any] = {
        "account": config["account"],
        "user": config["user"],
        "database": quote(config_identifier(config["database"])),
        "login_timeout": config.get("login_timeout", 60),
        **by_line,
        "validate_default_parameters": True,
        "client_session_keep_alive": True,
        "application": "target-snowflake",
        "session_parameters": parameters,
    }
    for setting in ("role", "warehouse", "host", "port", "protocol"):
        if config.get(setting):
            args[setting] = config[setting]
    method = auth_method(config)
    if method == "password":
        args["password"] = config["password"]
    elif method == "key pair":
        args["authenticator"] = "SNOWFLAKE_JWT"
        args["private_key"] = _load_private_key(config)
    else:
        args["authenticator"] = config["authenticator"]
        args["token"] = config["token"]
    return args


class Connection:
    """The target's single Snowflake connection, opened lazily and reused by every sink.

    Opening it logs in and runs the startup check (`preflight.check_privileges`), which
    does what a load does on throwaway objects: a missing warehouse, database, schema or
    privilege stops the run there, before any input is read, with the SQL that grants it.

    Every call into the connector runs on a worker thread while the calling (main) thread
    waits for it in Python, where a signal is handled at once: the connector never runs
    on the main thread, so a signal handler neither waits for a statement to return (5.x
    waits in its Rust core) nor re-enters the connector (5.x's core panics, "RefCell
    already borrowed"). One call at a time: `abort` cancels the statement in flight and
    rolls back only once its call has returned.
    """

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        self._config = config
        self._connection: snowflake.connector.SnowflakeConnection | None = None
        self.database: str = config_identifier(config["database"])
        self.schema: str = config_identifier(config["default_target_schema"])
        # The client cancels a statement only after the server would have (statement
        # time limit plus the network allowance).
        self._statement_budget: int | None = None
        self._session_id: int | None = None
        self._in_flight: Future[t.Any] | None = None  # the connector call the worker runs

    def open(self) -> None:
        """Log in and check the role's privileges (a `PreflightError` if one is missing)."""
        if self._connection is not None:
            return
        try:
            self._connection, self._session_id = self._call(self._connect)
        except snowflake.connector.errors.Error as exc:
            # The connector's messages name the account and endpoint, not the secrets.
            reason = redact(str(exc.msg or type(exc).__name__), self._config)
            msg = f"Could not connect to Snowflake: {reason}"
            if getattr(exc, "errno", None) == 390201:  # validate_default_parameters
                msg += (
                    f" (database {self.database}, warehouse "
                    f"{self._config.get('warehouse') or 'the default'}; an administrator "
                    "grants them: see docs/snowflake-privileges.md)"
                )
            raise ConnectionError(msg) from None
        timeout = self._config.get("statement_timeout_seconds") or self._account_timeout()
        network = self._config.get("network_timeout") or DEFAULT_NETWORK_TIMEOUT
        self._statement_budget = int(timeout) + int(network)
        # Afterwards the target schema exists and is the session's: temporary tables and
        # the stage, created with unqualified names, go there.
        check_privileges(self, self._config.get("warehouse"), self._config.get("role"))

    def _connect(self) -> tuple[snowflake.connector.SnowflakeConnection, int]:
        connection = snowflake.connector.connect(**connect_args(self._config))
        return connection, connection.session_id

    def _call(self, call: Callable[[], _T], timeout: float | None = None) -> _T:
        """The result of a connector call run on a worker thread, waited for at most
        `timeout` seconds (`TimeoutError`, the call left running)."""
        future: Future[_T] = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

        self._in_flight = future
        # A daemon: a call still running cannot keep the process from exiting.
        threading.Thread(target=run, name="snowflake-connector", daemon=True).start()
        try:
            return future.result(timeout)
        finally:
            if future.done():  # else it is still in flight, for `_cancel_running`
                self._in_flight = None

    def _account_timeout(self) -> int:
        rows = self.execute("SHOW PARAMETERS LIKE 'STATEMENT_TIMEOUT_IN_SECONDS' IN SESSION")
        values = [row[1] for row in rows if str(row[0]).upper() == "STATEMENT_TIMEOUT_IN_SECONDS"]
        return (
            int(values[0])
            if values and str(values[0]).isdigit()
            else (ACCOUNT_DEFAULT_STATEMENT_TIMEOUT)
        )

    def ensure_schema(self) -> None:
        """The target schema exists once the session is open (the startup check creates
        a missing one)."""
        self.open()

    def execute(self, sql: str, params: Sequence[t.Any] | None = None) -> list[tuple[t.Any, ...]]:
        """Run one statement and return its rows. A statement still running after the
        statement budget (the server's limit plus `network_timeout`: the server should
        have ended it) is cancelled and fails the run."""
        self.open()
        connection = self._connection
        assert connection is not None
        logger.debug("SQL: %s", sql)

        def run() -> list[tuple[t.Any, ...]]:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []

        try:
            return self._call(run, self._statement_budget)
        except TimeoutError:
            self._cancel_running(DEFAULT_NETWORK_TIMEOUT)
            msg = (
                f"A statement ran longer than {self._statement_budget} s (the statement time "
                "limit plus `network_timeout`) and was cancelled."
            )
            raise TimeoutError(msg) from None

    def _cancel_running(self, seconds: float) -> None:
        """Cancel what the session runs and wait (at most `seconds`) for the statement's
        call to return. The session is busy with that statement, so another session of
        the same user asks Snowflake to cancel it: `SYSTEM$CANCEL_ALL_QUERIES` (the
        connector's own cancel is by query id under 5.x, unknown until the statement
        returns)."""
        running, session_id = self._in_flight, self._session_id
        if running is None or running.done() or session_id is None:
            return
        deadline = time.monotonic() + seconds

        def cancel() -> None:
            other = snowflake.connector.connect(**connect_args(self._config))
            try:
                with other.cursor() as cursor:
                    cursor.execute(f"SELECT SYSTEM$CANCEL_ALL_QUERIES({int(session_id)})")
            finally:
                other.close()

        try:
            self._call(cancel, seconds)
        except Exception as exc:
            logger.warning("Cancelling the running statement failed: %r", exc)
        wait_for([running], timeout=max(0.0, deadline - time.monotonic()))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together or not at all (BEGIN/COMMIT/ROLLBACK)."""
        self.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def abort(self, seconds: float) -> None:
        """On a signal, from its handler (the main thread may be waiting for a statement):
        cancel the statement in flight, then, once its call has returned, roll back an
        open transaction and end the session, within about `seconds`, ignoring errors (the
        process exits right after). A login in flight is left: there is no session yet."""
        deadline = time.monotonic() + seconds
        self._cancel_running(seconds / 2)
        try:
            self.close(max(0.0, deadline - time.monotonic()))
        except Exception as exc:
            logger.warning("Closing the session after a signal failed: %r", exc)

    def close(self, timeout: float | None = None) -> None:
        """Close the session: an open transaction is rolled back, temporary stages and
        tables go with it. The session is closed even if the rollback fails (closing it
        ends the transaction too)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None

            def end() -> None:
                try:
                    with contextlib.suppress(snowflake.connector.errors.Error):
                        connection.rollback()
                finally:
                    connection.close()

            self._call(end, timeout)
