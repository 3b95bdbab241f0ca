"""Loading into tables someone else created: another loader (MeltanoLabs' or PipelineWise's
target-snowflake), dbt or an administrator. The target issues no DDL the data does not
need, so a role with SELECT, INSERT, UPDATE and DELETE on such a table loads it; a value
longer than a column's declared VARCHAR(n) lengthens that column (once); a failed
statement names the stream, the table, the column and the statement.

The strict local Snowflake enforces table privileges and logs every statement
(`statements(server)`), which is what these tests count DDL in.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from tests.target.conftest import (
    DATABASE,
    column_types,
    control,
    messages_text,
    query,
    record,
    run_target_process,
    schema_message,
    state,
    statements,
    table_rows,
)

DATA = Path(__file__).parents[1] / "data" / "existing_tables"
LOAD_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
DDL = ("CREATE", "ALTER", "DROP", "TRUNCATE", "COMMENT")


def create_tables(snowflake, role: str, schema: str, sql: str) -> list[str]:
    """As the administrator: run CREATE TABLE statements (`{schema}` filled in) and grant
    `role` exactly the load privileges on each table. Returns the tables' qualified names."""
    tables = []
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    for statement in "\n".join(lines).format(schema=schema).split(";"):
        if statement.strip():
            query(snowflake, statement)
            tables.append(statement.split("CREATE TABLE", 1)[1].split("(", 1)[0].strip())
    for table in tables:
        query(snowflake, f"GRANT {LOAD_PRIVILEGES} ON TABLE {table} TO ROLE {role}")
    return tables


# The session's temporary tables: each batch's, an overwrite's, the startup check's.
TEMPORARY_TABLES = re.compile(r'"[^"]*#(LOAD_[0-9a-f]+|OVERWRITE|CHECK)"')


def ddl_statements(server: dict) -> list[str]:
    """DDL the target ran since the log was cleared, but for the session's temporary
    stage and tables."""
    return [
        entry["sql"]
        for entry in statements(server)
        if entry["kind"].startswith(DDL)
        and "TEMPORARY" not in entry["kind"]
        and not TEMPORARY_TABLES.search(entry["sql"])
    ]


def test_tables_other_loaders_made_load_with_no_ddl_and_only_load_privileges(
    config, snowflake, snowflake_server, schema, tmp_path
):
    """Three tables shaped as other targets leave them (a VARCHAR(16777216) primary key,
    TIMESTAMP_NTZ, a TEXT column the stream now sends integers for, a table named ORDER),
    on which the role holds only SELECT, INSERT, UPDATE and DELETE: every record loads,
    the STATEs go out, and the target runs no DDL on them."""
    tables = create_tables(
        snowflake,
        config["role"],
        schema,
        (DATA / "made_by_other_loaders.sql").read_text(),
    )
    control(snowflake_server, "/strict/log/clear", {})
    inputs = ["existing_table.singer", "existing_table_alter.singer", "order.singer"]
    text = "".join((DATA / name).read_text() for name in inputs)
    result = run_target_process(config, text, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states[-1] == {"bookmarks": {"ORDER": {"col_ts": "2024-03-01T10:00:00Z"}}}
    assert ddl_statements(snowflake_server) == []
    assert [s for s in statements(snowflake_server) if s["outcome"] != "ok"] == []

    assert table_rows(
        snowflake,
        schema,
        "EXISTING_TABLE",
        "ID, COL_STR, COL_TS, COL_INT, COL_BOOL, COL_VARIANT, _SDC_DELETED_AT",
    ) == [
        ("a-1", "first, updated", datetime(2024, 3, 3, 10), 6, False, None, None),
        ("a-2", "second", datetime(2024, 3, 2, 10), -7, None, None, None),
    ]
    rows = table_rows(
        snowflake,
        schema,
        "EXISTING_TABLE_ALTER",
        "ID, COL_STR, COL_TS, COL_INT, COL_BOOL, TO_JSON(COL_VARIANT)",
    )
    assert [(*row[:5], json.loads(row[5])) for row in rows] == [
        ("b-1", "x", datetime(2024, 3, 1, 10), "123456789012", True, {"key": "val", "n": [1, 2]}),
        ("b-2", None, None, "0", False, {}),
    ]
    rows = table_rows(snowflake, schema, "ORDER", "ID, COL_STR, COL_INT, TO_JSON(COL_VARIANT)")
    assert [(*row[:3], json.loads(row[3])) for row in rows] == [
        ("o-1", "select", "1", {"from": "where"})
    ]
    # The tables keep the types their creator declared.
    assert column_types(snowflake, schema, "EXISTING_TABLE_ALTER")["COL_INT"] == "TEXT"
    assert len(tables) == 3


PEOPLE = {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}
PEOPLE_TABLE = """CREATE TABLE "TARGET_TESTS"."{schema}"."PEOPLE" (
    ID NUMBER(38,0) NOT NULL, NAME VARCHAR, _SDC_DELETED_AT TIMESTAMP_TZ,
    _SDC_TABLE_VERSION NUMBER(38,0), PRIMARY KEY (ID)
)"""


@pytest.mark.parametrize(
    ("settings", "messages", "expected"),
    [
        pytest.param(
            {"hard_delete": True},
            [
                record("people", {"id": 1, "name": "a"}),
                record("people", {"id": 2, "name": "b"}),
                record("people", {"id": 1, "name": "a2"}),
                record("people", {"id": 2, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
            ],
            [(1, "a2"), (9, "before the run")],
            id="upsert-hard-delete",
        ),
        pytest.param(
            {"load_method": "append-only"},
            # Distinct keys: the local Snowflake enforces PRIMARY KEY, Snowflake does not.
            [record("people", {"id": 1, "name": "a"}), record("people", {"id": 2, "name": "b"})],
            [(1, "a"), (2, "b"), (9, "before the run")],
            id="append-only",
        ),
        pytest.param(
            {"load_method": "overwrite"},
            [record("people", {"id": 3, "name": "c"})],
            [(3, "c")],
            id="overwrite",
        ),
        pytest.param(
            {"hard_delete": True},
            [
                {"type": "ACTIVATE_VERSION", "stream": "people", "version": 7},
                record("people", {"id": 3, "name": "c"}, version=7),
                {"type": "ACTIVATE_VERSION", "stream": "people", "version": 7},
            ],
            [(3, "c")],
            id="activate-version",
        ),
    ],
)
def test_each_load_method_needs_only_select_insert_update_delete(
    config, snowflake, snowflake_server, schema, tmp_path, settings, messages, expected
):
    """Upserts with deletes, appends, overwrites and ACTIVATE_VERSION deletes, into a
    table an administrator created (holding a row the run replaces or deletes) and granted
    the role only the four load privileges on: no DDL on it, no refused statement."""
    (table,) = create_tables(snowflake, config["role"], schema, PEOPLE_TABLE)
    query(snowflake, f"INSERT INTO {table} (ID, NAME) VALUES (9, 'before the run')")
    control(snowflake_server, "/strict/log/clear", {})
    text = messages_text([schema_message("people", PEOPLE, ["id"]), *messages, state({"s": 1})])
    result = run_target_process({**config, **settings}, text, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"s": 1}]
    assert ddl_statements(snowflake_server) == []
    assert [s for s in statements(snowflake_server) if s["outcome"] != "ok"] == []
    assert table_rows(snowflake, schema, "PEOPLE", "ID, NAME", "1, 2") == expected


def varchar_lengths(snowflake, schema: str, table: str) -> dict[str, int]:
    rows = query(
        snowflake,
        f"SELECT COLUMN_NAME, CHARACTER_MAXIMUM_LENGTH FROM {DATABASE}.INFORMATION_SCHEMA.COLUMNS"
        f" WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = '{table}' AND DATA_TYPE = 'TEXT'",
    )
    return dict(rows)


def test_a_value_longer_than_a_declared_varchar_lengthens_that_column_once(
    config, snowflake, snowflake_server, schema, tmp_path
):
    """VARCHAR(8) and VARCHAR(4) columns of an administrator's table (handed over: ALTER
    needs ownership). The first batch fits; the second holds a 24-character NAME, the third
    a longer one: one ALTER lengthens NAME, after the first batch loaded and before the
    second; NOTE (8 characters of 2 bytes each, JSON escapes) and CODE (integers of up to
    4 digits into text) keep their lengths."""
    table = f'"{DATABASE}"."{schema}"."NOTES"'
    query(
        snowflake,
        f"CREATE TABLE {table} (ID NUMBER(38,0), NAME VARCHAR(8), NOTE VARCHAR(8), "
        "CODE VARCHAR(4))",
    )
    query(snowflake, f"GRANT OWNERSHIP ON TABLE {table} TO ROLE {config['role']}")
    properties = {
        "id": {"type": "integer"},
        "name": {"type": ["null", "string"]},
        "note": {"type": ["null", "string"]},
        "code": {"type": ["null", "integer"]},
    }
    rows = [
        (1, "short", "\u00e9" * 8, 1234),
        (2, "eight ch", '"q" \\ \t', -123),
        (3, "a name longer than eight", None, 7),
        (4, "tiny", "n\u00famero", None),
        (5, "x" * 1000, "", 0),
    ]
    messages = [
        record("notes", dict(zip(["id", "name", "note", "code"], row, strict=True))) for row in rows
    ]
    control(snowflake_server, "/strict/log/clear", {})
    text = messages_text([schema_message("notes", properties, ["id"]), *messages, state({"s": 1})])
    result = run_target_process({**config, "batch_size_rows": 2}, text, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"s": 1}]
    log = [entry["sql"] for entry in statements(snowflake_server)]
    assert ddl_statements(snowflake_server) == [
        f'ALTER TABLE {table} ALTER COLUMN "NAME" SET DATA TYPE VARCHAR(134217728)'
    ]
    merges = [i for i, sql in enumerate(log) if sql.startswith("MERGE")]
    alter = next(i for i, sql in enumerate(log) if sql.startswith("ALTER"))
    assert len(merges) == 3 and merges[0] < alter < merges[1]
    assert varchar_lengths(snowflake, schema, "NOTES") == {
        "NAME": 134_217_728,
        "NOTE": 8,
        "CODE": 4,
    }
    expected = [
        (id_, name, note, None if code is None else str(code)) for id_, name, note, code in rows
    ]
    assert table_rows(snowflake, schema, "NOTES", "ID, NAME, NOTE, CODE") == expected


@pytest.mark.parametrize("fraction", [False, True], ids=["integers", "a-fraction"])
def test_a_number_column_loads_a_number_schema_until_a_value_needs_a_float(
    config, snowflake, snowflake_server, schema, tmp_path, fraction
):
    """A NUMBER(38,0) column (a tap that typed the field `integer` made it) and a stream
    whose schema now says `number`: integers, also written 8.0 or 1e+16, load with no DDL
    and only load privileges. A value with a fraction needs the column retyped to FLOAT
    (ALTER: ownership); without ownership the run stops naming the column and the GRANT,
    before anything is rounded or a STATE goes out."""
    table = f'"{DATABASE}"."{schema}"."AMOUNTS"'
    create_tables(
        snowflake, config["role"], schema, f"CREATE TABLE {table} (ID NUMBER(38,0), V NUMBER(38,0))"
    )
    values = [7, 8.0, 1e16, *([2.5] if fraction else [])]
    properties = {"id": {"type": "integer"}, "v": {"type": ["null", "number"]}}
    messages = [record("amounts", {"id": i, "v": v}) for i, v in enumerate(values)]
    control(snowflake_server, "/strict/log/clear", {})
    text = messages_text(
        [schema_message("amounts", properties, ["id"]), *messages, state({"s": 1})]
    )
    result = run_target_process(config, text, tmp_path)
    if fraction:  # the retype was tried, and refused
        assert ddl_statements(snowflake_server) == [
            f'ALTER TABLE {table} ADD COLUMN "V#RETYPE" FLOAT'
        ]
        assert result.returncode != 0 and result.states == []
        assert f"table {table}, column V: " in result.stderr
        assert "GRANT OWNERSHIP" in result.stderr
        assert table_rows(snowflake, schema, "AMOUNTS") == []
    else:
        assert result.returncode == 0, result.stderr[-3000:]
        assert ddl_statements(snowflake_server) == []
        assert result.states == [{"s": 1}]
        assert table_rows(snowflake, schema, "AMOUNTS", "ID, V") == [
            (0, 7),
            (1, 8),
            (2, 10**16),
        ]
        assert column_types(snowflake, schema, "AMOUNTS")["V"] == "NUMBER(0)"


@pytest.mark.parametrize(
    ("grant", "column", "statement"),
    [
        pytest.param(
            LOAD_PRIVILEGES,
            "ID",
            'ALTER TABLE {table} ALTER COLUMN "ID"',
            id="no-ownership-to-lengthen",
        ),
        pytest.param(
            "OWNERSHIP",
            "ID",
            'ALTER TABLE {table} ALTER COLUMN "ID"',
            id="lengthening-refused",
        ),
        pytest.param(
            LOAD_PRIVILEGES, "EXTRA", 'ALTER TABLE {table} ADD COLUMN "EXTRA"', id="new-column"
        ),
        pytest.param("SELECT, INSERT", None, "MERGE INTO {table}", id="load-refused"),
    ],
)
def test_a_failed_statement_names_the_stream_table_column_and_statement(
    config, snowflake, snowflake_server, schema, tmp_path, grant, column, statement
):
    """The run stops (exit 1, no STATE) with a message naming the stream, the table, the
    column where one is involved, and the statement: an ALTER the role may not run (the
    table is not its own: with the grant that fixes it), one the local Snowflake refuses
    (it cannot change the type of a PRIMARY KEY column; Snowflake can), a column to add
    (at setup), and a MERGE without UPDATE."""
    table = f'"{DATABASE}"."{schema}"."S"'
    query(snowflake, f"CREATE TABLE {table} (ID VARCHAR(4), NAME VARCHAR, PRIMARY KEY (ID))")
    query(snowflake, f"GRANT {grant} ON TABLE {table} TO ROLE {config['role']}")
    properties = {"id": {"type": "string"}, "name": {"type": ["null", "string"]}}
    if column == "EXTRA":
        properties["extra"] = {"type": ["null", "string"]}
    key = "a key longer than four" if column == "ID" else "k"
    text = messages_text(
        [schema_message("s", properties, ["id"]), record("s", {"id": key}), state({"s": 1})]
    )
    result = run_target_process(config, text, tmp_path)
    assert result.returncode != 0 and result.states == []
    error = result.stderr[result.stderr.rindex("\ntarget_snowflake.") :]  # the exception
    assert f"stream 's', table {table}" in error, error
    if column is not None:
        assert f"table {table}, column {column}: " in error, error
    assert f"statement: {statement.format(table=table)}" in error, error
    if grant != "OWNERSHIP":  # what the role lacks, and how to grant it
        assert "GRANT" in result.stderr
    assert table_rows(snowflake, schema, "S") == []


def test_a_longer_value_in_a_batch_file_staged_as_it_is_lengthens_its_column(
    config, snowflake, snowflake_server, schema, tmp_path
):
    """A BATCH message's jsonl file is checked record by record and then staged unchanged
    (no batch file of the target's own): the values are measured in that check, and the
    column is lengthened before the file loads."""
    table = f'"{DATABASE}"."{schema}"."FILES"'
    query(snowflake, f"CREATE TABLE {table} (ID NUMBER(38,0), NAME VARCHAR(8))")
    query(snowflake, f"GRANT OWNERSHIP ON TABLE {table} TO ROLE {config['role']}")
    rows = [{"id": 1, "name": "short"}, {"id": 2, "name": "longer than eight"}]
    path = tmp_path / "files-1.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    batch = {
        "type": "BATCH",
        "stream": "files",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [path.as_uri()],
    }
    properties = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
    control(snowflake_server, "/strict/log/clear", {})
    text = messages_text([schema_message("files", properties, ["id"]), batch, state({"s": 1})])
    result = run_target_process(config, text, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"s": 1}]
    assert any(
        entry["sql"].startswith("PUT") and "files-1.jsonl" in entry["sql"]
        for entry in statements(snowflake_server)
    )
    assert ddl_statements(snowflake_server) == [
        f'ALTER TABLE {table} ALTER COLUMN "NAME" SET DATA TYPE VARCHAR(134217728)'
    ]
    assert table_rows(snowflake, schema, "FILES", "ID, NAME") == [
        (1, "short"),
        (2, "longer than eight"),
    ]


def test_values_of_properties_named_with_quotes_are_measured_too(
    config, snowflake, snowflake_server, schema, tmp_path
):
    """A property named with `"` (which msgspec's structs cannot name) is measured like
    the others: its column is lengthened for a longer value."""
    table = f'"{DATABASE}"."{schema}"."QUOTED"'
    query(snowflake, f"CREATE TABLE {table} (ID NUMBER(38,0), SAY__HI_ VARCHAR(4))")
    query(snowflake, f"GRANT OWNERSHIP ON TABLE {table} TO ROLE {config['role']}")
    name = 'say "hi"'
    properties = {"id": {"type": "integer"}, name: {"type": ["null", "string"]}}
    messages = [
        schema_message("quoted", properties, ["id"]),
        record("quoted", {"id": 1, name: "hello"}),
        state({"s": 1}),
    ]
    control(snowflake_server, "/strict/log/clear", {})
    result = run_target_process(config, messages_text(messages), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ddl_statements(snowflake_server) == [
        f'ALTER TABLE {table} ALTER COLUMN "SAY__HI_" SET DATA TYPE VARCHAR(134217728)'
    ]
    assert table_rows(snowflake, schema, "QUOTED", 'ID, "SAY__HI_"') == [(1, "hello")]
