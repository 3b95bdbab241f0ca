"""Golden tests: the exact text of every load statement (statements.py)."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from target_snowflake import quarantine, statements

TABLE = '"DB"."SCH"."CONTACTS"'
VALUES = [("ID", 'V:"r":"id"::VARCHAR'), ("N", 'V:"r":"n"::NUMBER(38,0)')]


def test_put_uploads_the_file_as_it_is() -> None:
    assert statements.put(PurePosixPath("/tmp/w/it's.json.gz"), '"STAGE"', "abc") == (
        "PUT 'file:///tmp/w/it''s.json.gz' @\"STAGE\"/abc AUTO_COMPRESS=FALSE"
    )


def test_put_writes_windows_paths_with_forward_slashes() -> None:
    assert statements.put(PureWindowsPath(r"C:\Temp\w\b.json.gz"), '"STAGE"', "abc") == (
        "PUT 'file://C:/Temp/w/b.json.gz' @\"STAGE\"/abc AUTO_COMPRESS=FALSE"
    )


def test_create_stage_and_variant_tables() -> None:
    assert statements.create_stage('"STAGE"') == 'CREATE TEMPORARY STAGE IF NOT EXISTS "STAGE"'
    assert statements.create_variant_table('"T__LOAD_1"') == (
        'CREATE TEMPORARY TABLE "T__LOAD_1" ("V" VARIANT)'
    )
    assert statements.create_variant_table('"T__OVERWRITE"', replace=True) == (
        'CREATE OR REPLACE TEMPORARY TABLE "T__OVERWRITE" ("V" VARIANT)'
    )
    assert statements.drop_table('"T__LOAD_1"') == 'DROP TABLE IF EXISTS "T__LOAD_1"'


def test_copy_json_aborts_on_error_purges_and_takes_the_last_of_duplicate_keys() -> None:
    assert statements.copy_json('"T__LOAD_1"', '"STAGE"', "abc") == (
        'COPY INTO "T__LOAD_1" FROM @"STAGE"/abc/ '
        "FILE_FORMAT=(TYPE=JSON ALLOW_DUPLICATE=TRUE) ON_ERROR=ABORT_STATEMENT PURGE=TRUE"
    )


def test_batch_source_keeps_the_last_record_per_key() -> None:
    assert statements.batch_source(VALUES, '"T__LOAD_1"', ["ID"]) == (
        'SELECT * FROM (SELECT V:"r":"id"::VARCHAR AS "ID", V:"r":"n"::NUMBER(38,0) AS "N", '
        'V:"q"::NUMBER AS "_load_seq" FROM "T__LOAD_1") QUALIFY ROW_NUMBER() OVER '
        '(PARTITION BY "ID" ORDER BY "_load_seq" DESC) = 1'
    )


def test_batch_source_without_keys_keeps_every_record() -> None:
    assert statements.batch_source(VALUES, '"T__LOAD_1"', []) == (
        'SELECT V:"r":"id"::VARCHAR AS "ID", V:"r":"n"::NUMBER(38,0) AS "N", '
        'V:"q"::NUMBER AS "_load_seq" FROM "T__LOAD_1"'
    )


def test_insert() -> None:
    assert statements.insert(TABLE, ["ID", "N"], "SRC") == (
        'INSERT INTO "DB"."SCH"."CONTACTS" ("ID", "N") SELECT s."ID", s."N" FROM (SRC) s'
    )


def test_merge_without_delete_column() -> None:
    assert statements.merge(TABLE, ["ID", "N"], ["ID"], "SRC", hard_delete=True) == (
        'MERGE INTO "DB"."SCH"."CONTACTS" t USING (SRC) s ON t."ID" = s."ID" '
        'WHEN MATCHED THEN UPDATE SET t."N" = s."N" '
        'WHEN NOT MATCHED THEN INSERT ("ID", "N") VALUES (s."ID", s."N")'
    )


def test_merge_soft_delete_marks_and_keeps_data() -> None:
    columns = ["ID", "N", "_SDC_DELETED_AT"]
    assert statements.merge(TABLE, columns, ["ID"], "SRC", hard_delete=False) == (
        'MERGE INTO "DB"."SCH"."CONTACTS" t USING (SRC) s ON t."ID" = s."ID" '
        'WHEN MATCHED AND s."_SDC_DELETED_AT" IS NOT NULL '
        'THEN UPDATE SET t."_SDC_DELETED_AT" = s."_SDC_DELETED_AT" '
        'WHEN MATCHED THEN UPDATE SET t."N" = s."N", t."_SDC_DELETED_AT" = s."_SDC_DELETED_AT" '
        'WHEN NOT MATCHED THEN INSERT ("ID", "N", "_SDC_DELETED_AT") '
        'VALUES (s."ID", s."N", s."_SDC_DELETED_AT")'
    )


def test_merge_hard_delete_deletes_and_never_inserts_deleted_rows() -> None:
    columns = ["ID", "N", "_SDC_DELETED_AT"]
    assert statements.merge(TABLE, columns, ["ID"], "SRC", hard_delete=True) == (
        'MERGE INTO "DB"."SCH"."CONTACTS" t USING (SRC) s ON t."ID" = s."ID" '
        'WHEN MATCHED AND s."_SDC_DELETED_AT" IS NOT NULL THEN DELETE '
        'WHEN MATCHED THEN UPDATE SET t."N" = s."N", t."_SDC_DELETED_AT" = s."_SDC_DELETED_AT" '
        'WHEN NOT MATCHED AND s."_SDC_DELETED_AT" IS NULL '
        'THEN INSERT ("ID", "N", "_SDC_DELETED_AT") VALUES (s."ID", s."N", s."_SDC_DELETED_AT")'
    )


def test_merge_on_a_compound_key_with_only_key_columns() -> None:
    assert statements.merge(TABLE, ["A", "B"], ["A", "B"], "SRC", hard_delete=False) == (
        'MERGE INTO "DB"."SCH"."CONTACTS" t USING (SRC) s ON t."A" = s."A" AND t."B" = s."B" '
        'WHEN NOT MATCHED THEN INSERT ("A", "B") VALUES (s."A", s."B")'
    )


def test_overwrite_empties_the_table() -> None:
    assert statements.delete_all(TABLE) == 'DELETE FROM "DB"."SCH"."CONTACTS"'


def test_retire_old_versions() -> None:
    assert statements.retire_old_versions(TABLE, 7, hard_delete=True) == (
        'DELETE FROM "DB"."SCH"."CONTACTS" '
        'WHERE "_SDC_TABLE_VERSION" IS NULL OR "_SDC_TABLE_VERSION" < 7'
    )
    assert statements.retire_old_versions(TABLE, 7, hard_delete=False) == (
        'UPDATE "DB"."SCH"."CONTACTS" SET "_SDC_DELETED_AT" = CURRENT_TIMESTAMP() '
        'WHERE ("_SDC_TABLE_VERSION" IS NULL OR "_SDC_TABLE_VERSION" < 7) '
        'AND "_SDC_DELETED_AT" IS NULL'
    )


def test_quarantine_load() -> None:
    source = statements.batch_source(quarantine.values(), '"Q__LOAD_1"', [])
    assert statements.insert('"DB"."SCH"."T#QUARANTINE"', list(quarantine.COLUMNS), source) == (
        'INSERT INTO "DB"."SCH"."T#QUARANTINE" '
        '("STREAM", "LINE", "BATCH_FILE", "BATCH_ROW", "ERROR", "RAW", "RECEIVED_AT") '
        'SELECT s."STREAM", s."LINE", s."BATCH_FILE", s."BATCH_ROW", s."ERROR", s."RAW", '
        's."RECEIVED_AT" FROM (SELECT V:"stream"::VARCHAR(134217728) AS "STREAM", '
        'V:"line"::NUMBER(38,0) AS "LINE", V:"file"::VARCHAR(134217728) AS "BATCH_FILE", '
        'V:"row"::NUMBER(38,0) AS "BATCH_ROW", V:"error"::VARCHAR(134217728) AS "ERROR", '
        'V:"raw"::VARCHAR(134217728) AS "RAW", V:"at"::TIMESTAMP_TZ AS "RECEIVED_AT", '
        'V:"q"::NUMBER AS "_load_seq" FROM "Q__LOAD_1") s'
    )
