"""Bad input: the target exits non-zero naming line, stream and key, and emits no STATE
for anything it has not committed. Runs the real command as a process."""

from __future__ import annotations

import json

import pytest

from tests.target.conftest import (
    DATABASE,
    messages_text,
    query,
    record,
    run_target_process,
    schema_message,
    state,
)

PEOPLE = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
SCHEMA = schema_message("people", PEOPLE, ["id"])
PERSON_1 = record("people", {"id": 1, "name": "a"})


def run_bad(config, tmp_path, messages):
    result = run_target_process(config, messages_text(messages), tmp_path)
    assert result.returncode != 0, result.stderr
    return result


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param(
            [SCHEMA, record("people", {"id": 1}), '{"type": "RECORD", "stream": "peo'],
            ["line 3", "malformed JSON"],
            id="malformed-json",
        ),
        pytest.param(
            [record("people", {"id": 1})],
            ["line 1", "stream 'people'", "RECORD before the stream's SCHEMA"],
            id="record-before-schema",
        ),
        pytest.param(
            [
                SCHEMA,
                record("people", {"id": 1, "name": "a"}),
                record("people", {"id": 2, "name": 5}),
            ],
            [
                "line 3",
                "stream 'people'",
                "key {'id': 2}",
                "Expected `str | null`, got `int`",
                "$.name",
            ],
            id="record-fails-schema",
        ),
        pytest.param(
            [SCHEMA, record("people", {"name": "no key"})],
            ["line 2", "stream 'people'", "missing key property 'id'"],
            id="missing-key",
        ),
        pytest.param(
            [SCHEMA, record("people", {"id": None, "name": "null key"})],
            ["line 2", "stream 'people'", "missing key property 'id'"],
            id="null-key",
        ),
        pytest.param(
            [SCHEMA, {"type": "BATCH", "stream": "people", "encoding": {}, "manifest": []}],
            ["line 2", "stream 'people'", "BATCH encoding format None is not supported"],
            id="batch-message-without-format",
        ),
        pytest.param(
            [SCHEMA, '{"stream": "people", "record": {"id": 1}}'],
            ["line 2", "type"],
            id="message-without-type",
        ),
    ],
)
def test_bad_input_names_line_stream_and_key(config, tmp_path, messages, expected):
    result = run_bad(config, tmp_path, messages)
    for text in expected:
        assert text in result.stderr
    assert result.stdout == ""


def test_no_state_for_records_not_committed(config, snowflake, schema, tmp_path):
    result = run_bad(
        config,
        tmp_path,
        [
            state({"before": 0}),  # nothing pending: committed trivially, may go out
            SCHEMA,
            record("people", {"id": 1, "name": "a"}),
            state({"after": 1}),  # record 1 is not loaded yet
            record("people", {"id": 2, "name": 7}),
        ],
    )
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"before": 0}]
    tables = query(
        snowflake,
        f"SELECT COUNT(*) FROM {DATABASE}.INFORMATION_SCHEMA.TABLES "
        f"WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = 'PEOPLE'",
    )
    if tables[0][0]:
        assert query(snowflake, f'SELECT COUNT(*) FROM {DATABASE}."{schema}"."PEOPLE"') == [(0,)]


def test_a_value_over_128_mb_fails_naming_stream_key_and_column(config, tmp_path):
    """Snowflake stores values up to 128 MiB (2024_08); one byte more is refused by name."""
    blob = {"id": {"type": "integer"}, "blob": {"type": ["null", "string"]}}
    huge = record("files", {"id": 7, "blob": "x" * (128 << 20)})
    result = run_bad(
        config,
        tmp_path,
        [schema_message("files", blob, ["id"]), huge],
    )
    for text in ["line 2", "stream 'files'", "key {'id': 7}", "column 'blob'", "134217728"]:
        assert text in result.stderr
