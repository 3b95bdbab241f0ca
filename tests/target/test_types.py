"""JSON Schema types to Snowflake columns, values as loaded, and record validation."""

from __future__ import annotations

import datetime
import json
import logging
from decimal import Decimal

import pytest
from target_snowflake.types import (
    FLOAT,
    VARCHAR,
    VARIANT,
    SnowflakeType,
    convert,
    from_information_schema,
    from_jsonschema,
    number_fits,
    roomier_number,
    text_length,
    widen,
)
from target_snowflake.validation import RecordError, RecordValidator

from tests.target.conftest import column_types, record, run_target, schema_message, table_rows

PROPERTIES = {
    "id": {"type": "integer"},
    "s": {"type": ["null", "string"]},
    "ts": {"type": ["null", "string"], "format": "date-time"},
    "d": {"type": ["null", "string"], "format": "date"},
    "t": {"type": ["null", "string"], "format": "time"},
    "n": {"type": ["null", "number"]},
    "money": {"type": ["null", "number"], "multipleOf": 0.01},
    "b": {"type": ["null", "boolean"]},
    "o": {"type": ["null", "object"], "properties": {"a": {"type": "integer"}}},
    "a": {"type": ["null", "array"], "items": {"type": "string"}},
    "u": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    "any": {},
}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "VARCHAR(134217728)"),
        ({"type": ["string", "null"], "format": "date-time"}, "TIMESTAMP_TZ"),
        ({"type": "string", "format": "date"}, "DATE"),
        ({"type": "string", "format": "time"}, "TIME"),
        ({"type": "integer"}, "NUMBER(38,0)"),
        ({"type": ["integer", "number"]}, "FLOAT"),
        ({"type": "number"}, "FLOAT"),
        ({"type": "number", "multipleOf": 0.001}, "NUMBER(38,3)"),
        ({"type": "number", "multipleOf": 0.5}, "FLOAT"),
        ({"type": "boolean"}, "BOOLEAN"),
        ({"type": "object"}, "VARIANT"),
        ({"type": "array"}, "VARIANT"),
        ({"type": ["string", "integer"]}, "VARIANT"),
        ({}, "VARIANT"),
        (
            {"anyOf": [{"type": "string", "format": "date-time"}, {"type": ["string", "null"]}]},
            "VARCHAR(134217728)",
        ),
    ],
)
def test_jsonschema_to_snowflake_type(schema, expected):
    assert from_jsonschema(schema).sql == expected


def test_timestamp_type_setting():
    schema = {"type": "string", "format": "date-time"}
    assert from_jsonschema(schema, "NTZ").sql == "TIMESTAMP_NTZ"
    assert from_jsonschema(schema, "LTZ").sql == "TIMESTAMP_LTZ"


def test_columns_only_widen():
    number = SnowflakeType("NUMBER", 0)
    assert widen(number, VARCHAR) == VARCHAR
    assert widen(VARCHAR, number) == VARCHAR
    assert widen(FLOAT, number) == FLOAT
    assert widen(SnowflakeType("DATE"), SnowflakeType("TIMESTAMP_TZ")).name == "TIMESTAMP_TZ"
    assert widen(SnowflakeType("BOOLEAN"), number) == VARCHAR
    assert widen(VARIANT, VARCHAR) == VARIANT


def test_an_existing_number_keeps_its_type_until_a_value_needs_more():
    """For a schema that allows floats or a larger scale, a NUMBER column stays as it is
    (a retype needs ownership of the table); a value it cannot hold exactly moves it to
    the schema's type (`roomier_number`) before that value loads."""
    integer, cents = SnowflakeType("NUMBER", 0), SnowflakeType("NUMBER", 2)
    assert widen(integer, FLOAT) == integer
    assert widen(integer, cents) == integer
    assert widen(cents, integer) == cents
    assert roomier_number(integer, FLOAT) == FLOAT
    assert roomier_number(integer, cents) == cents
    assert roomier_number(cents, integer) is None
    assert roomier_number(integer, integer) is None
    assert roomier_number(FLOAT, integer) is None
    assert roomier_number(integer, VARCHAR) is None


@pytest.mark.parametrize(
    ("value", "scale", "fits"),
    [
        (b"null", 0, True),
        (b'"a string: with validate_records off, the load names it"', 0, True),
        (b"-7", 0, True),
        (b"8.0", 0, True),
        (b"-0.0", 0, True),
        (b"2.5", 0, False),
        (b"2.5", 1, True),
        (b"1.50", 1, True),
        (b"0.05", 1, False),
        (b"1e-5", 5, True),
        (b"12.345e2", 0, False),
        (b"12.345e3", 0, True),
        (b"1e20", 0, True),
        (b"1E38", 0, False),
        (b"9" * 38, 0, True),
        (b"9" * 39, 0, False),
        (b"9" * 37, 1, True),
        (b"9" * 38, 1, False),
        (b"1.0000000000000000000000000000000001", 0, False),  # beyond a double's digits
    ],
)
def test_a_number_fits_a_number_column_only_if_held_exactly(value, scale, fits):
    assert number_fits(value, scale) is fits


def test_an_existing_varchar_keeps_its_length_whatever_the_schema_says():
    """A pre-existing VARCHAR(n) is not lengthened for the schema's sake (ALTER needs
    ownership of the table): only a longer value lengthens it (test_existing_tables.py),
    and a scalar of another type loads into it as text."""
    short = from_information_schema("TEXT", None, 10)
    assert short.sql == "VARCHAR(10)"
    assert widen(short, VARCHAR) == short
    assert widen(short, SnowflakeType("NUMBER", 0)) == short
    assert widen(short, SnowflakeType("TIMESTAMP_TZ")) == short
    assert widen(from_information_schema("VARCHAR", None, None), VARCHAR).sql == (
        "VARCHAR(16777216)"
    )
    assert widen(short, VARIANT) == VARIANT
    assert widen(VARCHAR, VARCHAR) == VARCHAR


@pytest.mark.parametrize(
    ("value", "length"),
    [
        (b'"abc"', 3),
        (b'"h\\u00e9llo \\"x\\""', 9),  # escapes are one character each
        ('"éé"'.encode(), 2),  # characters, not bytes
        (b"null", 0),
        (b"12345678901234567890", 20),
        (b"true", 4),
        (b"1e5", 25),  # the text of a double may be longer than its JSON: a bound
        (b"-0.5", 25),
        (b'{"a": [1, 2]}', 13),
    ],
)
def test_text_length_is_what_a_value_needs_of_a_varchar_column(value, length):
    assert text_length(value) == length


def test_conversions_to_varchar_spell_out_their_format():
    """Every digit and fraction of a second survives a type change to VARCHAR whatever
    the session's output formats are."""
    for name, pattern in [
        ("TIMESTAMP_TZ", "FF9TZH:TZM"),
        ("TIMESTAMP_NTZ", "FF9'"),
        ("TIMESTAMP_LTZ", "FF9TZH:TZM"),
        ("DATE", "'YYYY-MM-DD'"),
        ("TIME", "HH24:MI:SS.FF9"),
        ("FLOAT", "'TME'"),
    ]:
        sql = convert('"C"', SnowflakeType(name), VARCHAR)
        assert sql.startswith('TO_VARCHAR("C", ') and pattern in sql, sql
    assert convert('"C"', SnowflakeType("NUMBER", 2), VARCHAR) == '"C"::VARCHAR(134217728)'


def test_every_type_loads_into_its_column(config, snowflake, schema):
    row = {
        "id": 1,
        "s": "text",
        "ts": "2024-01-02T03:04:05.123456+02:00",
        "d": "2024-05-06",
        "t": "10:11:12",
        "n": 1.25,
        "money": 12.34,
        "b": True,
        "o": {"a": 1},
        "a": ["x", "y"],
        "u": 5,
        "any": {"deep": [1, {"x": None}]},
    }
    run_target(config, [schema_message("typed", PROPERTIES, ["id"]), record("typed", row)])
    types = column_types(snowflake, schema, "TYPED")
    assert types == {
        "ID": "NUMBER(0)",
        "S": "TEXT",
        "TS": "TIMESTAMP_TZ",
        "D": "DATE",
        "T": "TIME",
        "N": "FLOAT",
        "MONEY": "NUMBER(2)",
        "B": "BOOLEAN",
        "O": "VARIANT",
        "A": "VARIANT",
        "U": "VARIANT",
        "ANY": "VARIANT",
    }
    (loaded,) = table_rows(
        snowflake,
        schema,
        "TYPED",
        '"S", "TS", "D", "T", "N", "MONEY", "B", TO_JSON("O"), TO_JSON("A"), TO_JSON("ANY")',
    )
    assert loaded[0] == "text"
    assert loaded[1] == datetime.datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=datetime.UTC)
    assert loaded[2:7] == (
        datetime.date(2024, 5, 6),
        datetime.time(10, 11, 12),
        1.25,
        Decimal("12.34"),
        True,
    )
    assert [json.loads(v) for v in loaded[7:]] == [{"a": 1}, ["x", "y"], {"deep": [1, {"x": None}]}]


TS = "2024-01-02T03:04:05+02:00"


def test_ntz_columns_hold_the_instant_in_utc(config, snowflake, schema):
    config["timestamp_type"] = "NTZ"
    props = {"id": {"type": "integer"}, "ts": {"type": "string", "format": "date-time"}}
    run_target(
        config,
        [
            schema_message("ntz", props, ["id"]),
            record("ntz", {"id": 1, "ts": TS}),
        ],
    )
    assert table_rows(snowflake, schema, "NTZ", '"TS"') == [
        (datetime.datetime(2024, 1, 2, 1, 4, 5),)
    ]


def check(schema: dict, record_: dict, keys=("id",)) -> tuple:
    return RecordValidator({"properties": schema}, list(keys)).check(json.dumps(record_).encode())


@pytest.mark.parametrize(
    ("record_", "message"),
    [
        ({"id": 1, "ts": "yesterday"}, "$.ts"),
        ({"id": 1, "d": "2024-13-45"}, "$.d"),
        ({"id": 1, "b": "true"}, "Expected `bool | null`, got `str`"),
        ({"id": 1, "o": {"a": "x"}}, "$.o.a"),
        ({"id": 1, "a": ["x", 1]}, "$.a[1]"),
        ({"id": "1"}, "$.id"),
    ],
)
def test_validation_names_the_failing_property(record_, message):
    with pytest.raises(RecordError) as error:
        check(PROPERTIES, record_)
    assert message in str(error.value)
    assert error.value.key == {"id": record_["id"]}


def test_validation_checks_constraints_msgspec_expresses():
    schema = {
        "id": {"type": "integer", "minimum": 1},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$", "maxLength": 3},
        "kind": {"type": "string", "enum": ["a", "b"]},
    }
    assert check(schema, {"id": 1, "code": "ABC", "kind": "a"}) == (1,)
    for bad in ({"id": 0}, {"id": 1, "code": "abc"}, {"id": 1, "kind": "c"}):
        with pytest.raises(RecordError):
            check(schema, bad)


def test_schemas_msgspec_cannot_express_fall_back_to_jsonschema():
    schema = {
        "id": {"type": "integer"},
        "shape": {
            "anyOf": [
                {"type": "object", "properties": {"r": {"type": "number"}}, "required": ["r"]},
                {"type": "object", "properties": {"w": {"type": "number"}}, "required": ["w"]},
            ]
        },
        'odd"name': {"type": "integer"},
    }
    assert check(schema, {"id": 1, "shape": {"w": 2}, 'odd"name': 3}) == (1,)
    with pytest.raises(RecordError, match="shape"):
        check(schema, {"id": 1, "shape": {"h": 2}})
    with pytest.raises(RecordError, match="odd"):
        check(schema, {"id": 1, 'odd"name': "x"})


def test_without_validation_only_keys_are_checked():
    validator = RecordValidator({"properties": PROPERTIES}, ["id"], validate=False)
    assert validator.check(b'{"id": 3, "b": "not a bool"}') == (3,)
    with pytest.raises(RecordError, match="missing key property 'id'"):
        validator.check(b'{"b": true}')


def test_stream_maps_still_apply(config, snowflake, schema):
    config["stream_maps"] = {"people": {"name": "name.upper()", "secret": None}}
    props = {"id": {"type": "integer"}, "name": {"type": "string"}, "secret": {"type": "string"}}
    run_target(
        config,
        [
            schema_message("people", props, ["id"]),
            record("people", {"id": 1, "name": "ada", "secret": "s"}),
        ],
    )
    assert set(column_types(snowflake, schema, "PEOPLE")) == {"ID", "NAME"}
    assert table_rows(snowflake, schema, "PEOPLE", '"ID", "NAME"') == [(1, "ADA")]


@pytest.mark.xfail(
    reason="emulator gap: fakesnow parses JSON numbers in a VARIANT as DOUBLE (and integers "
    "as INT64), so digits beyond double precision are lost; Snowflake keeps fixed-point "
    "values up to 38 digits (see docs/snowflake-emulator-gaps.md)",
    strict=True,
)
def test_numbers_keep_every_digit(config, snowflake, schema):
    props = {
        "id": {"type": "integer"},
        "money": {"type": "number", "multipleOf": 0.01},
        "big": {"type": "integer"},
    }
    raw = '{"id": 1, "money": 12345678901234567.89, "big": 123456789012345678901234567890}'
    line = '{"type": "RECORD", "stream": "precise", "record": ' + raw + "}"
    run_target(config, [schema_message("precise", props, ["id"]), line])
    assert table_rows(snowflake, schema, "PRECISE", '"MONEY", "BIG"') == [
        (Decimal("12345678901234567.89"), 123456789012345678901234567890)
    ]


def test_query_tag_is_set_at_connect_time(config, snowflake, schema):
    """QUERY_TAG goes in the connect-time session parameters (ALTER SESSION SET QUERY_TAG
    is an emulator gap); the emulator accepts it but keeps no query history to check."""
    config["query_tag"] = "target-snowflake-test"
    run_target(
        config, [schema_message("tagged", {"id": {"type": "integer"}}), record("tagged", {"id": 1})]
    )
    assert table_rows(snowflake, schema, "TAGGED") == [(1,)]


def test_ltz_columns_keep_the_instant(config, snowflake, schema, caplog):
    config["timestamp_type"] = "LTZ"
    props = {"id": {"type": "integer"}, "ts": {"type": "string", "format": "date-time"}}
    with caplog.at_level(logging.DEBUG, logger="target_snowflake.connection"):
        run_target(
            config, [schema_message("ltz", props, ["id"]), record("ltz", {"id": 1, "ts": TS})]
        )
    # The emulator reports a TIMESTAMP_LTZ column as TIMESTAMP_TZ
    # (docs/snowflake-emulator-gaps.md), so the type is checked in the DDL sent.
    (create,) = [m for m in caplog.messages if m.startswith("SQL: CREATE TABLE") and "LTZ" in m]
    assert '"TS" TIMESTAMP_LTZ' in create
    (loaded,) = table_rows(snowflake, schema, "LTZ", '"TS"')
    assert loaded[0] == datetime.datetime(2024, 1, 2, 1, 4, 5, tzinfo=datetime.UTC)


def test_records_load_with_validation_off(config, snowflake, schema):
    config["validate_records"] = False
    props = {"id": {"type": "integer"}, "n": {"type": ["null", "integer"]}}
    run_target(config, [schema_message("loose", props, ["id"]), record("loose", {"id": 1, "n": 2})])
    assert table_rows(snowflake, schema, "LOOSE") == [(1, 2)]
