"""Does the warehouse hold exactly what the sandbox says a correct extraction yields?

Warehouse rows are turned back into tap-record form (column names to property names,
VARIANT JSON parsed, timestamps as RFC 3339 strings) and compared with the sandbox's
ground truth converted by `testbed.intercom.expected.expected_record`, date-times as instants.
A NULL column and an absent property are the same thing in a table, so both sides
drop nulls at the top level.

Only the properties of the stream's generated schema (`load_schema`) are compared, on
both sides. A top-level field the schema does not list is not dropped: the tap announces
it in a new SCHEMA message and the target adds a column for it, and values no
conversion can keep sit in the `_SDC_DRIFT` column (docs/schema-drift.md). Those
columns are left out here; tests/e2e/test_drift.py checks them. Fields a declared
object does not list stay inside its VARIANT column and are compared with the rest of
the object.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import snowflake.connector
from tap_intercom.schemas import load_schema

from testbed.intercom.expected import expected_record, key_of, record_differences
from testbed.pipeline import LocalEndpoints, table_names

DELETED_AT = "_sdc_deleted_at"
# Snowflake type codes of the connector's cursor description that arrive as JSON text.
SEMI_STRUCTURED_TYPE_CODES = {5, 9, 10}  # VARIANT, OBJECT, ARRAY
TIMESTAMP_TYPE_CODES = {6, 7, 8}  # TIMESTAMP_LTZ, TIMESTAMP_TZ, TIMESTAMP_NTZ
# Streams whose records belong to a conversation: gone from the truth when it is deleted.
CONVERSATION_CHILDREN = {"conversation_parts": "conversation_id"}


def _value(value: Any, semi_structured: bool) -> Any:
    if semi_structured and isinstance(value, str):
        return json.loads(value)  # a VARIANT null becomes None, like a SQL NULL
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def warehouse_records(
    conn: snowflake.connector.SnowflakeConnection, schema: str, stream: str
) -> list[dict[str, Any]]:
    """The rows of the stream's table as records, in the schema's columns only (other
    metadata columns than the deletion mark, new-field columns and `_SDC_DRIFT` dropped).

    The local Snowflake returns a NULL timestamp as 1970-01-01 (its result encoding;
    the stored value is NULL), so each timestamp column is read with its own IS NULL.
    """
    properties = load_schema(stream)["properties"]
    names = {name.upper(): name for name in properties}
    table = f'"{schema}"."{stream.upper()}"'
    cur = conn.cursor()
    cur.execute(f"SELECT * FROM {table} LIMIT 0")
    columns = [
        (col.name, names.get(col.name), col.type_code in SEMI_STRUCTURED_TYPE_CODES)
        for col in cur.description
    ]
    timestamps = [col.name for col in cur.description if col.type_code in TIMESTAMP_TYPE_CODES]
    null_checks = "".join(f', "{name}" IS NULL' for name in timestamps)
    cur.execute(f"SELECT *{null_checks} FROM {table}")
    records = []
    for row in cur.fetchall():
        values = dict(zip([column for column, _, _ in columns], row, strict=False))
        is_null = dict(zip(timestamps, row[len(columns) :], strict=True))
        record = {
            name: _value(values[column], semi_structured)
            for column, name, semi_structured in columns
            if name is not None and not is_null.get(column, False)
        }
        records.append({k: v for k, v in record.items() if v is not None})
    return records


def expected_records(stream: str, raw_records: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The truth's raw records of a stream as they should sit in the schema's columns."""
    properties = load_schema(stream)["properties"]
    return [
        {k: v for k, v in expected_record(stream, raw).items() if k in properties and v is not None}
        for raw in raw_records
    ]


def warehouse_differences(
    endpoints: LocalEndpoints,
    truth: Mapping[str, Any],
    streams: Mapping[str, list[str]],
) -> list[str]:
    """Every way the warehouse differs from the truth, for the given streams and keys.

    `truth` is the sandbox's GET /_sandbox/truth; `streams` maps each selected
    stream to its key properties. Deleted conversations must be soft-deleted rows
    (or never loaded); no other row may carry a deletion mark.
    """
    deleted_conversations = set(truth.get("deleted", {}).get("conversations", []))
    differences = []
    with contextlib.closing(endpoints.connect()) as conn:
        tables = set(table_names(conn, endpoints.schema))
        for stream, key in sorted(streams.items()):
            expected = expected_records(stream, truth["streams"].get(stream, []))
            if stream.upper() not in tables:
                if expected:
                    differences.append(f"{stream}: no table, {len(expected)} records expected")
                continue
            rows = warehouse_records(conn, endpoints.schema, stream)
            live = [row for row in rows if DELETED_AT not in row]
            marked = [row for row in rows if DELETED_AT in row]
            if stream == "conversations":
                wrongly_marked = {row["id"] for row in marked} - deleted_conversations
                still_live = {row["id"] for row in live} & deleted_conversations
                if wrongly_marked:
                    differences.append(f"conversations: marked deleted but live {wrongly_marked}")
                if still_live:
                    differences.append(f"conversations: deleted but not marked {still_live}")
                live = [row for row in live if row["id"] not in deleted_conversations]
            elif marked:
                differences.append(f"{stream}: {len(marked)} rows marked deleted, e.g. {marked[0]}")
            if stream in CONVERSATION_CHILDREN:
                parent = CONVERSATION_CHILDREN[stream]
                live = [row for row in live if row.get(parent) not in deleted_conversations]
            keys = [key_of(row, key) for row in live]
            if len(keys) != len(set(keys)):
                differences.append(f"{stream}: {len(keys) - len(set(keys))} duplicate keys")
            differences += record_differences(stream, live, expected, key)
    return differences


def assert_warehouse_matches(
    endpoints: LocalEndpoints, truth: Mapping[str, Any], streams: Mapping[str, list[str]]
) -> None:
    """Fail with the differences unless every table equals the truth."""
    differences = warehouse_differences(endpoints, truth, streams)
    shown = "\n".join(differences[:60])
    assert not differences, f"warehouse differs from the sandbox truth:\n{shown}"
