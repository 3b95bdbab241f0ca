"""The strict local Snowflake lets privileges reach a session the ways Snowflake does:
through database roles, secondary roles and grants to the user, as well as through the
primary role and what it inherits. INFORMATION_SCHEMA.ENABLED_ROLES and OBJECT_PRIVILEGES
do not show what arrives those ways (the statements work all the same), and CREATE
<object> is authorized by the primary role only."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
import snowflake.connector
from snowflake.connector import SnowflakeConnection
from snowflake.connector.errors import ProgrammingError

from testbed.servers import WAREHOUSE, admin_connection, local_snowflake
from testbed.snowflake_strict.grants import (
    SCHEMA_PRIVILEGES,
    TABLE_PRIVILEGES,
    create_database_role,
    default_secondary_roles,
    grant,
    grant_database_role,
    grant_role,
    loading_through_database_role,
    quote,
    to_database_role,
    to_role,
    to_user,
    use_secondary_roles,
)

DATABASE = "PATHS"
PASSWORD = "grant-paths"


@pytest.fixture(scope="module")
def server() -> Iterator[dict]:
    with local_snowflake() as settings:
        with contextlib.closing(admin_connection(settings)) as admin:
            run(admin, f"CREATE DATABASE {quote(DATABASE)}")
        yield settings


@pytest.fixture
def admin(server: dict) -> Iterator[SnowflakeConnection]:
    with contextlib.closing(admin_connection(server)) as connection:
        yield connection


def run(connection: SnowflakeConnection, sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


def run_all(connection: SnowflakeConnection, statements: list[str]) -> None:
    for statement in statements:
        run(connection, statement)


def refused(connection: SnowflakeConnection, sql: str) -> ProgrammingError:
    with pytest.raises(ProgrammingError) as caught:
        run(connection, sql)
    return caught.value


def new_user(admin: SnowflakeConnection, name: str, *roles: str) -> None:
    """A user whose first role is its default (primary) role; each role may use the
    warehouse and holds nothing else."""
    for role in roles:
        run(admin, f"CREATE ROLE {quote(role)}")
        run(admin, grant(["USAGE"], "WAREHOUSE", [WAREHOUSE], to_role(role)))
    run(
        admin,
        f"CREATE USER {quote(name)} PASSWORD = '{PASSWORD}' DEFAULT_ROLE = {quote(roles[0])}"
        f" DEFAULT_WAREHOUSE = {WAREHOUSE}",
    )
    for role in roles:
        run(admin, grant_role(role, to_user(name)))


@contextlib.contextmanager
def session(server: dict, user: str) -> Iterator[SnowflakeConnection]:
    """A session of the user with its default role."""
    settings = {**server, "user": user, "password": PASSWORD}
    del settings["role"]
    with contextlib.closing(
        snowflake.connector.connect(**settings, login_timeout=10, network_timeout=30)
    ) as connection:
        yield connection


def make_schema(admin: SnowflakeConnection, schema: str) -> str:
    """A schema (owned by the administrator) with a table T of two columns and one row;
    the table's qualified name."""
    table = quote(DATABASE, schema, "T")
    run(admin, f"CREATE SCHEMA {quote(DATABASE, schema)}")
    run(admin, f'CREATE TABLE {table} ("ID" NUMBER(38,0), "NAME" VARCHAR)')
    run(admin, f"INSERT INTO {table} VALUES (1, 'one')")
    return table


def enabled_roles(connection: SnowflakeConnection) -> set[str]:
    rows = run(connection, f"SELECT ROLE_NAME FROM {DATABASE}.INFORMATION_SCHEMA.ENABLED_ROLES")
    return {row[0] for row in rows}


def object_privileges(connection: SnowflakeConnection) -> set[tuple[str, str, str]]:
    """(grantee, object name, privilege) of each row of OBJECT_PRIVILEGES."""
    rows = run(
        connection,
        "SELECT GRANTEE, OBJECT_NAME, PRIVILEGE_TYPE"
        f" FROM {DATABASE}.INFORMATION_SCHEMA.OBJECT_PRIVILEGES",
    )
    return {tuple(row) for row in rows}


def load(connection: SnowflakeConnection, schema: str) -> None:
    """What the target does in a schema: a temporary stage and table (named in the session's
    schema, as the target names them), an INSERT, a MERGE into the table T."""
    run(connection, f"USE SCHEMA {quote(DATABASE, schema)}")
    run(connection, 'CREATE TEMPORARY STAGE IF NOT EXISTS "BATCH"')
    run(connection, 'CREATE TEMPORARY TABLE "BATCH_ROWS" ("ID" NUMBER(38,0), "NAME" VARCHAR)')
    run(connection, "INSERT INTO \"BATCH_ROWS\" VALUES (1, 'uno'), (2, 'two')")
    run(
        connection,
        'MERGE INTO "T" USING "BATCH_ROWS" AS "S" ON "T"."ID" = "S"."ID"'
        ' WHEN MATCHED THEN UPDATE SET "NAME" = "S"."NAME"'
        ' WHEN NOT MATCHED THEN INSERT ("ID", "NAME") VALUES ("S"."ID", "S"."NAME")',
    )


def test_a_load_works_with_every_privilege_held_through_database_roles(admin, server):
    """LOADING (schema privileges) inherits LOADING_DB (USAGE on the database) and is
    granted to the loader's primary role; nothing is granted to the role itself."""
    table = make_schema(admin, "VIA_DB_ROLE")
    new_user(admin, "DBR_USER", "DBR")
    loading = to_database_role(DATABASE, "LOADING")
    run_all(
        admin,
        [
            create_database_role(DATABASE, "LOADING"),
            f"CREATE DATABASE ROLE {DATABASE}.LOADING_DB",  # unquoted: upper-cased
            grant(["USAGE"], "DATABASE", [DATABASE], to_database_role(DATABASE, "LOADING_DB")),
            grant_database_role(DATABASE, "LOADING_DB", loading),
            grant(SCHEMA_PRIVILEGES, "SCHEMA", [DATABASE, "VIA_DB_ROLE"], loading),
            grant(TABLE_PRIVILEGES, "TABLE", [DATABASE, "VIA_DB_ROLE", "T"], loading),
        ],
    )
    with session(server, "DBR_USER") as loader:
        assert refused(loader, f"SELECT * FROM {table}").errno == 2003  # not granted yet
    run(admin, grant_database_role(DATABASE, "LOADING", to_role("DBR")))
    with session(server, "DBR_USER") as loader:
        run(loader, "USE SECONDARY ROLES NONE")  # all of it comes through the primary role
        load(loader, "VIA_DB_ROLE")
        assert sorted(run(loader, f'SELECT "ID", "NAME" FROM {table}')) == [
            (1, "uno"),
            (2, "two"),
        ]
        run(loader, f'CREATE TABLE {quote(DATABASE, "VIA_DB_ROLE", "MINE")} ("A" INT)')
        # The views a startup check might read show none of it.
        assert enabled_roles(loader) == {"DBR", "PUBLIC"}
        assert object_privileges(loader) == {("DBR", "MINE", "OWNERSHIP")}
    run(admin, grant_database_role(DATABASE, "LOADING", to_role("DBR"), revoke=True))
    with session(server, "DBR_USER") as loader:
        error = refused(loader, f"SELECT * FROM {table}")
        assert error.errno == 2003 and "does not exist or not authorized" in error.msg


def test_usage_through_a_secondary_role_works_but_create_needs_the_primary_role(admin, server):
    table = make_schema(admin, "VIA_SECONDARY")
    new_user(admin, "SEC_USER", "SEC_PRIMARY", "SEC_READER")
    reader = to_role("SEC_READER")
    run_all(
        admin,
        [
            grant(["USAGE"], "DATABASE", [DATABASE], reader),
            grant(SCHEMA_PRIVILEGES, "SCHEMA", [DATABASE, "VIA_SECONDARY"], reader),
            grant(["SELECT", "INSERT"], "TABLE", [DATABASE, "VIA_SECONDARY", "T"], reader),
        ],
    )
    mine = quote(DATABASE, "VIA_SECONDARY", "MINE")
    with session(server, "SEC_USER") as user:  # DEFAULT_SECONDARY_ROLES unset: ('ALL')
        assert run(user, f'SELECT "ID" FROM {table}') == [(1,)]
        run(user, f"INSERT INTO {table} VALUES (2, 'two')")
        error = refused(user, f'CREATE TABLE {mine} ("A" INT)')
        assert error.errno == 3001 and error.sqlstate == "42501"
        assert "Insufficient privileges to operate on schema 'VIA_SECONDARY'" in error.msg
        assert refused(user, f"TRUNCATE TABLE {table}").errno == 3001  # no TRUNCATE granted
        (secondary,) = run(user, "SELECT CURRENT_SECONDARY_ROLES()")[0]
        assert json.loads(secondary) == {"roles": "SEC_READER", "value": "ALL"}
        error = refused(user, f"CREATE TEMPORARY STAGE {quote(DATABASE, 'VIA_SECONDARY', 'S')}")
        assert error.errno == 3001
        # ENABLED_ROLES lists the secondary role; OBJECT_PRIVILEGES none of its grants.
        assert enabled_roles(user) == {"SEC_PRIMARY", "SEC_READER", "PUBLIC"}
        assert object_privileges(user) == set()
        run(user, use_secondary_roles())
        assert refused(user, f"SELECT * FROM {table}").errno == 2003
        run(user, use_secondary_roles("SEC_READER"))
        assert len(run(user, f"SELECT * FROM {table}")) == 2
        error = refused(user, use_secondary_roles("DBR"))
        assert error.errno == 3013 and "is not assigned to the executing user" in error.msg
        run(user, "USE ROLE SEC_READER")  # as the primary role it may create
        run(user, f'CREATE TABLE {mine} ("A" INT)')
    run(admin, default_secondary_roles("SEC_USER", all_roles=False))
    with session(server, "SEC_USER") as user:
        assert refused(user, f"SELECT * FROM {table}").errno == 2003
        run(user, use_secondary_roles(all_roles=True))
        assert len(run(user, f"SELECT * FROM {table}")) == 2
    run(admin, default_secondary_roles("SEC_USER", all_roles=True))
    run(admin, grant_role("SEC_READER", to_user("SEC_USER"), revoke=True))
    with session(server, "SEC_USER") as user:
        assert refused(user, f"SELECT * FROM {table}").errno == 2003


def test_grants_to_the_user_count_with_all_secondary_roles_and_never_for_create(admin, server):
    """A database role and a privilege granted to the user itself act like a secondary
    role: everything but CREATE, and (until bundle 2026_08) only while all secondary
    roles are active."""
    table = make_schema(admin, "VIA_USER")
    new_user(admin, "GRANTEE_USER", "BARE")
    run_all(
        admin,
        loading_through_database_role(DATABASE, "VIA_USER", "FOR_USER", to_user("GRANTEE_USER")),
    )
    run(admin, grant(["SELECT"], "TABLE", [DATABASE, "VIA_USER", "T"], to_user("GRANTEE_USER")))
    with session(server, "GRANTEE_USER") as user:
        assert run(user, f'SELECT "ID" FROM {table}') == [(1,)]
        assert refused(user, f"INSERT INTO {table} VALUES (2, 'two')").errno == 3001
        error = refused(user, f"CREATE TEMPORARY STAGE {quote(DATABASE, 'VIA_USER', 'S')}")
        assert error.errno == 3001 and "CREATE STAGE" in error.msg
        assert enabled_roles(user) == {"BARE", "PUBLIC"}
        assert object_privileges(user) == set()
        run(user, use_secondary_roles())
        assert refused(user, f"SELECT * FROM {table}").errno == 2003
    run(
        admin,
        grant(
            ["SELECT"], "TABLE", [DATABASE, "VIA_USER", "T"], to_user("GRANTEE_USER"), revoke=True
        ),
    )
    with session(server, "GRANTEE_USER") as user:
        # USAGE still comes through the database role, SELECT no longer
        error = refused(user, f"SELECT * FROM {table}")
        assert error.errno == 2003 and "Object 'PATHS.VIA_USER.T' does not exist" in error.msg


def test_what_snowflake_refuses_about_database_roles(admin, server):
    run(admin, f"CREATE DATABASE {quote('OTHER_DB')}")
    run(admin, create_database_role(DATABASE, "REFUSALS"))
    error = refused(admin, create_database_role(DATABASE, "REFUSALS"))
    assert error.errno == 2002 and "already exists" in error.msg
    run(admin, f'CREATE DATABASE ROLE IF NOT EXISTS "{DATABASE}"."REFUSALS"')
    error = refused(admin, grant_database_role(DATABASE, "NOPE", to_role("PUBLIC")))
    assert error.errno == 2003 and "Database role 'PATHS.NOPE' does not exist" in error.msg
    error = refused(
        admin, grant(["USAGE"], "DATABASE", [DATABASE], to_database_role(DATABASE, "NOPE"))
    )
    assert error.errno == 2003
    error = refused(admin, grant(["USAGE"], "DATABASE", [DATABASE], to_role("NO_SUCH_ROLE")))
    assert error.errno == 2003 and "Role 'NO_SUCH_ROLE' does not exist" in error.msg
    error = refused(admin, create_database_role("NO_SUCH_DB", "R"))
    assert error.errno == 2003
    run(admin, create_database_role("OTHER_DB", "ELSEWHERE"))
    # a database role is granted to database roles of its own database only, and holds
    # privileges on objects of its own database only
    error = refused(
        admin, grant_database_role("OTHER_DB", "ELSEWHERE", to_database_role(DATABASE, "REFUSALS"))
    )
    assert error.errno == 2 and error.sqlstate == "0A000"
    error = refused(
        admin, grant(["USAGE"], "DATABASE", ["OTHER_DB"], to_database_role(DATABASE, "REFUSALS"))
    )
    assert error.errno == 2 and "own database only" in error.msg
    error = refused(
        admin, grant(["USAGE"], "WAREHOUSE", [WAREHOUSE], to_database_role(DATABASE, "REFUSALS"))
    )
    assert error.errno == 2
    error = refused(admin, f"GRANT ROLE PUBLIC TO DATABASE ROLE {DATABASE}.REFUSALS")
    assert error.errno == 2
    error = refused(admin, 'DROP DATABASE ROLE "PATHS"."NOPE"')
    assert error.errno == 2003
    run(admin, 'DROP DATABASE ROLE IF EXISTS "PATHS"."NOPE"')
    # only a role with MANAGE GRANTS grants
    new_user(admin, "NOT_ADMIN", "NOT_ADMIN_ROLE")
    with session(server, "NOT_ADMIN") as user:
        error = refused(user, grant_database_role(DATABASE, "REFUSALS", to_role("NOT_ADMIN_ROLE")))
        assert error.errno == 3001
        error = refused(user, create_database_role(DATABASE, "MINE"))
        assert error.errno == 3001 and "CREATE DATABASE ROLE" in error.msg


def test_show_database_roles_and_their_grants(admin):
    run(admin, create_database_role(DATABASE, "SHOWN"))
    run(admin, f"USE DATABASE {DATABASE}")
    run(admin, "GRANT USAGE ON DATABASE PATHS TO DATABASE ROLE SHOWN")  # the current database's
    run(admin, "CREATE ROLE SHOWN_TO")
    run(admin, grant_database_role(DATABASE, "SHOWN", to_role("SHOWN_TO")))
    names = [row[1] for row in run(admin, f"SHOW DATABASE ROLES IN DATABASE {DATABASE}")]
    assert "SHOWN" in names
    grants = run(admin, f"SHOW GRANTS TO DATABASE ROLE {DATABASE}.SHOWN")
    assert [(row[1], row[2], row[3], row[4]) for row in grants] == [
        ("USAGE", "DATABASE", "PATHS", "DATABASE_ROLE")
    ]
    run(admin, "DROP DATABASE ROLE SHOWN")
    names = [row[1] for row in run(admin, f"SHOW DATABASE ROLES IN DATABASE {DATABASE}")]
    assert "SHOWN" not in names


def test_all_and_future_tables_grants_reach_the_tables(admin, server):
    make_schema(admin, "BULK")
    new_user(admin, "BULK_USER", "BULK_ROLE")
    role = to_database_role(DATABASE, "BULK_READER")
    run_all(
        admin,
        [
            create_database_role(DATABASE, "BULK_READER"),
            grant(["USAGE"], "DATABASE", [DATABASE], role),
            grant(["USAGE"], "SCHEMA", [DATABASE, "BULK"], role),
            grant(["SELECT"], "ALL TABLES IN SCHEMA", [DATABASE, "BULK"], role),
            grant(["SELECT"], "FUTURE TABLES IN SCHEMA", [DATABASE, "BULK"], role),
            grant_database_role(DATABASE, "BULK_READER", to_role("BULK_ROLE")),
            f'CREATE TABLE {quote(DATABASE, "BULK", "LATER")} ("A" INT)',
        ],
    )
    with session(server, "BULK_USER") as user:
        assert run(user, f'SELECT "ID" FROM {quote(DATABASE, "BULK", "T")}') == [(1,)]
        assert run(user, f'SELECT "A" FROM {quote(DATABASE, "BULK", "LATER")}') == []


def test_default_secondary_roles_set_at_creation_and_by_the_user_itself(admin, server):
    run_all(
        admin,
        [
            "CREATE ROLE DSR_PRIMARY",
            "CREATE ROLE DSR_OTHER",
            grant(["USAGE"], "DATABASE", [DATABASE], to_role("DSR_OTHER")),
            f"CREATE USER DSR_USER PASSWORD = '{PASSWORD}' DEFAULT_ROLE = DSR_PRIMARY"
            f" DEFAULT_WAREHOUSE = {WAREHOUSE} DEFAULT_SECONDARY_ROLES = ()",
            grant_role("DSR_PRIMARY", to_user("DSR_USER")),
            grant_role("DSR_OTHER", to_user("DSR_USER")),
        ],
    )
    with session(server, "DSR_USER") as user:
        error = refused(user, f"SELECT ROLE_NAME FROM {DATABASE}.INFORMATION_SCHEMA.ENABLED_ROLES")
        assert error.errno == 2003  # USAGE on the database only through DSR_OTHER
        error = refused(user, "ALTER USER DSR_USER SET DEFAULT_SECONDARY_ROLES = ('DSR_OTHER')")
        assert error.errno == 1006
        run(user, default_secondary_roles("DSR_USER", all_roles=True))
        assert refused(user, default_secondary_roles("SEC_USER", all_roles=True)).errno == 3001
    with session(server, "DSR_USER") as user:
        assert enabled_roles(user) == {"DSR_PRIMARY", "DSR_OTHER", "PUBLIC"}
