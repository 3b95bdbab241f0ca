"""Loading through a named stage: an external S3 stage over a local S3 server (moto, with
IAM checks: the target's keys hold only the policy docs/external-stages.md gives), read by
the strict local Snowflake through a storage integration, and a named internal stage; the
archive of loaded files; the startup check's errors."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from testbed.servers import external_stage, local_s3, prepare_database, s3_client
from tests.target.conftest import (
    DATABASE,
    TARGET_BIN,
    control,
    messages_text,
    record,
    run_target,
    run_target_process,
    schema_message,
    state,
    statements,
    table_rows,
)

pytest.importorskip("moto", reason="the local S3: requirements-dev.txt")

BUCKET = "intersnow-loads"
STAGE_URL = f"s3://{BUCKET}/loads/"
EXTERNAL = f"{DATABASE}.STAGES.LOADS"
INTERNAL = f"{DATABASE}.STAGES.INTERNAL_LOADS"
UNGRANTED = f"{DATABASE}.STAGES.NOT_GRANTED"
NO_BUCKET = f"{DATABASE}.STAGES.NO_BUCKET"
PEOPLE = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
EVENTS = {"n": {"type": "integer"}, "pad": {"type": "string"}}


@pytest.fixture(scope="module")
def s3(snowflake, snowflake_server, tmp_path_factory) -> Iterator[dict]:
    """The local S3 with the bucket; the administrator's integration and stages over it,
    with USAGE (external) and READ, WRITE (internal) granted to the loader role."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with local_s3(log, BUCKET, "loads/") as settings:
        prepare_database(snowflake, DATABASE, "STAGES")
        external_stage(
            snowflake_server,
            snowflake,
            settings,
            EXTERNAL,
            STAGE_URL,
            allowed=("s3://no-such-bucket/",),
        )
        with snowflake.cursor() as cursor:
            for sql in (
                f"CREATE STAGE {UNGRANTED} URL = '{STAGE_URL}' STORAGE_INTEGRATION = LOCAL_S3",
                f"CREATE STAGE {NO_BUCKET} URL = 's3://no-such-bucket/loads/' "
                "STORAGE_INTEGRATION = LOCAL_S3",
                f"CREATE STAGE {INTERNAL}",
                f"GRANT USAGE ON STAGE {NO_BUCKET} TO ROLE LOADER",
                f"GRANT READ, WRITE ON STAGE {INTERNAL} TO ROLE LOADER",
            ):
                cursor.execute(sql)
        yield settings


def external(config: dict, s3: dict, **overrides: object) -> dict:
    return {
        **config,
        "stage": EXTERNAL,
        "s3_bucket": BUCKET,
        "s3_key_prefix": "loads/target",
        "s3_endpoint_url": s3["endpoint_url"],
        "s3_region_name": s3["region_name"],
        **s3["loader"],
        **overrides,
    }


def keys_under(s3: dict, prefix: str) -> list[str]:
    client = s3_client(s3, s3["admin"])
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def people_messages(rng: random.Random) -> list[dict]:
    """Upserts over 40 keys in several batches, some deletes."""
    messages: list[dict] = [schema_message("people", PEOPLE, ["id"])]
    for n in range(300):
        row: dict = {"id": rng.randrange(40), "name": f"name {n}"}
        messages.append(record("people", row))
        if n % 60 == 59:
            messages.append(state({"n": n}))
    return messages


def test_external_stage_loads_what_the_internal_stage_loads_and_leaves_no_file(
    config, snowflake, snowflake_server, schema, s3
):
    messages = people_messages(random.Random(7))
    config["batch_size_rows"] = 50
    internal_states = run_target(config, messages)
    other = f"{schema}_EXT"
    prepare_database(snowflake, DATABASE, other)
    control(snowflake_server, "/strict/log/clear", {})
    external_states = run_target(external({**config, "default_target_schema": other}, s3), messages)

    assert external_states == internal_states
    assert table_rows(snowflake, other, "PEOPLE") == table_rows(snowflake, schema, "PEOPLE")
    copies = [s["sql"] for s in statements(snowflake_server) if s["sql"].startswith("COPY")]
    assert len(copies) == 6  # 300 records in batches of 50
    assert all(f'@"{DATABASE}"."STAGES"."LOADS"/target/' in sql for sql in copies)
    assert all("FILES=(" in sql and "PURGE" not in sql for sql in copies)
    assert keys_under(s3, "loads/") == []  # each file deleted once committed


@pytest.mark.parametrize("stage", [EXTERNAL, INTERNAL])
def test_the_archive_holds_every_loaded_file_once(
    config, snowflake, snowflake_server, schema, s3, stage
):
    rng = random.Random(11)
    messages: list[dict] = [schema_message("events", EVENTS)]
    messages += [record("events", {"n": n, "pad": "x" * rng.randrange(9)}) for n in range(130)]
    config["batch_size_rows"] = 40
    prefix = f"archive_{schema.lower()}"
    settings = external(config, s3) if stage == EXTERNAL else {**config, "stage": stage}
    run_target(
        {**settings, "archive_load_files": True, "archive_load_files_prefix": prefix}, messages
    )

    assert len(table_rows(snowflake, schema, "EVENTS")) == 130
    if stage == EXTERNAL:
        archived = keys_under(s3, f"loads/{prefix}/")
        lines = [
            json.loads(line)
            for key in archived
            for line in _gunzip(s3_client(s3, s3["admin"]).get_object(Bucket=BUCKET, Key=key))
        ]
        assert keys_under(s3, "loads/target/") == []
    else:
        with snowflake.cursor() as cursor:
            cursor.execute(f"LIST @{stage}/{prefix}/")
            archived = sorted(row[0] for row in cursor.fetchall())
            cursor.execute(f"LIST @{stage}/")
            everything = [row[0] for row in cursor.fetchall()]
        assert sorted(everything) == archived  # the loads' own paths were removed
        table = f'{DATABASE}."{schema}".ARCHIVED'
        with snowflake.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {table} (V VARIANT)")
            cursor.execute(f"COPY INTO {table} FROM @{stage}/{prefix}/ FILE_FORMAT=(TYPE=JSON)")
            cursor.execute(f"SELECT V FROM {table}")
            lines = [json.loads(row[0]) for row in cursor.fetchall()]
    assert len(archived) == 4  # 130 records in batches of 40
    # <prefix>/EVENTS/<UTC time>_<stream>_<batch id>...: one entry per batch
    assert all(f"{prefix}/EVENTS/" in name and "_events_" in name for name in archived)
    assert sorted(line["r"]["n"] for line in lines) == list(range(130))


def _gunzip(answer: dict) -> list[bytes]:
    import gzip

    return gzip.decompress(answer["Body"].read()).splitlines()


def test_a_kill_between_upload_and_copy_loses_and_duplicates_nothing(
    config, snowflake, snowflake_server, schema, s3, tmp_path
):
    """Batch 1 commits; batch 2 is uploaded and the target killed while its COPY waits.
    A rerun from the last STATE loads each record once (a keyless stream: a record loaded
    twice would show), and never reads the killed batch's file, which stays behind."""
    body = [messages_text([record("events", {"n": n, "pad": ""})]) for n in range(100)]
    body.insert(50, messages_text([state({"pos": 51})]))
    body.append(messages_text([state({"pos": len(body) + 1})]))
    head = messages_text([schema_message("events", EVENTS)])
    settings = external(config, s3, batch_size_rows=50, s3_key_prefix="loads/kill")
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(settings))
    process = subprocess.Popen(
        [TARGET_BIN, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write((head + "".join(body[:51])).encode())
        process.stdin.flush()
        assert json.loads(process.stdout.readline()) == {"pos": 51}
        control(snowflake_server, "/strict/config", {"delay_seconds": 4, "delay_match": "^COPY"})
        process.stdin.write("".join(body[51:101]).encode())
        process.stdin.flush()
        deadline = time.monotonic() + 30
        while not keys_under(s3, "loads/kill/") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the COPY is on its way, held by the layer
        process.kill()
        process.wait(30)
    finally:
        control(snowflake_server, "/strict/config", {"delay_seconds": 0})
        with contextlib.suppress(OSError):
            process.kill()
    left = keys_under(s3, "loads/kill/")
    assert len(left) == 1  # the uploaded, never committed batch
    assert Counter(n for (n,) in table_rows(snowflake, schema, "EVENTS", '"N"')) == Counter(
        range(50)
    )

    rerun = run_target(
        settings, [schema_message("events", EVENTS)] + [json.loads(x) for x in body[51:]]
    )
    assert rerun[-1] == {"pos": 102}
    loaded = Counter(n for (n,) in table_rows(snowflake, schema, "EVENTS", '"N"'))
    assert loaded == Counter(range(100))  # each record once
    assert keys_under(s3, "loads/kill/") == left


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"aws_secret_access_key": "wrong-secret-123456"},
            ["SignatureDoesNotMatch", "the AWS secret key does not match", BUCKET],
        ),
        (
            {"aws_access_key_id": "AKIAWRONGWRONG"},
            ["InvalidAccessKeyId", "access key is not known", BUCKET],
        ),
        (
            {"stage": NO_BUCKET, "s3_bucket": "no-such-bucket", "admin": True},
            ["NoSuchBucket", "bucket no-such-bucket does not exist"],
        ),
        (
            {"s3_key_prefix": "elsewhere"},
            ["`s3_key_prefix` 'elsewhere' is outside stage", STAGE_URL],
        ),
        (
            {"stage": UNGRANTED},
            ["describe the stage", "GRANT USAGE ON STAGE", "NOT_GRANTED", 'TO ROLE "LOADER"'],
        ),
    ],
    ids=["wrong-secret", "unknown-key", "missing-bucket", "prefix-outside-stage", "no-usage"],
)
def test_the_startup_check_names_what_is_missing_and_never_a_secret(
    config, s3, tmp_path, change, expected
):
    change = dict(change)
    settings = external(config, s3, **({**s3["admin"]} if change.pop("admin", False) else {}))
    settings.update(change)
    messages = messages_text(
        [schema_message("people", PEOPLE, ["id"]), record("people", {"id": 1})]
    )
    result = run_target_process(settings, messages, tmp_path)

    assert result.returncode != 0
    for text in expected:
        assert text in result.stderr, result.stderr[-2000:]
    for secret in ("aws_secret_access_key", "password"):
        assert settings[secret] not in result.stderr + result.stdout
    assert result.stdout == ""


def test_the_s3_stage_is_checked_by_a_list_through_the_stage(config, snowflake_server, schema, s3):
    control(snowflake_server, "/strict/log/clear", {})
    run_target(
        external(config, s3),
        [schema_message("people", PEOPLE, ["id"]), record("people", {"id": 1})],
    )
    loader = [s["sql"] for s in statements(snowflake_server) if s["user"] == "LOADER"]
    describe = loader.index(f'DESCRIBE STAGE "{DATABASE}"."STAGES"."LOADS"')
    assert loader[describe + 1].startswith(
        f'LIST @"{DATABASE}"."STAGES"."LOADS"/target/_target_snowflake_check_'
    )
    assert keys_under(s3, "loads/target/") == []  # the check object and the batch are gone
