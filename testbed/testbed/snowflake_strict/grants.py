"""The SQL that sets up each way privileges reach a session, for tests to run as the
administrator of the strict local Snowflake (and on a real account: it is Snowflake's).

The strict layer reads exactly these forms (testbed.snowflake_strict.access lists all it
reads), every name quoted as Snowflake writes a case-sensitive one:

    CREATE DATABASE ROLE "DB"."LOADING"
    GRANT USAGE ON DATABASE "DB" TO DATABASE ROLE "DB"."LOADING"
    GRANT USAGE, CREATE TABLE, CREATE STAGE ON SCHEMA "DB"."S" TO DATABASE ROLE "DB"."LOADING"
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLE "DB"."S"."T" TO DATABASE ROLE ...
    GRANT SELECT ON ALL TABLES IN SCHEMA "DB"."S" TO ...   (the tables there now)
    GRANT SELECT ON FUTURE TABLES IN SCHEMA "DB"."S" TO ... (the tables made later)
    GRANT DATABASE ROLE "DB"."LOADING" TO ROLE "LOADER"  (or TO USER "U", or TO DATABASE
        ROLE "DB"."OTHER" of the same database)
    GRANT ROLE "R" TO USER "U"
    GRANT <privileges> ON ... TO USER "U"
    ALTER USER "U" SET DEFAULT_SECONDARY_ROLES = ('ALL')  /  = ()
    USE SECONDARY ROLES ALL | NONE | "R1", "R2"
    REVOKE ... FROM ...: each GRANT above with FROM for TO

How they count (docs/snowflake-emulator-gaps.md, "Grant paths"): a database role's
privileges count for every session whose active roles inherit it; secondary roles (all the
user's roles unless DEFAULT_SECONDARY_ROLES = () or USE SECONDARY ROLES says otherwise)
authorize everything but CREATE <object>, which only the primary role does; privileges and
database roles granted to the user count only while all secondary roles are active.
INFORMATION_SCHEMA.ENABLED_ROLES never lists a database role, and OBJECT_PRIVILEGES lists
only grants to the primary role and the account roles it inherits.
"""

from __future__ import annotations

from collections.abc import Sequence

# What a loader needs on its schema and tables (docs/snowflake-privileges.md).
SCHEMA_PRIVILEGES = ("USAGE", "CREATE TABLE", "CREATE STAGE")
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")


def quote(*parts: str) -> str:
    """A name as Snowflake writes a case-sensitive one: each part double-quoted."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def to_role(role: str) -> str:
    """The grantee clause for an account role."""
    return f"ROLE {quote(role)}"


def to_database_role(database: str, role: str) -> str:
    return f"DATABASE ROLE {quote(database, role)}"


def to_user(user: str) -> str:
    return f"USER {quote(user)}"


def create_database_role(database: str, role: str) -> str:
    return f"CREATE DATABASE ROLE {quote(database, role)}"


def grant(
    privileges: Sequence[str], on: str, name: Sequence[str], grantee: str, *, revoke: bool = False
) -> str:
    """GRANT privileges ON <on> name TO grantee (REVOKE ... FROM with `revoke`); `on` is
    DATABASE, SCHEMA, TABLE, WAREHOUSE, or ALL TABLES IN SCHEMA / FUTURE TABLES IN SCHEMA."""
    verb, preposition = ("REVOKE", "FROM") if revoke else ("GRANT", "TO")
    return f"{verb} {', '.join(privileges)} ON {on} {quote(*name)} {preposition} {grantee}"


def grant_database_role(database: str, role: str, grantee: str, *, revoke: bool = False) -> str:
    """GRANT DATABASE ROLE db.role TO grantee (REVOKE ... FROM with `revoke`)."""
    verb, preposition = ("REVOKE", "FROM") if revoke else ("GRANT", "TO")
    return f"{verb} DATABASE ROLE {quote(database, role)} {preposition} {grantee}"


def grant_role(role: str, grantee: str, *, revoke: bool = False) -> str:
    """GRANT ROLE role TO grantee (REVOKE ... FROM with `revoke`)."""
    verb, preposition = ("REVOKE", "FROM") if revoke else ("GRANT", "TO")
    return f"{verb} ROLE {quote(role)} {preposition} {grantee}"


def default_secondary_roles(user: str, *, all_roles: bool) -> str:
    """ALTER USER ... SET DEFAULT_SECONDARY_ROLES = ('ALL') or = () (no secondary roles)."""
    value = "('ALL')" if all_roles else "()"
    return f"ALTER USER {quote(user)} SET DEFAULT_SECONDARY_ROLES = {value}"


def use_secondary_roles(*roles: str, all_roles: bool = False) -> str:
    """USE SECONDARY ROLES ALL (`all_roles`), the roles named, or NONE."""
    if all_roles:
        return "USE SECONDARY ROLES ALL"
    return f"USE SECONDARY ROLES {', '.join(quote(r) for r in roles) or 'NONE'}"


def loading_through_database_role(
    database: str, schema: str, database_role: str, grantee: str
) -> list[str]:
    """Everything a load into database.schema needs, held by a new database role granted to
    `grantee` (`to_role(...)` or `to_user(...)`): the database role, USAGE on the database,
    USAGE, CREATE TABLE and CREATE STAGE on the schema, and the grant of the role. Granted
    to a role that is the session's primary role, all of it counts; granted to a user or to
    a secondary role, the CREATE privileges do not (only the primary role creates)."""
    role = to_database_role(database, database_role)
    return [
        create_database_role(database, database_role),
        grant(["USAGE"], "DATABASE", [database], role),
        grant(SCHEMA_PRIVILEGES, "SCHEMA", [database, schema], role),
        grant_database_role(database, database_role, grantee),
    ]
