"""Start and stop the local servers that tests, benchmarks and the demo use.

Every server listens on 127.0.0.1 on a free port and is stopped when the context
ends, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import snowflake.connector
from snowflake.connector import SnowflakeConnection

LOOPBACK = "127.0.0.1"
# The interpreter that serves the local Snowflake. fakesnow imports connector 4.x internals
# that 5.x removed, so a client venv with connector 5.x points this at a 4.x venv's python.
SERVER_PYTHON_ENV = "LOCAL_SNOWFLAKE_PYTHON"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Block until something accepts connections on the port, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {LOOPBACK}:{port} within {timeout}s")


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate a process group started by `managed_process`, then kill it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def managed_process(
    args: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Run a server process in its own group until the context ends."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        stop_process(process)


# The local account: an administrator (ACCOUNTADMIN) who prepares what a loader needs, and
# a least-privilege loader, as on a real account (docs/snowflake-privileges.md).
ADMIN_USER, ADMIN_PASSWORD = "ADMIN", "local-admin"
LOADER_USER, LOADER_PASSWORD, LOADER_ROLE, WAREHOUSE = "LOADER", "local-loader", "LOADER", "LOADING"


@contextlib.contextmanager
def local_snowflake(db_dir: Path | None = None) -> Iterator[dict]:
    """Run the strict local Snowflake (fakesnow behind `testbed.snowflake_strict`) on
    loopback; yield the loader's connection settings (keyword arguments of
    `snowflake.connector.connect`).

    The loader role has USAGE on the warehouse and nothing else: `prepare_database` grants
    what a run needs, as an administrator would. Every statement is appended to
    `statements.jsonl` in the directory (fakesnow keeps one in-memory database per
    process; the directory holds the logs).
    """
    with contextlib.ExitStack() as stack:
        if db_dir is None:
            db_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fakesnow-")))
        db_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        args = [
            os.environ.get(SERVER_PYTHON_ENV) or sys.executable,
            "-m",
            "testbed.snowflake_strict",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--admin-user",
            ADMIN_USER,
            "--admin-password",
            ADMIN_PASSWORD,
            "--statement-log",
            str(db_dir / "statements.jsonl"),
        ]
        stack.enter_context(managed_process(args, port, db_dir / "fakesnow.log"))
        loader = {
            "host": LOOPBACK,
            "port": port,
            "protocol": "http",
            "account": "fakesnow",
            "user": LOADER_USER,
            "password": LOADER_PASSWORD,
            "role": LOADER_ROLE,
            "warehouse": WAREHOUSE,
        }
        with contextlib.closing(admin_connection(loader)) as admin:
            for statement in (
                f"CREATE ROLE {LOADER_ROLE}",
                f"CREATE WAREHOUSE {WAREHOUSE}",
                f"GRANT USAGE ON WAREHOUSE {WAREHOUSE} TO ROLE {LOADER_ROLE}",
                f"CREATE USER {LOADER_USER} PASSWORD = '{LOADER_PASSWORD}'"
                f" DEFAULT_ROLE = {LOADER_ROLE} DEFAULT_WAREHOUSE = {WAREHOUSE}",
                f"GRANT ROLE {LOADER_ROLE} TO USER {LOADER_USER}",
            ):
                admin.cursor().execute(statement)
        yield loader


@contextlib.contextmanager
def plain_fakesnow(log_path: Path) -> Iterator[dict]:
    """Run fakesnow's own server (`fakesnow -s`) on loopback, without the strict layer: no
    grants, no INFORMATION_SCHEMA privilege views, no CURRENT_WAREHOUSE(); any user logs in
    and the login creates the database. Yields settings shaped like `local_snowflake`'s."""
    port = free_port()
    server = os.environ.get(SERVER_PYTHON_ENV) or sys.executable
    args = [server, "-m", "fakesnow", "-s", "--host", LOOPBACK, "-p", str(port)]
    with managed_process(args, port, log_path):
        yield {
            "host": LOOPBACK,
            "port": port,
            "protocol": "http",
            "account": "fakesnow",
            "user": LOADER_USER,
            "password": "any",
            "role": LOADER_ROLE,
            "warehouse": WAREHOUSE,
        }


def admin_settings(settings: dict) -> dict:
    """The administrator's connection settings for a local Snowflake."""
    return {
        **settings,
        "user": ADMIN_USER,
        "password": ADMIN_PASSWORD,
        "role": "ACCOUNTADMIN",
        "warehouse": WAREHOUSE,
    }


def admin_connection(settings: dict) -> SnowflakeConnection:
    """A connection as the administrator (short timeouts: the server is local)."""
    return snowflake.connector.connect(
        **admin_settings(settings), login_timeout=20, network_timeout=60
    )


def prepare_database(
    admin: SnowflakeConnection,
    database: str,
    schema: str | None = None,
    role: str = LOADER_ROLE,
    *,
    create_schemas: bool = False,
) -> None:
    """As an administrator: create the database (and schema) and grant the role what a
    load needs (docs/snowflake-privileges.md); `create_schemas` also lets the role create
    schemas of its own in the database."""
    statements = [
        f'CREATE DATABASE IF NOT EXISTS "{database}"',
        f'GRANT USAGE ON DATABASE "{database}" TO ROLE {role}',
    ]
    if create_schemas:
        statements.append(f'GRANT CREATE SCHEMA ON DATABASE "{database}" TO ROLE {role}')
    if schema is not None:
        qualified = f'"{database}"."{schema}"'
        statements += [
            f"CREATE SCHEMA IF NOT EXISTS {qualified}",
            f"GRANT USAGE, CREATE TABLE, CREATE STAGE ON SCHEMA {qualified} TO ROLE {role}",
        ]
    with admin.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def s3_policy(bucket: str, prefix: str, actions: list[str], *, list_bucket: bool) -> str:
    """An IAM policy allowing `actions` on the objects under a prefix of a bucket (and
    listing the bucket)."""
    statements: list[dict[str, object]] = [
        {"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}
    ]
    if list_bucket:
        # moto checks a listing as s3:ListObjectsV2, the action AWS calls s3:ListBucket
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:ListObjectsV2"],
                "Resource": f"arn:aws:s3:::{bucket}",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


# What each identity of the local S3 may do (docs/external-stages.md): the target writes,
# reads (the archive's copy source) and deletes its files; Snowflake's role reads and lists.
# moto checks a copy as s3:CopyObject, which AWS checks as GetObject and PutObject.
LOADER_S3_ACTIONS = [
    "s3:PutObject",
    "s3:GetObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:CopyObject",
]
SNOWFLAKE_S3_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]


@contextlib.contextmanager
def local_s3(log_path: Path, bucket: str, prefix: str = "") -> Iterator[dict]:
    """Run moto's S3 server on loopback with IAM checks on, and a bucket. Yields the
    endpoint and three identities' keys: `loader` (the target: the least-privilege policy
    on `prefix`), `snowflake` (the storage integration's role: read and list) and `admin`
    (everything, for tests' assertions)."""
    port = free_port()
    setup_actions = 9  # three users, each created, given a key and a policy
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_actions)}
    args = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    with managed_process(args, port, log_path, env=env):
        import boto3  # type: ignore[import-untyped]

        endpoint = f"http://{LOOPBACK}:{port}"
        region = "us-east-1"
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        policies = {
            "loader": s3_policy(bucket, prefix, LOADER_S3_ACTIONS, list_bucket=False),
            "snowflake": s3_policy(bucket, prefix, SNOWFLAKE_S3_ACTIONS, list_bucket=True),
            "admin": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        }
        identities = {}
        for user, policy in policies.items():
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            iam.put_user_policy(UserName=user, PolicyName=user, PolicyDocument=policy)
            identities[user] = {
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            }
        settings = {"endpoint_url": endpoint, "region_name": region, "bucket": bucket}
        s3_client(settings, identities["admin"]).create_bucket(Bucket=bucket)
        yield {**settings, **identities}


def s3_client(settings: dict, identity: dict) -> t.Any:
    """A boto3 S3 client of the local S3 as one of its identities."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        region_name=settings["region_name"],
        **identity,
    )


def external_stage(
    server: dict,
    admin: SnowflakeConnection,
    s3: dict,
    stage: str,
    url: str,
    *,
    allowed: tuple[str, ...] = (),
) -> None:
    """The administrator's part of loading through the local S3 (`local_s3`): the strict
    local Snowflake told where the S3 is and which identity reads it, the storage
    integration LOCAL_S3 (over `url` and `allowed`), and the external stage `stage` on it
    with USAGE granted to the loader role."""
    body = {"endpoint_url": s3["endpoint_url"], "region_name": s3["region_name"], **s3["snowflake"]}
    request = urllib.request.Request(
        f"http://{server['host']}:{server['port']}/strict/s3", data=json.dumps(body).encode()
    )
    with urllib.request.urlopen(request) as response:
        response.read()
    locations = ", ".join(f"'{location}'" for location in (url, *allowed))
    with admin.cursor() as cursor:
        for sql in (
            "CREATE STORAGE INTEGRATION IF NOT EXISTS LOCAL_S3 TYPE = EXTERNAL_STAGE "
            "STORAGE_PROVIDER = 'S3' ENABLED = TRUE STORAGE_AWS_ROLE_ARN = "
            f"'arn:aws:iam::000000000000:role/snowflake' STORAGE_ALLOWED_LOCATIONS = ({locations})",
            f"CREATE STAGE {stage} URL = '{url}' STORAGE_INTEGRATION = LOCAL_S3",
            f"GRANT USAGE ON STAGE {stage} TO ROLE {LOADER_ROLE}",
        ):
            cursor.execute(sql)
