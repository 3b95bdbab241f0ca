"""Deletes: records carrying `_sdc_deleted_at` and ACTIVATE_VERSION of full-table streams."""

from __future__ import annotations

from tests.target.conftest import DATABASE, query, record, run_target, schema_message, table_rows

CONVERSATIONS = {
    "id": {"type": "string"},
    "title": {"type": ["null", "string"]},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}
DELETED = "2024-03-01T10:00:00+00:00"


def load_three(config) -> None:
    run_target(
        config,
        [schema_message("conversations", CONVERSATIONS, ["id"])]
        + [record("conversations", {"id": str(i), "title": f"t{i}"}) for i in range(1, 4)],
    )


def deletion(conversation_id: str) -> dict:
    return record("conversations", {"id": conversation_id, "_sdc_deleted_at": DELETED})


def rows(snowflake, schema):
    return table_rows(
        snowflake, schema, "CONVERSATIONS", '"ID", "TITLE", TO_VARCHAR("_SDC_DELETED_AT")'
    )


def test_soft_delete_keeps_the_row_and_marks_it(config, snowflake, schema):
    load_three(config)
    run_target(
        config,
        [schema_message("conversations", CONVERSATIONS, ["id"]), deletion("2"), deletion("9")],
    )
    result = rows(snowflake, schema)
    assert [(r[0], r[1], r[2] is not None) for r in result] == [
        ("1", "t1", False),
        ("2", "t2", True),  # the row's data stay; only _SDC_DELETED_AT is set
        ("3", "t3", False),
        ("9", None, True),  # a deletion of an unseen row is recorded too
    ]
    assert result[1][2].startswith("2024-03-01 10:00:00")


def test_hard_delete_removes_the_row(config, snowflake, schema):
    config["hard_delete"] = True
    load_three(config)
    run_target(
        config,
        [schema_message("conversations", CONVERSATIONS, ["id"]), deletion("2"), deletion("9")],
    )
    assert [r[0] for r in rows(snowflake, schema)] == ["1", "3"]


def test_a_record_after_its_deletion_in_the_same_batch_restores_it(config, snowflake, schema):
    config["hard_delete"] = True
    load_three(config)
    run_target(
        config,
        [
            schema_message("conversations", CONVERSATIONS, ["id"]),
            deletion("1"),
            record("conversations", {"id": "1", "title": "back"}),
            deletion("3"),
        ],
    )
    assert [r[:2] for r in rows(snowflake, schema)] == [("1", "back"), ("2", "t2")]


ITEMS = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}


def full_table_sync(version: int, ids: list[int]) -> list[dict]:
    return [
        schema_message("items", ITEMS, ["id"]),
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": version},
        *[record("items", {"id": i, "name": f"v{version}"}, version=version) for i in ids],
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": version},
    ]


def items(snowflake, schema):
    return table_rows(
        snowflake, schema, "ITEMS", '"ID", "NAME", "_SDC_TABLE_VERSION", "_SDC_DELETED_AT" IS NULL'
    )


def test_activate_version_soft_deletes_rows_missing_from_the_new_version(config, snowflake, schema):
    run_target(config, full_table_sync(1, [1, 2, 3]))
    run_target(config, full_table_sync(2, [2, 3]))
    assert items(snowflake, schema) == [
        (1, "v1", 1, False),  # not in version 2: marked deleted
        (2, "v2", 2, True),
        (3, "v2", 2, True),
    ]


def test_activate_version_with_hard_delete_removes_them(config, snowflake, schema):
    config["hard_delete"] = True
    config["batch_size_rows"] = 1  # versions are recorded across several batches
    run_target(config, full_table_sync(1, [1, 2, 3]))
    run_target(config, full_table_sync(2, [2, 3]))
    assert items(snowflake, schema) == [(2, "v2", 2, True), (3, "v2", 2, True)]


def test_the_opening_activate_version_deletes_nothing(config, snowflake, schema):
    """Taps send ACTIVATE_VERSION before a full-table sync's records; rows must not vanish
    then (a run killed mid-sync would leave the table empty)."""
    config["hard_delete"] = True
    run_target(config, full_table_sync(1, [1, 2]))
    opening = full_table_sync(2, [1])[:2]
    run_target(config, opening)
    assert [r[0] for r in items(snowflake, schema)] == [1, 2]


def test_an_empty_full_table_sync_deletes_everything(config, snowflake, schema):
    config["hard_delete"] = True
    run_target(config, full_table_sync(1, [1, 2]))
    run_target(config, full_table_sync(2, []))
    assert items(snowflake, schema) == []


def test_activate_version_with_metadata_columns(config, snowflake, schema):
    config["add_record_metadata"] = True
    run_target(config, full_table_sync(1, [1, 2]))
    run_target(config, full_table_sync(2, [2]))
    assert items(snowflake, schema) == [(1, "v1", 1, False), (2, "v2", 2, True)]
    metadata = query(
        snowflake,
        f'SELECT "_SDC_SEQUENCE" IS NOT NULL, "_SDC_BATCHED_AT" IS NOT NULL, '
        f'"_SDC_RECEIVED_AT" IS NOT NULL FROM {DATABASE}."{schema}"."ITEMS"',
    )
    assert metadata == [(True, True, True)] * 2
