"""The load path the target uses works end to end on the local Snowflake."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import snowflake.connector

from testbed.servers import admin_settings


def connect(settings: dict) -> snowflake.connector.SnowflakeConnection:
    """As the administrator: this test creates its own database."""
    return snowflake.connector.connect(
        **admin_settings(settings),
        login_timeout=30,
        network_timeout=60,
        database="SMOKE",
        schema="PUBLIC",
    )


def test_put_copy_merge_through_the_real_connector(snowflake_server, tmp_path: Path):
    rows = [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}, {"id": 1, "name": "ada2"}]
    path = tmp_path / "batch.json.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)

    conn = connect(snowflake_server)
    cur = conn.cursor()
    cur.execute("CREATE DATABASE IF NOT EXISTS SMOKE")
    cur.execute("CREATE SCHEMA IF NOT EXISTS SMOKE.PUBLIC")
    cur.execute("USE SCHEMA SMOKE.PUBLIC")  # the database did not exist at login
    cur.execute('CREATE OR REPLACE TABLE "PEOPLE" ("ID" NUMBER(38,0), "NAME" VARCHAR)')
    cur.execute("INSERT INTO \"PEOPLE\" VALUES (2, 'old'), (3, 'carl')")
    cur.execute('CREATE TEMPORARY STAGE "SMOKE_STAGE"')
    cur.execute(f"PUT 'file://{path}' @\"SMOKE_STAGE\" AUTO_COMPRESS=FALSE")
    cur.execute('CREATE TEMPORARY TABLE "PEOPLE_RAW" ("V" VARIANT)')
    cur.execute('COPY INTO "PEOPLE_RAW" FROM @"SMOKE_STAGE" FILE_FORMAT=(TYPE=JSON)')
    cur.execute(
        'MERGE INTO "PEOPLE" t USING ('
        ' SELECT V:"id"::NUMBER(38,0) AS "ID", V:"name"::VARCHAR AS "NAME"'
        ' FROM "PEOPLE_RAW"'
        ' QUALIFY ROW_NUMBER() OVER (PARTITION BY V:"id" ORDER BY V:"name" DESC) = 1'
        ') s ON t."ID" = s."ID"'
        ' WHEN MATCHED THEN UPDATE SET t."NAME" = s."NAME"'
        ' WHEN NOT MATCHED THEN INSERT ("ID", "NAME") VALUES (s."ID", s."NAME")'
    )
    cur.execute('SELECT "ID", "NAME" FROM "PEOPLE" ORDER BY "ID"')
    assert cur.fetchall() == [(1, "ada2"), (2, "bob"), (3, "carl")]
    conn.close()
