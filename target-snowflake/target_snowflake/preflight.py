"""The startup check: after login, before any input is read, the role must be able to do
everything a run does. A failure names what is missing and the SQL that grants it.

What a run needs (docs/snowflake-privileges.md):
- a warehouse the role may use (USAGE; the session has none otherwise);
- USAGE on the database;
- on the schema: USAGE, CREATE TABLE and CREATE STAGE (the batches go through a temporary
  stage and temporary tables), or ownership of it;
- if the schema does not exist yet: CREATE SCHEMA on the database.
Tables the target creates are owned by its role; a table created by someone else needs
its ownership transferred (ALTER TABLE needs it).
"""

from __future__ import annotations

import typing as t

from target_snowflake.naming import quote

if t.TYPE_CHECKING:
    from target_snowflake.connection import Connection

SCHEMA_PRIVILEGES = ("USAGE", "CREATE TABLE", "CREATE STAGE")


class PreflightError(Exception):
    """The role lacks an object or privilege a run needs."""


def missing_privilege(what: str, grants: list[str]) -> PreflightError:
    sql = "\n".join(f"  {statement};" for statement in grants)
    return PreflightError(f"{what}. An administrator can grant it with:\n{sql}")


def check_privileges(
    connection: Connection, database: str, schema: str, warehouse: str | None
) -> bool:
    """Raise `PreflightError` unless the session's role can load into database.schema.

    Returns whether the schema exists (if not, the role may create it).
    """
    role, current_warehouse = connection.execute("SELECT CURRENT_ROLE(), CURRENT_WAREHOUSE()")[0]
    role_sql = quote(role) if role else "<role>"
    if not current_warehouse:
        raise missing_privilege(
            f"Role {role} has no usable warehouse ({warehouse or 'no `warehouse` configured'})",
            [f"GRANT USAGE ON WAREHOUSE {quote(warehouse or '<warehouse>')} TO ROLE {role_sql}"],
        )
    db = quote(database)
    roles = {
        row[0]
        for row in connection.execute(
            f"SELECT ROLE_NAME FROM {db}.INFORMATION_SCHEMA.ENABLED_ROLES"
        )
    }
    held: dict[tuple[str, str], set[str]] = {}
    for grantee, kind, _catalog, _schema, name, privilege in connection.execute(
        "SELECT GRANTEE, OBJECT_TYPE, OBJECT_CATALOG, OBJECT_SCHEMA, OBJECT_NAME, PRIVILEGE_TYPE"
        f" FROM {db}.INFORMATION_SCHEMA.OBJECT_PRIVILEGES"
        " WHERE OBJECT_TYPE IN ('DATABASE', 'SCHEMA')"
    ):
        if grantee in roles:
            held.setdefault((kind, name), set()).add(privilege)
    on_database = held.get(("DATABASE", database), set())
    if not on_database & {"USAGE", "OWNERSHIP"}:
        raise missing_privilege(
            f"Role {role} may not use database {database}",
            [f"GRANT USAGE ON DATABASE {db} TO ROLE {role_sql}"],
        )
    qualified = f"{db}.{quote(schema)}"
    exists = bool(
        connection.execute(
            f"SELECT SCHEMA_NAME FROM {db}.INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = %s",
            (schema,),
        )
    )
    if not exists:
        if not on_database & {"CREATE SCHEMA", "OWNERSHIP"}:
            raise missing_privilege(
                f"Schema {database}.{schema} does not exist and role {role} may not create it",
                [
                    f"CREATE SCHEMA {qualified}",
                    f"GRANT {', '.join(SCHEMA_PRIVILEGES)} ON SCHEMA {qualified} TO ROLE "
                    f"{role_sql}",
                    f"-- or let the target create it: GRANT CREATE SCHEMA ON DATABASE {db} "
                    f"TO ROLE {role_sql}",
                ],
            )
        return False
    on_schema = held.get(("SCHEMA", schema), set())
    lacking = [p for p in SCHEMA_PRIVILEGES if p not in on_schema]
    if "OWNERSHIP" not in on_schema and lacking:
        raise missing_privilege(
            f"Role {role} lacks {', '.join(lacking)} on schema {database}.{schema}",
            [f"GRANT {', '.join(lacking)} ON SCHEMA {qualified} TO ROLE {role_sql}"],
        )
    return True
