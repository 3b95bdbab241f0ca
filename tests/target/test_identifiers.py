"""Identifiers: normalization, quoting, collisions, and no SQL injection through names."""

from __future__ import annotations

import pytest
from target_snowflake.naming import column_names, json_path, normalize, quote

from tests.target.conftest import (
    DATABASE,
    column_types,
    messages_text,
    query,
    record,
    run_target,
    run_target_process,
    schema_message,
    table_rows,
)

HOSTILE_STREAM = 'evil"; DROP TABLE SENTINEL; --'
HOSTILE_PROPERTIES = {
    "id": {"type": "integer"},
    "ID": {"type": ["null", "string"]},
    "Id": {"type": ["null", "string"]},
    'x"; DROP TABLE SENTINEL; --': {"type": ["null", "string"]},
    "it's": {"type": ["null", "string"]},
    "back\\slash": {"type": ["null", "string"]},
    "select": {"type": ["null", "string"]},
    "agent:os:version": {"type": ["null", "string"]},
    "1st": {"type": ["null", "string"]},
    "naïve": {"type": ["null", "string"]},
}


def test_normalize_is_deterministic_upper_case_and_safe():
    assert normalize("first_name") == "FIRST_NAME"
    assert normalize("agent:os:version") == "AGENT_OS_VERSION"
    assert normalize("1st") == "_1ST"
    assert normalize('a"b') == "A_B"
    assert quote('a"b') == '"a""b"'
    assert json_path("V", "r", 'a"b') == 'V:"r":"a""b"'


def test_colliding_names_get_stable_distinct_columns():
    names = column_names(["id", "ID", "Id", "i-d"])
    assert names["ID"] == "ID"  # the one already in normal form keeps it
    assert len(set(names.values())) == 4
    # The same names in another order map the same way.
    assert column_names(["i-d", "Id", "ID", "id"]) == names


def test_hostile_stream_and_property_names_load_into_quoted_columns(config, snowflake, schema):
    query(snowflake, f'CREATE SCHEMA IF NOT EXISTS {DATABASE}."{schema}"')
    query(snowflake, f'CREATE TABLE {DATABASE}."{schema}"."SENTINEL" ("A" INT)')
    values = {name: f"value of {name}" for name in HOSTILE_PROPERTIES if name != "id"}
    run_target(
        config,
        [
            schema_message(HOSTILE_STREAM, HOSTILE_PROPERTIES, ["id"]),
            record(HOSTILE_STREAM, {"id": 1, **values}),
        ],
    )
    table = normalize(HOSTILE_STREAM)
    assert table == "EVIL___DROP_TABLE_SENTINEL____"
    columns = column_names(HOSTILE_PROPERTIES)
    assert set(column_types(snowflake, schema, table)) == set(columns.values())
    order = list(values)
    selected = ", ".join(quote(columns[name]) for name in order)
    assert table_rows(snowflake, schema, table, selected) == [tuple(values[n] for n in order)]
    assert query(snowflake, f'SELECT COUNT(*) FROM {DATABASE}."{schema}"."SENTINEL"') == [(0,)]


def test_two_streams_normalizing_to_one_table_fail_clearly(config, tmp_path):
    props = {"id": {"type": "integer"}}
    text = messages_text(
        [schema_message("a-b", props, ["id"]), schema_message("a_b", props, ["id"])]
    )
    result = run_target_process(config, text, tmp_path)
    assert result.returncode != 0
    assert "streams 'a-b' and 'a_b' both normalize to table A_B" in result.stderr


@pytest.mark.parametrize("stream", ["SELECT", "order", "Table"])
def test_reserved_words_as_stream_names(config, snowflake, schema, stream):
    run_target(
        config,
        [schema_message(stream, {"group": {"type": "integer"}}), record(stream, {"group": 1})],
    )
    assert table_rows(snowflake, schema, stream.upper(), '"GROUP"') == [(1,)]
