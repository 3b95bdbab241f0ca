"""Bad input: the target exits non-zero naming line, stream and key, and emits no STATE
for anything it has not committed. Runs the real command as a process."""

from __future__ import annotations

import json
import re

import pytest
from target_snowflake.validation import RecordError, RecordValidator

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
# visits: NUMBER(38,0); balance: NUMBER(38,2); extra: VARIANT
COUNTED = {
    **PEOPLE,
    "visits": {"type": ["null", "integer"]},
    "balance": {"type": ["null", "number"], "multipleOf": 0.01},
    "extra": {},
}
COUNTED_SCHEMA = schema_message("people", COUNTED, ["id"])


def nested(depth: int) -> str:
    """A JSON value `depth` objects deep."""
    return '{"a":' * depth + "1" + "}" * depth


def raw_record(record_text: str) -> str:
    return '{"type": "RECORD", "stream": "people", "record": ' + record_text + "}"


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
        pytest.param(
            [SCHEMA, {"type": "BOGUS", "stream": "people"}],
            ["line 2", "unknown message type 'BOGUS'"],
            id="unknown-message-type",
        ),
        pytest.param(
            [COUNTED_SCHEMA, raw_record('{"id": 3, "visits": 1' + "0" * 39 + "}")],
            [
                "line 2",
                "stream 'people'",
                "key {'id': 3}",
                "`$.visits` is a 40-digit integer",
                "38 digits before the point",
                "NUMBER(38,0)",
            ],
            id="integer-over-38-digits",
        ),
        pytest.param(
            [COUNTED_SCHEMA, raw_record('{"id": 3, "balance": 1e37}')],
            ["line 2", "stream 'people'", "key {'id': 3}", "`$.balance` is 1e+37", "NUMBER(38,2)"],
            id="number-over-the-digits-of-its-scale",
        ),
        pytest.param(
            [COUNTED_SCHEMA, raw_record('{"id": 4, "extra": ' + nested(3000) + "}")],
            ["line 2", "stream 'people'", "key {'id': 4}", "nested 3001 levels deep"],
            id="record-nested-3000-deep",
        ),
        pytest.param(
            [SCHEMA, '{"type": "STATE", "value": ' + nested(3000) + "}"],
            ["line 2", "STATE message", "nested 3001 levels deep"],
            id="state-nested-3000-deep",
        ),
        pytest.param(
            [COUNTED_SCHEMA, raw_record('{"id": 5, "extra": {"n": 1e400}}')],
            ["line 2", "stream 'people'", "key {'id': 5}", "beyond a double's range", "$.extra"],
            id="number-beyond-a-double",
        ),
        pytest.param(
            [COUNTED_SCHEMA, raw_record('{"id": 5, "extra": NaN}')],
            ["line 2", "malformed JSON"],
            id="nan-literal",
        ),
        pytest.param(
            [COUNTED_SCHEMA, raw_record('{"id": 5, "extra": -Infinity}')],
            ["line 2", "malformed JSON"],
            id="infinity-literal",
        ),
        pytest.param(
            [COUNTED_SCHEMA, raw_record('{"id": 5, "name": "a\\ud800"}')],
            ["line 2", "malformed JSON"],
            id="lone-surrogate",
        ),
        pytest.param(
            [SCHEMA, raw_record("[1, 2]")],
            ["line 2", "stream 'people'", "the record is not a JSON object"],
            id="record-is-an-array",
        ),
        pytest.param(
            [schema_message("people", {**PEOPLE, "": {"type": "string"}}, ["id"])],
            ["line 1", "stream 'people'", "a property has an empty name"],
            id="property-with-an-empty-name",
        ),
        pytest.param(
            ['{"type": "SCHEMA", "stream": "people", "schema": 5, "key_properties": []}'],
            ["line 1", "stream 'people'", "`schema` is not a JSON object"],
            id="schema-not-an-object",
        ),
        pytest.param(
            [{**SCHEMA, "key_properties": "id"}],
            ["line 1", "stream 'people'", "`key_properties` is not a list of names: 'id'"],
            id="key-properties-not-a-list",
        ),
        pytest.param(
            [{"type": "SCHEMA", "schema": {"properties": {}}, "key_properties": []}],
            ["line 1", "`stream` is not a string"],
            id="schema-without-stream",
        ),
        pytest.param(
            [
                SCHEMA,
                {
                    "type": "BATCH",
                    "stream": "people",
                    "encoding": {"format": "jsonl"},
                    "manifest": "file:///tmp/a.jsonl",
                },
            ],
            ["line 2", "stream 'people'", "manifest is not a list of URLs"],
            id="batch-manifest-not-a-list",
        ),
    ],
)
def test_bad_input_names_line_stream_and_key(config, tmp_path, messages, expected):
    result = run_bad(config, tmp_path, messages)
    for text in expected:
        assert text in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("record_text", "refused"),
    [
        ('{"id": 1, "visits": %s}' % ("9" * 38), None),
        ('{"id": 1, "visits": -%s}' % ("9" * 38), None),
        ('{"id": 1, "visits": 1%s}' % ("0" * 38), "a 39-digit integer"),
        ('{"id": 1, "visits": -1%s}' % ("0" * 38), "a 39-digit integer"),
        ('{"id": 1, "balance": 999999999999999999999999999999999999.99}', None),
        ('{"id": 1, "balance": 1e36}', "is 1e+36, over the 36 digits"),
        # inside a VARIANT Snowflake keeps it as a DOUBLE: loaded, 17 digits kept
        ('{"id": 1, "extra": {"n": 1%s}}' % ("0" * 60), None),
    ],
)
def test_number_columns_take_38_digits(record_text, refused):
    """The boundary, checked on the validator: the local emulator's NUMBER holds 64-bit
    integers only, so 20 to 38 digits cannot be loaded end to end here."""
    validator = RecordValidator(COUNTED_SCHEMA["schema"], ["id"])
    if refused is None:
        assert validator.check(record_text.encode()) == (1,)
    else:
        with pytest.raises(RecordError, match=re.escape(refused)):
            validator.check(record_text.encode())


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
