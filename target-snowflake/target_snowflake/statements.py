"""The text of every load statement (PUT, COPY, INSERT, MERGE, deletes), built by pure
functions from names and SQL expressions, so each statement can be checked word for word.

Identifiers given here are already normalized; quoting happens here. A batch is staged as
one JSON document per line in a one-VARIANT-column table (column V): `q` the load
sequence, `t` the table version, `e` the extraction time, `r` the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from target_snowflake.batch_file import LineField
from target_snowflake.naming import json_path, quote, sql_string

SEQUENCE_ALIAS = '"_load_seq"'  # lower case: no normalized column can be named so
DELETED_AT_COLUMN = "_SDC_DELETED_AT"
TABLE_VERSION_COLUMN = "_SDC_TABLE_VERSION"


def create_stage(stage: str) -> str:
    """The session's temporary stage."""
    return f"CREATE TEMPORARY STAGE IF NOT EXISTS {stage}"


def put(path: PurePath, stage: str, prefix: str) -> str:
    """Upload one local file (already compressed) under a prefix of the stage.

    The path is written with forward slashes on every OS (a Windows path in a quoted
    `file://` URL needs them).
    """
    return f"PUT {sql_string('file://' + path.as_posix())} @{stage}/{prefix} AUTO_COMPRESS=FALSE"


def create_variant_table(table: str, *, replace: bool = False) -> str:
    """A temporary table with one VARIANT column V that a batch is copied into."""
    create = "CREATE OR REPLACE TEMPORARY TABLE" if replace else "CREATE TEMPORARY TABLE"
    return f'{create} {table} ("V" VARIANT)'


def copy_json(
    table: str,
    stage: str,
    prefix: str,
    *,
    files: Sequence[str] = (),
    purge: bool = True,
) -> str:
    """Copy the JSON-lines files under the prefix (every one, or the `files` named) into a
    VARIANT table.

    PURGE removes the staged files once loaded (the emulator supports no REMOVE on the
    temporary stage, which goes with the session anyway); without it the caller removes or
    archives them (`stages`). ALLOW_DUPLICATE: an object with a repeated key loads with the
    last value, as the record validator reads it (without it Snowflake refuses the file).
    """
    named = f"FILES=({', '.join(sql_string(name) for name in files)}) " if files else ""
    return (
        f"COPY INTO {table} FROM @{stage}/{prefix}/ {named}"
        "FILE_FORMAT=(TYPE=JSON ALLOW_DUPLICATE=TRUE) ON_ERROR=ABORT_STATEMENT"
        + (" PURGE=TRUE" if purge else "")
    )


def describe_stage(stage: str) -> str:
    """A named stage's properties (its URL among them); needs a privilege on it."""
    return f"DESCRIBE STAGE {stage}"


def list_stage(stage: str, prefix: str) -> str:
    """The files under a prefix of a stage (USAGE on an external stage, READ on an
    internal one)."""
    return f"LIST @{stage}/{prefix}/"


def remove(stage: str, prefix: str) -> str:
    """Delete the files under a prefix of a named internal stage (WRITE on it)."""
    return f"REMOVE @{stage}/{prefix}/"


def drop_table(table: str) -> str:
    """Drop a (temporary) table if it is there."""
    return f"DROP TABLE IF EXISTS {table}"


def batch_source(
    values: Sequence[tuple[str, str]],
    variant_table: str,
    dedupe_on: Sequence[str],
    sequence: str = json_path("V", LineField.SEQUENCE),
) -> str:
    """The staged batch as typed columns: `values` are (column, SQL expression over V).

    With key columns in `dedupe_on`, only the last record of each key is kept (the one
    with the highest load `sequence`).
    """
    select = ", ".join(f"{expression} AS {quote(column)}" for column, expression in values)
    source = f"SELECT {select}, {sequence}::NUMBER AS {SEQUENCE_ALIAS} FROM {variant_table}"
    if dedupe_on:
        partition = ", ".join(quote(key) for key in dedupe_on)
        source = (
            f"SELECT * FROM ({source}) QUALIFY ROW_NUMBER() OVER "
            f"(PARTITION BY {partition} ORDER BY {SEQUENCE_ALIAS} DESC) = 1"
        )
    return source


def insert(table: str, columns: Sequence[str], source: str) -> str:
    """Append every row of `source` to the table."""
    names = ", ".join(quote(column) for column in columns)
    values = ", ".join(f"s.{quote(column)}" for column in columns)
    return f"INSERT INTO {table} ({names}) SELECT {values} FROM ({source}) s"


def merge(
    table: str,
    columns: Sequence[str],
    key_columns: Sequence[str],
    source: str,
    *,
    hard_delete: bool,
) -> str:
    """Upsert `source` into the table on the key columns.

    A row whose `_SDC_DELETED_AT` is set deletes its match (`hard_delete`) or marks it
    deleted keeping its data; a deleted row without a match is not inserted under
    `hard_delete`.
    """
    on = " AND ".join(f"t.{quote(key)} = s.{quote(key)}" for key in key_columns)
    updates = ", ".join(
        f"t.{quote(name)} = s.{quote(name)}" for name in columns if name not in key_columns
    )
    clauses = []
    deleted = DELETED_AT_COLUMN in columns
    deleted_at = quote(DELETED_AT_COLUMN)
    if deleted and hard_delete:
        clauses.append(f"WHEN MATCHED AND s.{deleted_at} IS NOT NULL THEN DELETE")
    elif deleted:  # soft delete: keep the row's data, mark it deleted
        clauses.append(
            f"WHEN MATCHED AND s.{deleted_at} IS NOT NULL "
            f"THEN UPDATE SET t.{deleted_at} = s.{deleted_at}"
        )
    if updates:
        clauses.append(f"WHEN MATCHED THEN UPDATE SET {updates}")
    insert_when = f" AND s.{deleted_at} IS NULL" if deleted and hard_delete else ""
    clauses.append(
        f"WHEN NOT MATCHED{insert_when} THEN INSERT ({', '.join(quote(n) for n in columns)}) "
        f"VALUES ({', '.join('s.' + quote(n) for n in columns)})"
    )
    return f"MERGE INTO {table} t USING ({source}) s ON {on} " + " ".join(clauses)


def delete_all(table: str) -> str:
    """Every row of the table (overwrite: inside the transaction that refills it)."""
    return f"DELETE FROM {table}"


def retire_old_versions(table: str, version: int, *, hard_delete: bool) -> str:
    """Delete (or mark deleted) every row not loaded under `version` or a later one."""
    column = quote(TABLE_VERSION_COLUMN)
    old = f"{column} IS NULL OR {column} < {int(version)}"
    if hard_delete:
        return f"DELETE FROM {table} WHERE {old}"
    deleted_at = quote(DELETED_AT_COLUMN)
    return (
        f"UPDATE {table} SET {deleted_at} = CURRENT_TIMESTAMP() "
        f"WHERE ({old}) AND {deleted_at} IS NULL"
    )
