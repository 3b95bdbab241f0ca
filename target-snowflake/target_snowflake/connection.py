"""Connecting to Snowflake and running statements on the one connection the target uses."""

from __future__ import annotations

import contextlib
import logging
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import snowflake.connector
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from singer_sdk.exceptions import ConfigValidationError

from target_snowflake.naming import quote

logger = logging.getLogger(__name__)

# Every setting that may hold a secret: never logged, never part of an error message.
SECRET_SETTINGS = ("password", "private_key", "private_key_passphrase", "token")


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
    """Keyword arguments for `snowflake.connector.connect` from the target config."""
    args: dict[str, t.Any] = {
        "account": config["account"],
        "user": config["user"],
        "login_timeout": config.get("login_timeout", 60),
        "network_timeout": config.get("network_timeout", 300),
        "application": "target-snowflake",
        # UTC: date-times without an offset mean UTC, and NTZ columns hold UTC.
        "session_parameters": {"TIMEZONE": "UTC"},
    }
    if config.get("query_tag"):
        args["session_parameters"]["QUERY_TAG"] = config["query_tag"]
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
    """The target's single Snowflake connection, opened lazily and reused by every sink."""

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        self._config = config
        self._connection: snowflake.connector.SnowflakeConnection | None = None
        self.database: str = config["database"]

    def _open(self) -> snowflake.connector.SnowflakeConnection:
        if self._connection is None:
            try:
                self._connection = snowflake.connector.connect(**connect_args(self._config))
            except snowflake.connector.errors.Error as exc:
                # The connector's messages name the account and endpoint, not the secrets.
                reason = redact(str(exc.msg or type(exc).__name__), self._config)
                msg = f"Could not connect to Snowflake: {reason}"
                raise ConnectionError(msg) from None
            self.execute(f"CREATE DATABASE IF NOT EXISTS {quote(self.database)}")
            self.execute(f"USE DATABASE {quote(self.database)}")
        return self._connection

    def execute(self, sql: str, params: Sequence[t.Any] | None = None) -> list[tuple]:
        """Run one statement and return its rows."""
        connection = self._open()
        logger.debug("SQL: %s", sql)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

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

    def close(self) -> None:
        """Close the connection; temporary stages and tables go with the session."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
