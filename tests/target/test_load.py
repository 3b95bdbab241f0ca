"""Upserts, in-batch duplicates, append-only and overwrite, checked in the table."""

from __future__ import annotations

from tests.target.conftest import record, run_target, schema_message, state, table_rows

PEOPLE = {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "score": {"type": ["null", "number"]},
}


def people(*rows: tuple[int, str]) -> list[dict]:
    return [record("people", {"id": i, "name": n, "score": i / 2}) for i, n in rows]


def test_upsert_replaces_rows_by_key(config, snowflake, schema):
    run_target(config, [schema_message("people", PEOPLE, ["id"]), *people((1, "ada"), (2, "bob"))])
    states = run_target(
        config,
        [schema_message("people", PEOPLE, ["id"]), *people((2, "bea"), (3, "cy")), state({"b": 1})],
    )
    assert states == [{"b": 1}]
    assert table_rows(snowflake, schema, "PEOPLE", '"ID", "NAME", "SCORE"') == [
        (1, "ada", 0.5),
        (2, "bea", 1.0),
        (3, "cy", 1.5),
    ]
