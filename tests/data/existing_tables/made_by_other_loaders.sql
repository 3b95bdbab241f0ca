-- Tables as other loaders leave them, created by an administrator before the first run of
-- this target (`{schema}` is the test's schema). Our own text, after the shapes used by
-- MeltanoLabs' target-snowflake tests (a plain VARCHAR key with a PRIMARY KEY constraint,
-- TIMESTAMP_NTZ(9), its _SDC_ columns with _SDC_DELETED_AT as text), by PipelineWise's
-- (text for every string, a VARCHAR column where the stream now sends integers) and a
-- table named with a reserved word.
CREATE TABLE "TARGET_TESTS"."{schema}"."EXISTING_TABLE" (
    ID VARCHAR(16777216),
    COL_STR VARCHAR(16777216),
    COL_TS TIMESTAMP_NTZ(9),
    COL_INT INTEGER,
    COL_BOOL BOOLEAN,
    COL_VARIANT VARIANT,
    _SDC_BATCHED_AT TIMESTAMP_NTZ(9),
    _SDC_DELETED_AT VARCHAR(16777216),
    _SDC_EXTRACTED_AT TIMESTAMP_NTZ(9),
    _SDC_RECEIVED_AT TIMESTAMP_NTZ(9),
    _SDC_SEQUENCE NUMBER(38,0),
    _SDC_TABLE_VERSION NUMBER(38,0),
    PRIMARY KEY (ID)
);
CREATE TABLE "TARGET_TESTS"."{schema}"."EXISTING_TABLE_ALTER" (
    "ID" TEXT,
    "COL_STR" TEXT,
    "COL_TS" TIMESTAMP_NTZ,
    "COL_INT" TEXT,
    "COL_BOOL" BOOLEAN,
    "COL_VARIANT" VARIANT,
    "_SDC_EXTRACTED_AT" TIMESTAMP_NTZ,
    "_SDC_BATCHED_AT" TIMESTAMP_NTZ,
    "_SDC_DELETED_AT" TEXT,
    PRIMARY KEY ("ID")
);
CREATE TABLE "TARGET_TESTS"."{schema}"."ORDER" (
    ID STRING,
    COL_STR STRING,
    COL_TS TIMESTAMP_NTZ(9),
    COL_INT STRING,
    COL_BOOL BOOLEAN,
    COL_VARIANT VARIANT,
    PRIMARY KEY (ID)
);
