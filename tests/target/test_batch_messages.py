"""BATCH messages: jsonl (gzip or not) and parquet files from file:// manifests, loaded
with the guarantees of RECORD messages (validation, dedupe, STATE after commit, deletes).

The first tests replay what the real tap emits with `batch_config` and compare the tables
with a RECORD run of the same sandbox; the others build BATCH files by hand for the cases
a tap rarely produces (repeated keys, invalid records, deletes, versions).
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest
from target_snowflake.reader import InputError

from testbed.catalog import TAP, catalog_selecting
from testbed.servers import prepare_database
from tests.target.conftest import (
    DATABASE,
    messages_text,
    query,
    record,
    run_target,
    run_target_process,
    schema_message,
    state,
    table_rows,
)

STREAMS = ["contacts", "companies", "admins", "tags"]
PEOPLE = {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}


def tap_output(sandbox, tmp_path: Path, batch_config: dict | None) -> list[str]:
    """The real tap's messages for STREAMS (SCHEMA, RECORD or BATCH, STATE)."""
    config = {"access_token": sandbox.token, "api_url": sandbox.url}
    if batch_config is not None:
        config["batch_config"] = batch_config
    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_selecting(STREAMS)))
    result = subprocess.run(
        [TAP, "--config", str(config_path), "--catalog", str(catalog_path)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    return result.stdout.decode().splitlines()


def batch_config(tmp_path: Path, file_format: str, compression: str) -> dict:
    root = tmp_path / f"batches-{file_format}-{compression}"
    root.mkdir()
    return {
        "encoding": {"format": file_format, "compression": compression},
        "storage": {"root": root.as_uri(), "prefix": "part-"},
        "batch_size": 7,  # several files per stream
    }


def user_columns(snowflake, schema: str, table: str) -> list[str]:
    rows = query(
        snowflake,
        f"SELECT COLUMN_NAME FROM {DATABASE}.INFORMATION_SCHEMA.COLUMNS "
        f"WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = '{table}' ORDER BY COLUMN_NAME",
    )
    return [name for (name,) in rows if not name.startswith("_SDC_")]


def table_content(snowflake, schema: str, table: str, columns: list[str]) -> list[tuple]:
    select = ", ".join(f'"{c}"' for c in columns)
    rows = table_rows(snowflake, schema, table, select, order_by='"ID"')
    return [tuple(_comparable(value) for value in row) for row in rows]


def _comparable(value: object) -> object:
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)  # VARIANT: compare as JSON, not as formatted text
    return value


@pytest.mark.parametrize(
    ("file_format", "compression"),
    [("jsonl", "gzip"), ("jsonl", "none"), ("parquet", "gzip")],
)
def test_the_taps_batch_messages_load_like_its_records(
    intercom_sandbox, snowflake, config, schema, tmp_path, file_format, compression
):
    records = tap_output(intercom_sandbox, tmp_path, None)
    batches = tap_output(
        intercom_sandbox, tmp_path, batch_config(tmp_path, file_format, compression)
    )
    assert any('"type":"BATCH"' in line.replace(" ", "") for line in batches)
    assert not any('"type":"RECORD"' in line.replace(" ", "") for line in batches)

    prepare_database(snowflake, DATABASE, schema + "_R")  # the administrator's part
    record_states = run_target({**config, "default_target_schema": schema + "_R"}, records)
    batch_states = run_target(config, batches)
    tap_states = [json.loads(line) for line in batches if '"STATE"' in line]
    assert batch_states[-1] == tap_states[-1]["value"]
    assert record_states[-1]["bookmarks"].keys() == batch_states[-1]["bookmarks"].keys()
    for stream in STREAMS:
        table = stream.upper()
        columns = user_columns(snowflake, schema + "_R", table)
        assert user_columns(snowflake, schema, table) == columns
        expected = table_content(snowflake, schema + "_R", table, columns)
        assert expected, stream
        assert table_content(snowflake, schema, table, columns) == expected, stream


def write_jsonl(path: Path, rows: list[dict | str], *, gzipped: bool = True) -> str:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(text) if gzipped else text)
    return path.as_uri()


def batch(stream: str, *urls: str, file_format: str = "jsonl", compression: str = "gzip"):
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": file_format, "compression": compression},
        "manifest": list(urls),
    }


def test_the_last_record_of_a_key_wins_within_and_across_files(snowflake, config, schema, tmp_path):
    repeated = write_jsonl(
        tmp_path / "a.json.gz", [{"id": 1, "name": "a1"}, {"id": 2}, {"id": 1, "name": "a2"}]
    )
    unique = write_jsonl(tmp_path / "b.json.gz", [{"id": 2, "name": "b2"}, {"id": 3}])
    states = run_target(
        config,
        [
            schema_message("people", PEOPLE, ["id"]),
            record("people", {"id": 3, "name": "record before the files"}),
            batch("people", repeated, unique),
            state({"n": 1}),
            record("people", {"id": 2, "name": "record after the files"}),
        ],
    )
    assert states == [{"n": 1}]
    assert table_rows(snowflake, schema, "PEOPLE", '"ID", "NAME"') == [
        (1, "a2"),
        (2, "record after the files"),
        (3, None),
    ]


def test_a_state_after_a_batch_goes_out_once_its_rows_are_in(snowflake, config, schema, tmp_path):
    """The STATE after a BATCH is emitted before the input ends (the file is loaded as
    the message is handled), and the rows are in when it goes out."""
    url = write_jsonl(tmp_path / "a.json.gz", [{"id": n} for n in range(1, 6)])
    lines = [schema_message("people", PEOPLE, ["id"]), batch("people", url), state({"n": 5})]
    result = run_target_process(config, messages_text(lines), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.states == [{"n": 5}]
    assert len(table_rows(snowflake, schema, "PEOPLE", '"ID"')) == 5


def test_an_invalid_record_in_a_batch_file_stops_naming_file_and_row(config, tmp_path):
    url = write_jsonl(tmp_path / "a.json.gz", [{"id": 1}, {"id": 2, "name": 5}])
    lines = [schema_message("people", PEOPLE, ["id"]), batch("people", url), state({"n": 1})]
    result = run_target_process(config, messages_text(lines), tmp_path)
    assert result.returncode != 0
    assert result.states == []
    for part in ("line 2", "stream 'people'", "key {'id': 2}", f"{url} row 2", "$.name"):
        assert part in result.stderr, part


def test_invalid_batch_records_are_quarantined_with_file_and_row(
    snowflake, config, schema, tmp_path
):
    config["on_invalid_record"] = "quarantine"
    url = write_jsonl(
        tmp_path / "a.json",
        [{"id": 1}, '{"id": 2, "name": 5.50}', {"name": "no key"}],
        gzipped=False,
    )
    lines = [schema_message("people", PEOPLE, ["id"]), batch("people", url, compression="none")]
    assert run_target(config, [*lines, state({"n": 1})]) == [{"n": 1}]
    assert table_rows(snowflake, schema, "PEOPLE", '"ID"') == [(1,)]
    rows = table_rows(
        snowflake,
        schema,
        "PEOPLE#QUARANTINE",
        '"LINE", "BATCH_FILE", "BATCH_ROW", "RAW"',
        order_by='"BATCH_ROW"',
    )
    assert rows == [(2, url, 2, '{"id": 2, "name": 5.50}'), (2, url, 3, '{"name": "no key"}')]


def test_deletes_in_batch_files(snowflake, config, schema, tmp_path):
    config["hard_delete"] = True
    first = write_jsonl(tmp_path / "a.json.gz", [{"id": 1}, {"id": 2}, {"id": 3}])
    deleted_at = "2024-01-01T00:00:00+00:00"
    second = write_jsonl(tmp_path / "b.json.gz", [{"id": 2, "_sdc_deleted_at": deleted_at}])
    run_target(
        config,
        [schema_message("people", PEOPLE, ["id"]), batch("people", first), batch("people", second)],
    )
    assert table_rows(snowflake, schema, "PEOPLE", '"ID"') == [(1,), (3,)]


def test_activate_version_keeps_the_batch_rows_of_the_version(snowflake, config, schema, tmp_path):
    """BATCH files carry no version: their rows belong to the version the last
    ACTIVATE_VERSION opened, so the closing one removes only older rows."""
    config["hard_delete"] = True
    old = write_jsonl(tmp_path / "old.json.gz", [{"id": 1}, {"id": 2}])
    new = write_jsonl(tmp_path / "new.json.gz", [{"id": 2}, {"id": 3}])

    def full_sync(version: int, url: str) -> list[dict]:
        activate = {"type": "ACTIVATE_VERSION", "stream": "people", "version": version}
        return [schema_message("people", PEOPLE, ["id"]), activate, batch("people", url), activate]

    run_target(config, full_sync(1, old))
    assert table_rows(snowflake, schema, "PEOPLE", '"ID"') == [(1,), (2,)]
    run_target(config, full_sync(2, new))
    assert table_rows(snowflake, schema, "PEOPLE", '"ID", "_SDC_TABLE_VERSION"') == [
        (2, 2),
        (3, 2),
    ]


def test_stream_maps_apply_to_batch_records(snowflake, config, schema, tmp_path):
    config["stream_maps"] = {"people": {"name": "name.upper() if name else None"}}
    url = write_jsonl(tmp_path / "a.json.gz", [{"id": 1, "name": "ann"}])
    run_target(config, [schema_message("people", PEOPLE, ["id"]), batch("people", url)])
    assert table_rows(snowflake, schema, "PEOPLE", '"ID", "NAME"') == [(1, "ANN")]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (batch("people", "s3://bucket/a.json.gz"), "only local file:// URLs"),
        (batch("people", "file:///nonexistent/a.json.gz"), "does not exist"),
        (batch("people", file_format="csv"), "format 'csv' is not supported"),
        (batch("ghosts"), "BATCH before the stream's SCHEMA"),
    ],
)
def test_batch_messages_it_cannot_load_stop_the_run(config, tmp_path, message, expected):
    lines = [schema_message("people", PEOPLE, ["id"]), message]
    result = run_target_process(config, messages_text(lines), tmp_path)
    assert result.returncode != 0
    assert "line 2" in result.stderr
    assert expected in result.stderr


def test_relative_file_urls_are_read_from_the_working_directory(
    snowflake, config, schema, tmp_path, monkeypatch
):
    """`file://tests/data/x.jsonl` (as singer-sdk's tests write them) is read as singer-sdk
    reads it: relative to the working directory, `tests` being the first directory."""
    (tmp_path / "tests" / "data").mkdir(parents=True)
    write_jsonl(tmp_path / "tests" / "data" / "x.jsonl", [{"id": 1}, {"id": 2}], gzipped=False)
    monkeypatch.chdir(tmp_path)
    lines = [
        schema_message("people", PEOPLE, ["id"]),
        batch("people", "file://tests/data/x.jsonl", compression="none"),
        state({"n": 2}),
    ]
    assert run_target(config, lines) == [{"n": 2}]
    assert table_rows(snowflake, schema, "PEOPLE", '"ID"') == [(1,), (2,)]


def test_a_relative_file_url_to_a_missing_file_is_named(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = [
        schema_message("people", PEOPLE, ["id"]),
        batch("people", "file://tests/data/missing.jsonl", compression="none"),
    ]
    with pytest.raises(InputError) as raised:
        run_target(config, lines)
    expected = (
        "line 2, stream 'people': BATCH file 'file://tests/data/missing.jsonl' does not "
        f"exist (read as '{tmp_path.resolve() / 'tests/data/missing.jsonl'}', relative to "
        "the working directory)"
    )
    assert str(raised.value) == expected


@pytest.mark.parametrize("on_invalid_record", ["fail", "quarantine"])
def test_a_truncated_gzip_file_stops_the_run_naming_it(
    snowflake, config, schema, tmp_path, on_invalid_record
):
    """A file that ends early is not a bad record: the run stops, even with quarantine,
    and nothing of the file (nor a STATE after it) goes out."""
    config["on_invalid_record"] = on_invalid_record
    url = write_jsonl(tmp_path / "a.json.gz", [{"id": n, "name": "x" * 50} for n in range(2000)])
    path = tmp_path / "a.json.gz"
    path.write_bytes(path.read_bytes()[:1000])
    lines = [schema_message("people", PEOPLE, ["id"]), batch("people", url), state({"n": 1})]
    result = run_target_process(config, messages_text(lines), tmp_path)
    assert result.returncode != 0
    assert result.states == []
    assert f"line 2, stream 'people': BATCH file '{url}' cannot be read after row " in result.stderr
    assert "Compressed file ended before the end-of-stream marker" in result.stderr
    rows = query(snowflake, f'SELECT COUNT(*) FROM {DATABASE}."{schema}"."PEOPLE"')
    assert rows == [(0,)]


def test_a_file_that_is_not_parquet_is_named(config, tmp_path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"PAR1 not really")
    lines = [
        schema_message("people", PEOPLE, ["id"]),
        batch("people", path.as_uri(), file_format="parquet"),
    ]
    result = run_target_process(config, messages_text(lines), tmp_path)
    assert result.returncode != 0
    assert f"BATCH file '{path.as_uri()}' cannot be read after row 0: " in result.stderr
    assert "Parquet magic bytes not found" in result.stderr


def test_a_malformed_line_in_a_batch_file_stops_naming_file_and_row(config, tmp_path):
    url = write_jsonl(tmp_path / "a.json.gz", [{"id": 1}, '{"id": 2, "na'])
    lines = [schema_message("people", PEOPLE, ["id"]), batch("people", url)]
    result = run_target_process(config, messages_text(lines), tmp_path)
    assert result.returncode != 0
    assert f"line 2, stream 'people': {url} row 2: malformed JSON" in result.stderr
