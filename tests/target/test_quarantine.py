"""on_invalid_record: quarantine keeps refused records in `<TABLE>#QUARANTINE` (raw as
received, error, input line) and goes on; a STATE after them waits until they are in."""

from __future__ import annotations

import json
import time

from tests.target.conftest import (
    messages_text,
    query,
    record,
    run_target,
    schema_message,
    state,
    streaming_target,
    table_rows,
)

PEOPLE = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
COLUMNS = '"STREAM", "LINE", "BATCH_FILE", "BATCH_ROW", "ERROR", "RAW"'


def test_invalid_records_go_to_the_side_table_and_the_run_goes_on(config, snowflake, schema):
    config["on_invalid_record"] = "quarantine"
    bad_type = '{"type": "RECORD", "stream": "people", "record": {"id": 2, "name": 5.50}}'
    states = run_target(
        config,
        [
            schema_message("people", PEOPLE, ["id"]),  # line 1
            record("people", {"id": 1, "name": "a"}),
            bad_type,  # line 3: kept as sent, 5.50 included
            state({"n": 3}),
            record("people", {"name": "no key"}),  # line 5
            record("people", {"id": 3, "name": "c"}),
            state({"n": 6}),
        ],
    )
    assert states == [{"n": 6}]
    assert table_rows(snowflake, schema, "PEOPLE", '"ID", "NAME"') == [(1, "a"), (3, "c")]
    rows = table_rows(snowflake, schema, "PEOPLE#QUARANTINE", COLUMNS, order_by='"LINE"')
    assert [row[:4] for row in rows] == [("people", 3, None, None), ("people", 5, None, None)]
    assert "key {'id': 2}" in rows[0][4]
    assert "Expected `str | null`, got `float`" in rows[0][4]
    assert "$.name" in rows[0][4]
    assert rows[0][5] == '{"id": 2, "name": 5.50}'
    assert "missing key property 'id'" in rows[1][4]
    assert json.loads(rows[1][5]) == {"name": "no key"}
    received = query(
        snowflake,
        f'SELECT COUNT(*) FROM TARGET_TESTS."{schema}"."PEOPLE#QUARANTINE" '
        'WHERE "RECEIVED_AT" IS NOT NULL',
    )
    assert received == [(2,)]


def test_a_state_after_a_quarantined_record_waits_for_it(config, snowflake, schema, tmp_path):
    """Nothing else is pending, so only the quarantined record can hold the STATE back."""
    config["on_invalid_record"] = "quarantine"
    with streaming_target(config, tmp_path) as (process, lines):
        head = [
            schema_message("people", PEOPLE, ["id"]),
            record("people", {"id": 1, "name": 7}),
            state({"n": 2}),
        ]
        process.stdin.write(messages_text(head).encode())
        process.stdin.flush()
        time.sleep(3)  # the target has read it all by now
        assert lines.empty(), "STATE emitted before the quarantined record was loaded"
    assert [json.loads(lines.get())] == [{"n": 2}]
    rows = table_rows(snowflake, schema, "PEOPLE#QUARANTINE", '"LINE", "RAW"')
    assert rows == [(2, '{"id": 1, "name": 7}')]


def test_side_table_names_stay_within_255_characters_and_apart(config, snowflake, schema):
    """Two streams whose tables differ only near the 255-character limit get side tables
    of their own, each name cut with a hash of the whole table name."""
    config["on_invalid_record"] = "quarantine"
    streams = ["s" * 250 + "a", "s" * 250 + "b"]
    run_target(
        config,
        [
            *(schema_message(stream, PEOPLE, ["id"]) for stream in streams),
            *(record(stream, {"id": "x"}) for stream in streams),  # lines 3 and 4
        ],
    )
    names = [
        name
        for (name,) in query(
            snowflake,
            "SELECT TABLE_NAME FROM TARGET_TESTS.INFORMATION_SCHEMA.TABLES "
            f"WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME LIKE '%#QUARANTINE' ORDER BY 1",
        )
    ]
    assert len(names) == 2 and all(len(name) == 255 for name in names)
    rows = sorted(
        row for name in names for row in table_rows(snowflake, schema, name, '"STREAM", "LINE"')
    )
    assert rows == [(streams[0], 3), (streams[1], 4)]


def test_a_stream_named_like_a_side_table_loads_beside_it(config, snowflake, schema):
    """`people__quarantine` is a stream like any other: side tables carry the generated
    names' `#` marker, which no stream's table can, so neither takes the other's table."""
    config["on_invalid_record"] = "quarantine"
    states = run_target(
        config,
        [
            schema_message("people", PEOPLE, ["id"]),
            schema_message("people__quarantine", PEOPLE, ["id"]),
            record("people", {"id": 1, "name": 5}),  # line 3: quarantined
            record("people__quarantine", {"id": 7, "name": "q"}),
            record("people", {"id": 2, "name": "b"}),
            record("people__quarantine", {"id": 8, "name": 9}),  # line 6: quarantined
            state({"n": 6}),
        ],
    )
    assert states == [{"n": 6}]
    assert table_rows(snowflake, schema, "PEOPLE", '"ID", "NAME"') == [(2, "b")]
    assert table_rows(snowflake, schema, "PEOPLE__QUARANTINE", '"ID", "NAME"') == [(7, "q")]
    assert table_rows(snowflake, schema, "PEOPLE#QUARANTINE", '"STREAM", "LINE"') == [("people", 3)]
    side = table_rows(snowflake, schema, "PEOPLE__QUARANTINE#QUARANTINE", '"STREAM", "LINE"')
    assert side == [("people__quarantine", 6)]


def test_records_no_column_or_decoder_can_hold_are_quarantined_as_sent(config, snowflake, schema):
    """An integer over NUMBER(38,0)'s 38 digits, a number beyond a double, and a record
    nested deeper than the decoder goes are quarantined byte for byte."""
    config["on_invalid_record"] = "quarantine"
    properties = {**PEOPLE, "visits": {"type": ["null", "integer"]}, "extra": {}}
    big = '{"id": 2, "visits": 1' + "0" * 39 + "}"
    huge = '{"id": 3, "extra": [1e400]}'
    deep = '{"id": 4, "extra": ' + "[" * 3000 + "]" * 3000 + "}"
    states = run_target(
        config,
        [
            schema_message("people", properties, ["id"]),
            record("people", {"id": 1, "visits": 7}),
            *('{"type": "RECORD", "stream": "people", "record": ' + r + "}" for r in (big, huge)),
            '{"type": "RECORD", "stream": "people", "record": ' + deep + "}",  # line 5
            state({"n": 5}),
        ],
    )
    assert states == [{"n": 5}]
    assert table_rows(snowflake, schema, "PEOPLE", '"ID"') == [(1,)]
    rows = table_rows(snowflake, schema, "PEOPLE#QUARANTINE", '"LINE", "ERROR", "RAW"', '"LINE"')
    assert [(line, raw) for line, _, raw in rows] == [(3, big), (4, huge), (5, deep)]
    errors = [error for _, error, _ in rows]
    assert "key {'id': 2}" in errors[0] and "40-digit integer" in errors[0]
    assert "key {'id': 3}" in errors[1] and "beyond a double's range" in errors[1]
    assert "key {'id': 4}" in errors[2] and "nested 3001 levels deep" in errors[2]
