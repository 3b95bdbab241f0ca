"""Benchmark: target-snowflake upserting a contacts-like stream into the local Snowflake.

Run: .venv/bin/python -m bench.target_upsert [--records 1000000] [--batch-size 100000]
     [--stage external]

With `--stage external` the batches go through an external stage over a local S3 (moto,
testbed.servers.local_s3) instead of the session's temporary stage; it also prints the S3
requests per batch (moto's request log, by method: the target's uploads and deletes, the
local Snowflake's reads) and the bytes uploaded per row (a third run, with the archive on,
sums the archived files).

Writes the input to bench/results/, starts fakesnow (testbed.servers.local_snowflake), then
runs the `target-snowflake` command twice as a subprocess: a first load of N records, and
the same N keys again with half of them changed. For each run it prints rows/s end to end,
the target process's own CPU seconds per 100,000 rows (user+sys, measured by
`bench/own_rusage.py`: the emulator's CPU is not counted) and its own peak RSS.
Validation is on (the default).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.own_rusage import launcher, read_usage
from testbed.servers import (
    admin_connection,
    external_stage,
    local_s3,
    local_snowflake,
    prepare_database,
    s3_client,
)

RESULTS = Path(__file__).parent / "results"
BUCKET = "bench-loads"
EXTERNAL_STAGE = "BENCH.STAGES.LOADS"
# A request line of moto's log (werkzeug colours some methods with ANSI codes).
S3_REQUEST = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|DELETE|HEAD) ')
STREAM = "contacts"
BASE_TS = 1_700_000_000

DATE_TIME = {"type": ["null", "string"], "format": "date-time"}
NULLABLE_STRING = {"type": ["null", "string"]}
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": NULLABLE_STRING,
        "workspace_id": NULLABLE_STRING,
        "external_id": NULLABLE_STRING,
        "role": {"type": ["null", "string"], "enum": ["user", "lead", None]},
        "email": NULLABLE_STRING,
        "phone": NULLABLE_STRING,
        "name": NULLABLE_STRING,
        "owner_id": {"type": ["null", "integer"]},
        "has_hard_bounced": {"type": ["null", "boolean"]},
        "unsubscribed_from_emails": {"type": ["null", "boolean"]},
        "created_at": DATE_TIME,
        "updated_at": DATE_TIME,
        "signed_up_at": DATE_TIME,
        "last_seen_at": DATE_TIME,
        "last_replied_at": DATE_TIME,
        "last_contacted_at": DATE_TIME,
        "browser": NULLABLE_STRING,
        "os": NULLABLE_STRING,
        "language_override": NULLABLE_STRING,
        "location": {
            "type": ["null", "object"],
            "properties": {
                "type": NULLABLE_STRING,
                "country": NULLABLE_STRING,
                "region": NULLABLE_STRING,
                "city": NULLABLE_STRING,
                "country_code": NULLABLE_STRING,
                "continent_code": NULLABLE_STRING,
            },
        },
        "custom_attributes": {"type": ["null", "object"]},
        "tags": {
            "type": ["null", "object"],
            "properties": {
                "type": NULLABLE_STRING,
                "data": {
                    "type": ["null", "array"],
                    "items": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "type": NULLABLE_STRING},
                    },
                },
                "total_count": {"type": ["null", "integer"]},
                "has_more": {"type": ["null", "boolean"]},
            },
        },
        "social_profiles": {"type": ["null", "object"]},
        "score": {"type": ["null", "number"]},
    },
}


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


def contact(index: int, generation: int) -> dict:
    ts = BASE_TS + index + generation * 1000
    return {
        "id": f"c{index:08d}",
        "type": "contact",
        "workspace_id": "ecahpwf5",
        "external_id": str(index),
        "role": "user" if index % 3 else "lead",
        "email": f"user{index}.g{generation}@example.com",
        "phone": None,
        "name": f"User {index} generation {generation}",
        "owner_id": index % 17,
        "has_hard_bounced": False,
        "unsubscribed_from_emails": bool(index % 2),
        "created_at": iso(BASE_TS - 86400 + index),
        "updated_at": iso(ts),
        "signed_up_at": iso(BASE_TS - 86400 + index),
        "last_seen_at": iso(ts - 3600),
        "last_replied_at": iso(ts - 7200),
        "last_contacted_at": None,
        "browser": "chrome",
        "os": "OS X 10.15.7",
        "language_override": None,
        "location": {
            "type": "location",
            "country": "Ireland",
            "region": "Dublin",
            "city": "Dublin",
            "country_code": "IRL",
            "continent_code": "EU",
        },
        "custom_attributes": {"plan": "pro", "seats": index % 50, "mrr": 99.5},
        "tags": {
            "type": "list",
            "data": [{"id": str(index % 9), "type": "tag"}],
            "total_count": 1,
            "has_more": False,
        },
        "social_profiles": {"type": "list", "data": []},
        "score": index / 7,
    }


def write_input(path: Path, records: int, updated_half: bool) -> None:
    """SCHEMA, the records (a STATE every 10,000), a final STATE."""
    schema = {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["id"]}
    with path.open("w") as out:
        out.write(json.dumps(schema) + "\n")
        for index in range(records):
            generation = 1 if updated_half and index % 2 else 0
            message = {
                "type": "RECORD",
                "stream": STREAM,
                "record": contact(index, generation),
                "time_extracted": "2024-01-01T00:00:00+00:00",
            }
            out.write(json.dumps(message, separators=(",", ":")) + "\n")
            if index % 10_000 == 9_999:
                out.write(json.dumps({"type": "STATE", "value": {"position": index + 1}}) + "\n")


def run_target(config_path: Path, input_path: Path) -> dict:
    """Run the target; its own resource usage (`bench/own_rusage.py`)."""
    started = time.perf_counter()
    usage_path = config_path.with_name("usage.json")
    with input_path.open("rb") as stdin, (RESULTS / "target.log").open("ab") as log:
        process = subprocess.Popen(
            [
                *launcher(usage_path),
                str(Path(sys.executable).with_name("target-snowflake")),
                "--config",
                str(config_path),
            ],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        stdout = process.stdout.read() if process.stdout else b""
        process.wait()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"target failed ({process.returncode}); see {RESULTS / 'target.log'}")
    usage = read_usage(usage_path)
    return {
        "wall": wall,
        "cpu": usage["cpu_seconds"],
        "rss_mb": usage["rss_mb"],
        "states": len(stdout.splitlines()),
    }


def loader_config(server: dict, schema: str, batch_size: int) -> dict:
    """The target's config for a fresh schema of BENCH, which the administrator prepares
    and the loader role (the server's settings) loads into."""
    with contextlib.closing(admin_connection(server)) as admin:
        prepare_database(admin, "BENCH", schema)  # the administrator's part
    return {
        **server,
        "database": "BENCH",
        "default_target_schema": schema,
        "batch_size_rows": batch_size,
        "login_timeout": 30,
        "network_timeout": 600,
    }


def s3_requests(log: Path, offset: int) -> tuple[dict[str, int], int]:
    """Requests moto logged after `offset`, by method; the new offset."""
    text = log.read_bytes()
    counts: dict[str, int] = {}
    for method in S3_REQUEST.findall(text[offset:].decode(errors="replace")):
        counts[method] = counts.get(method, 0) + 1
    return counts, len(text)


def with_external_stage(config: dict, s3: dict, prefix: str) -> dict:
    return {
        **config,
        "stage": EXTERNAL_STAGE,
        "s3_bucket": BUCKET,
        "s3_key_prefix": prefix,
        "s3_endpoint_url": s3["endpoint_url"],
        "s3_region_name": s3["region_name"],
        **s3["loader"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--stage", choices=("temporary", "external"), default="temporary")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    inputs = {
        "first load": RESULTS / f"contacts-{args.records}.singer",
        "half updated": RESULTS / f"contacts-{args.records}-half-updated.singer",
    }
    for (name, path), updated in zip(inputs.items(), (False, True), strict=True):
        if not path.exists():
            print(f"writing {name} input to {path} ...", file=sys.stderr)
            write_input(path, args.records, updated)
    rows = []
    batches = -(-args.records // args.batch_size)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(local_snowflake(RESULTS / "fakesnow"))
        config = loader_config(server, f"UPSERT_{int(time.time())}", args.batch_size)
        config_path = RESULTS / "target-config.json"
        s3_log = RESULTS / "moto.log"
        if args.stage == "external":
            s3_log.unlink(missing_ok=True)
            s3 = stack.enter_context(local_s3(s3_log, BUCKET, "loads/"))
            with contextlib.closing(admin_connection(server)) as admin:
                prepare_database(admin, "BENCH", "STAGES")
                external_stage(server, admin, s3, EXTERNAL_STAGE, f"s3://{BUCKET}/loads/")
            config = with_external_stage(config, s3, "loads/bench")
        config_path.write_text(json.dumps(config))
        offset = s3_log.stat().st_size if s3_log.exists() else 0
        for name, path in inputs.items():
            figures = run_target(config_path, path)
            if args.stage == "external":
                requests, offset = s3_requests(s3_log, offset)
                figures["s3 requests per batch"] = {
                    method: round(count / batches, 1) for method, count in sorted(requests.items())
                }
            rows.append((name, figures))
            print(f"{name}: {figures}", file=sys.stderr)
        if args.stage == "external":
            archived = {
                **config,
                "default_target_schema": f"{config['default_target_schema']}_ARCHIVED",
                "archive_load_files": True,
                "archive_load_files_prefix": "archive",  # under the stage's loads/
            }
            with contextlib.closing(admin_connection(server)) as admin:
                prepare_database(admin, "BENCH", archived["default_target_schema"])
            config_path.write_text(json.dumps(archived))
            run_target(config_path, inputs["first load"])
            pages = (
                s3_client(s3, s3["admin"])
                .get_paginator("list_objects_v2")
                .paginate(Bucket=BUCKET, Prefix="loads/archive/")
            )
            uploaded = sum(item["Size"] for page in pages for item in page.get("Contents", []))
            print(f"bytes uploaded per row: {uploaded / args.records:.1f}")
    print(
        f"\ntarget-snowflake upsert, {args.records:,} records, "
        f"batch_size_rows {args.batch_size:,}, {args.stage} stage"
    )
    print(
        "| run | wall s | rows/s end to end | target CPU s / 100k rows | rows per target CPU s "
        "| peak RSS MB |"
    )
    print("|---|---|---|---|---|---|")
    for name, f in rows:
        print(
            f"| {name} | {f['wall']:.1f} | {args.records / f['wall']:,.0f} "
            f"| {f['cpu'] / args.records * 100_000:.2f} | {args.records / f['cpu']:,.0f} "
            f"| {f['rss_mb']:.0f} |"
        )
    for name, f in rows:
        if "s3 requests per batch" in f:
            print(f"S3 requests per batch, {name}: {f['s3 requests per batch']}")


if __name__ == "__main__":
    main()
