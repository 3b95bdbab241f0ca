"""Schema evolution: new columns, type changes real Snowflake accepts, key changes,
SCHEMA messages mid-stream. Each case checks the table's rows and column types."""

from __future__ import annotations

import json

import pytest
from target_snowflake.connection import Connection
from target_snowflake.tables import Table
from target_snowflake.types import VARCHAR, SnowflakeType

from tests.target.conftest import (
    DATABASE,
    column_types,
    query,
    record,
    run_target,
    schema_message,
    table_rows,
)

INT = {"type": ["null", "integer"]}
STR = {"type": ["null", "string"]}
NUM = {"type": ["null", "number"]}


def test_a_new_property_adds_a_column_and_old_rows_keep_null(config, snowflake, schema):
    run_target(config, [schema_message("s", {"id": INT}, ["id"]), record("s", {"id": 1})])
    run_target(
        config,
        [
            schema_message("s", {"id": INT, "extra": STR}, ["id"]),
            record("s", {"id": 2, "extra": "x"}),
        ],
    )
    assert table_rows(snowflake, schema, "S", '"ID", "EXTRA"') == [(1, None), (2, "x")]


def test_number_to_string_moves_the_column_to_varchar_keeping_values(config, snowflake, schema):
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": INT}, ["id"]), record("s", {"id": 1, "v": 42})],
    )
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": STR}, ["id"]), record("s", {"id": 2, "v": "abc"})],
    )
    assert column_types(snowflake, schema, "S")["V"] == "TEXT"
    assert table_rows(snowflake, schema, "S", '"ID", "V"') == [(1, "42"), (2, "abc")]
    # No column is left behind by the add/copy/drop/rename.
    assert set(column_types(snowflake, schema, "S")) == {"ID", "V"}


def test_integer_to_number_widens_to_float(config, snowflake, schema):
    run_target(
        config, [schema_message("s", {"id": INT, "v": INT}, ["id"]), record("s", {"id": 1, "v": 7})]
    )
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": NUM}, ["id"]), record("s", {"id": 2, "v": 2.5})],
    )
    assert column_types(snowflake, schema, "S")["V"] == "FLOAT"
    assert table_rows(snowflake, schema, "S", '"ID", "V"') == [(1, 7.0), (2, 2.5)]


def test_string_to_integer_keeps_the_wider_varchar_column(config, snowflake, schema):
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": STR}, ["id"]), record("s", {"id": 1, "v": "x"})],
    )
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": INT}, ["id"]), record("s", {"id": 2, "v": 5})],
    )
    assert column_types(snowflake, schema, "S")["V"] == "TEXT"  # columns never narrow
    assert table_rows(snowflake, schema, "S", '"ID", "V"') == [(1, "x"), (2, "5")]


def test_scalar_to_object_moves_the_column_to_variant(config, snowflake, schema):
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": STR}, ["id"]), record("s", {"id": 1, "v": "x"})],
    )
    obj = {"type": ["null", "object"], "properties": {"a": INT}}
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": obj}, ["id"]), record("s", {"id": 2, "v": {"a": 1}})],
    )
    assert column_types(snowflake, schema, "S")["V"] == "VARIANT"
    rows = table_rows(snowflake, schema, "S", '"ID", TO_JSON("V")')
    assert [(key, json.loads(value)) for key, value in rows] == [(1, "x"), (2, {"a": 1})]


def test_schema_mid_stream_flushes_old_records_first_so_the_last_still_wins(
    config, snowflake, schema
):
    states = run_target(
        config,
        [
            schema_message("s", {"id": INT, "v": INT}, ["id"]),
            record("s", {"id": 1, "v": 1}),
            record("s", {"id": 2, "v": 2}),
            schema_message("s", {"id": INT, "v": STR, "w": STR}, ["id"]),
            record("s", {"id": 1, "v": "one", "w": "new"}),
            {"type": "STATE", "value": {"done": True}},
        ],
    )
    assert states == [{"done": True}]
    assert table_rows(snowflake, schema, "S", '"ID", "V", "W"') == [
        (1, "one", "new"),
        (2, "2", None),
    ]


def test_a_changed_key_merges_on_the_new_key(config, snowflake, schema):
    props = {"id": INT, "email": STR, "name": STR}
    run_target(
        config,
        [schema_message("s", props, ["id"]), record("s", {"id": 1, "email": "a@x", "name": "a"})],
    )
    # The key changes (mid-stream too): rows loaded under the old key stay; from here on
    # MERGE matches on the new key.
    run_target(
        config,
        [
            schema_message("s", props, ["email"]),
            record("s", {"id": 10, "email": "a@x", "name": "a2"}),
            record("s", {"id": 11, "email": "b@x", "name": "b"}),
            schema_message("s", props, ["id", "email"]),
            record("s", {"id": 11, "email": "b@x", "name": "b2"}),
        ],
    )
    assert table_rows(snowflake, schema, "S", '"ID", "EMAIL", "NAME"') == [
        (10, "a@x", "a2"),
        (11, "b@x", "b2"),
    ]


@pytest.mark.parametrize(
    "done_before_the_kill",
    [
        pytest.param(['ADD COLUMN "V#RETYPE" VARCHAR'], id="killed-before-the-copy"),
        pytest.param(
            ['ADD COLUMN "V#RETYPE" VARCHAR', 'UPDATE SET "V#RETYPE" = "V"::VARCHAR'],
            id="killed-before-the-drop",
        ),
        pytest.param(
            [
                'ADD COLUMN "V#RETYPE" VARCHAR',
                'UPDATE SET "V#RETYPE" = "V"::VARCHAR',
                'DROP COLUMN "V"',
            ],
            id="killed-before-the-rename",
        ),
    ],
)
def test_a_type_change_killed_midway_is_completed_by_the_next_run(
    config, snowflake, schema, done_before_the_kill
):
    """Replays the first steps of a retype (as a killed run left them), then runs again."""
    run_target(
        config, [schema_message("s", {"id": INT, "v": INT}, ["id"]), record("s", {"id": 1, "v": 3})]
    )
    table = f'{DATABASE}."{schema}"."S"'
    for step in done_before_the_kill:
        if step.startswith("UPDATE"):
            query(snowflake, f"UPDATE {table} {step.removeprefix('UPDATE ')}")
        else:
            query(snowflake, f"ALTER TABLE {table} {step}")
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": STR}, ["id"]), record("s", {"id": 2, "v": "b"})],
    )
    assert set(column_types(snowflake, schema, "S")) == {"ID", "V"}
    assert table_rows(snowflake, schema, "S", '"ID", "V"') == [(1, "3"), (2, "b")]


def test_properties_named_like_generated_names_load_and_survive_a_type_change(
    config, snowflake, schema
):
    """A user's column named like the target's own (`V__RETYPE`, `S__LOAD_X`) is data: a
    type change of `V` neither drops it nor mistakes it for a leftover."""
    properties = {"id": INT, "v": INT, "v__retype": STR, "s__load_x": STR, "s__overwrite": STR}
    first = {"id": 1, "v": 3, "v__retype": "kept", "s__load_x": "a", "s__overwrite": "b"}
    run_target(config, [schema_message("s", properties, ["id"]), record("s", first)])
    run_target(
        config,
        [
            schema_message("s", {**properties, "v": STR}, ["id"]),
            record("s", {**first, "id": 2, "v": "b"}),
        ],
    )
    assert table_rows(snowflake, schema, "S", '"ID", "V", "V__RETYPE", "S__LOAD_X"') == [
        (1, "3", "kept", "a"),
        (2, "b", "kept", "a"),
    ]


def test_retype_uses_only_statements_real_snowflake_accepts(config, snowflake, schema):
    """The retype never issues ALTER COLUMN ... SET DATA TYPE (the emulator accepts it,
    Snowflake refuses it between types)."""
    statements: list[str] = []
    connection = Connection(config)
    original = connection.execute

    def recording(sql: str, params=None):
        statements.append(sql)
        return original(sql, params)

    connection.execute = recording  # type: ignore[method-assign]
    table = Table(connection, schema, "R")
    table.ensure({"ID": SnowflakeType("NUMBER", 0), "V": SnowflakeType("NUMBER", 0)})
    table.ensure({"ID": SnowflakeType("NUMBER", 0), "V": VARCHAR})
    connection.close()
    assert not [s for s in statements if "SET DATA TYPE" in s.upper() or " TYPE " in s.upper()]
    assert any("RENAME COLUMN" in s for s in statements)
