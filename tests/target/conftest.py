"""Fixtures for target tests: a config per test (own schema), running the target, querying."""

from __future__ import annotations

import contextlib
import io
import json
import queue
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from snowflake.connector import SnowflakeConnection
from target_snowflake.target import TargetSnowflake

from testbed import servers
from testbed.servers import admin_connection, prepare_database

DATABASE = "TARGET_TESTS"
TARGET_BIN = str(Path(sys.executable).with_name("target-snowflake"))


def base_config(server: dict, schema: str, **overrides: object) -> dict:
    """Target config for the local Snowflake, with short timeouts so failures show fast."""
    config = {
        "account": server["account"],
        "user": server["user"],
        "password": server["password"],
        "role": server["role"],
        "warehouse": server["warehouse"],
        "host": server["host"],
        "port": server["port"],
        "protocol": server["protocol"],
        "database": DATABASE,
        "default_target_schema": schema,
        "login_timeout": 20,
        "network_timeout": 60,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def snowflake(snowflake_server: dict) -> Iterator[SnowflakeConnection]:
    """The administrator's connection, for assertions and for granting what a test's
    loader needs (separate from the target's own)."""
    connection = admin_connection(snowflake_server)
    prepare_database(connection, DATABASE)
    yield connection
    connection.close()


@pytest.fixture
def schema(request: pytest.FixtureRequest, snowflake: SnowflakeConnection) -> str:
    """A schema of its own for each test, prepared by the administrator for the loader
    role (USAGE, CREATE TABLE, CREATE STAGE), as on a least-privilege account."""
    name = "T_" + re.sub(r"[^A-Za-z0-9]", "_", request.node.name).upper()[:80]
    prepare_database(snowflake, DATABASE, name)
    return name


@pytest.fixture
def config(snowflake_server: dict, schema: str) -> dict:
    return base_config(snowflake_server, schema)


@pytest.fixture(scope="session")
def plain_fakesnow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """fakesnow's own server, without the strict layer (`testbed.servers.plain_fakesnow`)."""
    with servers.plain_fakesnow(
        tmp_path_factory.mktemp("plain-fakesnow") / "fakesnow.log"
    ) as settings:
        yield settings


def messages_text(messages: Iterable[dict | str]) -> str:
    """Singer lines from dicts (or raw strings, kept as they are)."""
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


def schema_message(stream: str, properties: dict, keys: list[str] | None = None) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": keys if keys is not None else [],
    }


def record(stream: str, data: dict, **extra: object) -> dict:
    return {"type": "RECORD", "stream": stream, "record": data, **extra}


def state(value: dict) -> dict:
    return {"type": "STATE", "value": value}


def run_target(config: dict, messages: Iterable[dict | str]) -> list[dict]:
    """Run the target in this process; return the STATE values it wrote to stdout."""
    stdout = io.StringIO()
    target = TargetSnowflake(config=config)
    with contextlib.redirect_stdout(stdout):
        target.listen(io.BytesIO(messages_text(messages).encode()))
    return [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_target_process(
    config: dict, input_text: str, tmp_path: Path, timeout: float = 120
) -> Completed:
    """Run the installed `target-snowflake` command as its own process."""
    config_path = tmp_path / "target-config.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        [TARGET_BIN, "--config", str(config_path)],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Completed(result.returncode, result.stdout, result.stderr)


def control(server: dict, path: str, body: dict | None = None) -> dict:
    """A control route of the strict local Snowflake (its statement log, its delay)."""
    url = f"http://{server['host']}:{server['port']}{path}"
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data)) as response:
        return json.loads(response.read())


def statements(server: dict) -> list[dict]:
    """The strict local Snowflake's log: every login, statement and session close."""
    return control(server, "/strict/log")["statements"]


def query(connection: SnowflakeConnection, sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def table_rows(
    connection: SnowflakeConnection,
    schema: str,
    table: str,
    columns: str = "*",
    order_by: str = "1",
) -> list[tuple]:
    return query(
        connection, f'SELECT {columns} FROM {DATABASE}."{schema}"."{table}" ORDER BY {order_by}'
    )


def column_types(connection: SnowflakeConnection, schema: str, table: str) -> dict[str, str]:
    rows = query(
        connection,
        f"SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE FROM {DATABASE}.INFORMATION_SCHEMA.COLUMNS"
        f" WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = '{table}'",
    )
    return {name: f"{kind}({scale})" if kind == "NUMBER" else kind for name, kind, scale in rows}


@contextlib.contextmanager
def streaming_target(
    config: dict, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], queue.Queue[bytes]]]:
    """The target as a process fed while it runs: yields it and a queue of its stdout
    lines; at the end its stdin is closed and it must exit 0."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [TARGET_BIN, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
    reader.start()
    try:
        yield process, lines
    finally:
        process.stdin.close()
        assert process.wait(120) == 0
        reader.join(10)
