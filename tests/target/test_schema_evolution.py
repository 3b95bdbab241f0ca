"""Schema evolution: new columns, type changes real Snowflake accepts, key changes,
SCHEMA messages mid-stream. Each case checks the table's rows and column types."""

from __future__ import annotations

import json
import re

import pytest
from snowflake.connector.errors import ProgrammingError
from target_snowflake.connection import Connection
from target_snowflake.preflight import PreflightError
from target_snowflake.tables import Table
from target_snowflake.types import MAX_VARCHAR_LENGTH, VARCHAR, SnowflakeType

from tests.target.conftest import (
    DATABASE,
    column_types,
    query,
    record,
    run_target,
    schema_message,
    state,
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


def test_integer_to_number_keeps_the_number_column_until_a_value_needs_a_float(
    config, snowflake, schema
):
    """Integers under a schema now `number` still fit NUMBER(38,0): the column stays (a
    retype needs ownership). The first value it cannot hold exactly moves it to FLOAT
    before that value loads, so nothing is rounded."""
    run_target(
        config, [schema_message("s", {"id": INT, "v": INT}, ["id"]), record("s", {"id": 1, "v": 7})]
    )
    number_schema = schema_message("s", {"id": INT, "v": NUM}, ["id"])
    run_target(config, [number_schema, record("s", {"id": 2, "v": 8.0})])
    assert column_types(snowflake, schema, "S")["V"] == "NUMBER(0)"
    run_target(
        config,
        [number_schema, record("s", {"id": 3, "v": 9}), record("s", {"id": 4, "v": 2.5})],
    )
    assert column_types(snowflake, schema, "S")["V"] == "FLOAT"
    assert table_rows(snowflake, schema, "S", '"ID", "V"') == [
        (1, 7.0),
        (2, 8.0),
        (3, 9.0),
        (4, 2.5),
    ]


FLOATS = [0.30000000000000004, 1.5, 1e300, -2.5e-10, 123456789.12345678, 3.0]


def _float_column_retyped_to_varchar(config: dict, snowflake, schema: str) -> list[str]:
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": NUM}, ["id"])]
        + [record("s", {"id": i, "v": v}) for i, v in enumerate(FLOATS)],
    )
    run_target(
        config,
        [schema_message("s", {"id": INT, "v": STR}, ["id"]), record("s", {"id": 99, "v": "x"})],
    )
    assert column_types(snowflake, schema, "S")["V"] == "TEXT"
    return [v for _, v in table_rows(snowflake, schema, "S", '"ID", "V"')[: len(FLOATS)]]


def test_a_short_varchar_column_the_role_does_not_own_stops_the_run_naming_the_grant(
    config, snowflake, schema
):
    """Without ownership the column cannot be lengthened: the run stops before loading,
    emits no STATE, and says which table, column and grant."""
    table = f'"{DATABASE}"."{schema}"."S"'
    query(snowflake, f'CREATE TABLE {table} ("ID" NUMBER(38,0), "NAME" VARCHAR(5))')
    grant = f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO ROLE {config['role']}"
    query(snowflake, grant)
    messages = [
        schema_message("s", {"id": INT, "name": STR}, ["id"]),
        record("s", {"id": 1, "name": "a longer name"}),
        state({"done": True}),
    ]
    with pytest.raises(PreflightError) as stopped:
        run_target(config, messages)
    message = str(stopped.value)
    assert f"stream 's', table {table}, column NAME: lengthening it from VARCHAR(5)" in message
    assert f'(statement: ALTER TABLE {table} ALTER COLUMN "NAME" SET DATA TYPE' in message
    assert f'GRANT OWNERSHIP ON TABLE {table} TO ROLE "{config["role"]}"' in message
    assert table_rows(snowflake, schema, "S") == []
    # The statement the message names, run by an administrator, is all it takes.
    statement = re.search(r"GRANT OWNERSHIP .+? COPY CURRENT GRANTS", message)
    assert statement is not None, message
    query(snowflake, statement[0])
    assert run_target(config, messages) == [{"done": True}]
    assert table_rows(snowflake, schema, "S", '"ID", "NAME"') == [(1, "a longer name")]


def test_float_to_string_keeps_every_digit(config, snowflake, schema):
    """TO_VARCHAR(v, 'TME'): the text reads back as the same double (17 significant
    digits where the value needs them)."""
    texts = _float_column_retyped_to_varchar(config, snowflake, schema)
    assert [float(text) for text in texts] == FLOATS


@pytest.mark.xfail(
    strict=True,
    reason="fakesnow ignores the format of TO_VARCHAR(float, 'TME') and prints the shortest "
    "positional text ('1.5', '3.0'); Snowflake prints text-minimal scientific notation "
    "('1.5E0', '3E0') (docs/snowflake-emulator-gaps.md)",
)
def test_float_to_string_is_text_minimal_scientific_notation(config, snowflake, schema):
    texts = _float_column_retyped_to_varchar(config, snowflake, schema)
    assert all(re.fullmatch(r"-?\d(\.\d+)?E-?\d+", text) for text in texts), texts


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


def test_a_pre_existing_short_varchar_column_is_lengthened_before_longer_values_load(
    config, snowflake, schema
):
    """A table made by someone else with a VARCHAR(5) column (handed to the loader, as
    docs/snowflake-privileges.md says): Snowflake would refuse longer values (100078, and
    the strict local Snowflake does too), so the target lengthens the column first and
    loses nothing."""
    table = f'"{DATABASE}"."{schema}"."S"'
    query(snowflake, f'CREATE TABLE {table} ("ID" NUMBER(38,0), "NAME" VARCHAR(5))')
    query(snowflake, f"INSERT INTO {table} VALUES (1, 'short')")
    query(snowflake, f"GRANT OWNERSHIP ON TABLE {table} TO ROLE {config['role']}")
    with pytest.raises(ProgrammingError) as refused:  # what a load without the lengthening meets
        query(snowflake, f"INSERT INTO {table} VALUES (9, 'too long')")
    assert refused.value.errno == 100078
    states = run_target(
        config,
        [
            schema_message("s", {"id": INT, "name": STR}, ["id"]),
            record("s", {"id": 1, "name": "a longer name"}),
            record("s", {"id": 2, "name": "x" * 1000}),
            state({"done": True}),
        ],
    )
    assert states == [{"done": True}]
    assert table_rows(snowflake, schema, "S", '"ID", "NAME"') == [
        (1, "a longer name"),
        (2, "x" * 1000),
    ]
    length = query(
        snowflake,
        f"SELECT CHARACTER_MAXIMUM_LENGTH FROM {DATABASE}.INFORMATION_SCHEMA.COLUMNS"
        f" WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = 'S' AND COLUMN_NAME = 'NAME'",
    )
    assert length == [(MAX_VARCHAR_LENGTH,)]


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
