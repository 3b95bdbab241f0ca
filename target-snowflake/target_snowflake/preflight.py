"""The startup check: after login, before any input is read, the role does what a load
does, on throwaway objects in the target schema. What succeeds is allowed, whatever path
the grant took (a role the primary role inherits, a database role, a secondary role, a
grant to the user); what fails stops the run with the step, the object and the GRANT that
fixes it. INFORMATION_SCHEMA and CURRENT_ROLE() only explain a failure (they cannot see
every grant path, and the emulator lacks some of them); they never decide.

The steps (docs/snowflake-privileges.md), all in one session:
1. `USE SCHEMA db.schema`: USAGE on the database and the schema. The session keeps it as
   its schema, where the run's temporary objects go. If it fails and the role may create
   the schema, `CREATE SCHEMA db.schema` (never `IF NOT EXISTS` on an existing schema:
   that checks CREATE SCHEMA on the database even then) and `USE SCHEMA` again.
2. `CREATE TEMPORARY STAGE`: CREATE STAGE on the schema. This is the run's own stage,
   which every batch is PUT to (`RUN_STAGE`): the step costs nothing extra.
3. `CREATE TEMPORARY TABLE ... AS SELECT`: CREATE TABLE on the schema and a usable
   warehouse (writing a row needs compute; without a warehouse it fails with 000606).
4. `DROP TABLE` of that table.
Privileges on tables that exist already (SELECT, INSERT, UPDATE, DELETE; `overwrite`
empties a table with DELETE) are proven per table, at first use: `table_privilege_error`.

With a named `stage` (docs/external-stages.md), `check_stage` follows: DESCRIBE STAGE
(the stage exists and the role holds a privilege on it; its URL), then for an S3 stage a
small object put under `s3_key_prefix` (the bucket is writable with the target's AWS
credentials), a LIST of its path through the stage (USAGE on the stage, and the stage
reads the objects the target writes) and the object's removal; for an internal stage a
LIST of a path (READ).
"""

from __future__ import annotations

import contextlib
import re
import typing as t

from snowflake.connector.errors import ProgrammingError

from target_snowflake import statements
from target_snowflake.naming import quote
from target_snowflake.stages import BatchStage, NamedInternalStage, S3Stage, stage_url

if t.TYPE_CHECKING:
    from target_snowflake.connection import Connection

# The session's temporary stage that batches are PUT to, created by the check.
RUN_STAGE = quote("TARGET_SNOWFLAKE_STAGE")
# `#` keeps it apart from any table a stream could name (docs/snowflake-privileges.md).
PROBE_TABLE = quote("TARGET_SNOWFLAKE#CHECK")

NO_WAREHOUSE = 606
NOT_FOUND = 2003
ALREADY_EXISTS = 2002
INSUFFICIENT_PRIVILEGES = 3001
PRIMARY_ROLE_NOTE = (
    " (A CREATE privilege counts only through the primary role, not a secondary one.)"
)


class PreflightError(Exception):
    """The role lacks an object or privilege a run needs."""


def missing_privilege(what: str, grants: list[str]) -> PreflightError:
    sql = "\n".join(f"  {statement};" for statement in grants)
    return PreflightError(f"{what.rstrip('.')}. An administrator can grant it with:\n{sql}")


def server_said(exc: ProgrammingError) -> str:
    """Snowflake's error code and message on one line (its messages hold names, never
    secrets), without the query id."""
    message = " ".join(str(getattr(exc, "raw_msg", None) or exc).split()).rstrip(".")
    return f"Snowflake said: {exc.errno:06d}: {message}."


class StartupCheck:
    """The check for one session; `run` raises `PreflightError` at the first refusal."""

    def __init__(
        self,
        connection: Connection,
        database: str,
        schema: str,
        warehouse: str | None,
        role: str | None,
    ) -> None:
        self.connection = connection
        self.database = database
        self.schema = schema
        self.warehouse = warehouse
        self.configured_role = role
        self.schema_sql = f"{quote(database)}.{quote(schema)}"
        self.schema_name = f"{database}.{schema}"
        self.use_schema = f"USE SCHEMA {self.schema_sql}"

    def run(self) -> None:
        try:
            self.connection.execute(self.use_schema)
        except ProgrammingError as refused:
            if refused.errno != NOT_FOUND:
                raise self._schema_refused("use the schema", self.use_schema, refused, "") from None
            self._create_schema(refused)
            self.connection.execute(self.use_schema)
        self._create(
            "create the run's temporary stage", statements.create_stage(RUN_STAGE), "CREATE STAGE"
        )
        self._create(
            "create a temporary table holding one row",
            f"CREATE TEMPORARY TABLE {PROBE_TABLE} AS SELECT TRUE AS {quote('OK')}",
            "CREATE TABLE",
        )
        self.connection.execute(f"DROP TABLE {PROBE_TABLE}")

    # Steps

    def _create_schema(self, refused_use: ProgrammingError) -> None:
        """The schema is missing or the role may not use it: creating it tells which."""
        create = f"CREATE SCHEMA {self.schema_sql}"
        try:
            self.connection.execute(create)
        except ProgrammingError as refused:
            if refused.errno == ALREADY_EXISTS or "already exists" in server_said(refused):
                raise self._schema_refused(
                    "use the schema", self.use_schema, refused_use, ""
                ) from None
            role = self.role()
            raise self._refused(
                "create the schema",
                create,
                f"schema {self.schema_name} does not exist (or role {role} may not use it) "
                f"and role {role} may not create it",
                refused,
                [
                    create,
                    self._grant("USAGE, CREATE TABLE, CREATE STAGE", role),
                    f"-- or let the target create it: GRANT CREATE SCHEMA ON DATABASE "
                    f"{quote(self.database)} TO ROLE {quote(role)}",
                ],
            ) from None

    def _create(self, step: str, sql: str, privilege: str) -> None:
        """A CREATE in the schema: a refusal is the schema privilege (or the warehouse)."""
        try:
            self.connection.execute(sql)
        except ProgrammingError as refused:
            raise self._schema_refused(step, sql, refused, privilege) from None

    # Messages

    def _schema_refused(
        self, step: str, sql: str, refused: ProgrammingError, privilege: str
    ) -> PreflightError:
        """A refused step in the schema; `privilege` is the CREATE it needs ("" for USAGE)."""
        role = self.role()
        if refused.errno == NO_WAREHOUSE:
            configured = (
                f"`warehouse` is {self.warehouse}"
                if self.warehouse
                else "no `warehouse` is configured and the user has no default: set `warehouse`"
            )
            warehouse = quote(self.warehouse or "<warehouse>")
            return self._refused(
                step,
                sql,
                f"role {role} has no usable warehouse ({configured})",
                refused,
                [f"GRANT USAGE ON WAREHOUSE {warehouse} TO ROLE {quote(role)}"],
            )
        lacking = privilege or "USAGE"
        why = (
            f"role {role} lacks {lacking} on schema {self.schema_name}"
            if refused.errno in {INSUFFICIENT_PRIVILEGES, NOT_FOUND}
            else f"it needs {lacking} on schema {self.schema_name}"
        )
        return self._refused(
            step,
            sql,
            why,
            refused,
            [self._grant(lacking, role)],
            (PRIMARY_ROLE_NOTE if privilege else "") + self.listed_privileges(),
        )

    def _refused(
        self,
        step: str,
        sql: str,
        why: str,
        refused: ProgrammingError,
        grants: list[str],
        note: str = "",
    ) -> PreflightError:
        return missing_privilege(
            f"Startup check failed at step '{step}' ({sql}): {why}. {server_said(refused)}{note}",
            grants,
        )

    def _grant(self, privileges: str, role: str) -> str:
        return f"GRANT {privileges} ON SCHEMA {self.schema_sql} TO ROLE {quote(role)}"

    # Explanations (never decisions)

    def role(self) -> str:
        return current_role(self.connection, self.configured_role)

    def listed_privileges(self) -> str:
        """What INFORMATION_SCHEMA shows the session's enabled roles hold on the schema;
        empty if the views cannot be read."""
        db = quote(self.database)
        try:
            roles = {
                row[0]
                for row in self.connection.execute(
                    f"SELECT ROLE_NAME FROM {db}.INFORMATION_SCHEMA.ENABLED_ROLES"
                )
            }
            rows = self.connection.execute(
                f"SELECT GRANTEE, PRIVILEGE_TYPE FROM {db}.INFORMATION_SCHEMA.OBJECT_PRIVILEGES"
                " WHERE OBJECT_TYPE = 'SCHEMA' AND OBJECT_NAME = %s",
                (self.schema,),
            )
        except ProgrammingError:
            return ""
        held = sorted({privilege for grantee, privilege in rows if grantee in roles})
        return (
            f" INFORMATION_SCHEMA.OBJECT_PRIVILEGES lists for the enabled roles on schema "
            f"{self.schema_name}: {', '.join(held) or 'nothing'} (it does not list grants "
            "through database roles, secondary roles or to the user)."
        )


def check_privileges(connection: Connection, warehouse: str | None, role: str | None) -> None:
    """Raise `PreflightError` unless the session's role can load into the connection's
    database and schema (`warehouse` and `role` as configured, for messages).

    Afterwards the schema exists, is the session's schema, and holds `RUN_STAGE`.
    """
    StartupCheck(connection, connection.database, connection.schema, warehouse, role).run()


def check_stage(connection: Connection, stage: BatchStage, role: str | None) -> None:
    """Raise `PreflightError` unless the run can load through its named stage (nothing
    to check for the temporary stage, which `check_privileges` created). An S3 stage
    learns its URL's key prefix here. A `StageError` (the bucket) passes through."""
    if not isinstance(stage, NamedInternalStage | S3Stage):
        return
    external = isinstance(stage, S3Stage)
    privileges = "USAGE" if external else "READ, WRITE"

    def refused(step: str, sql: str, exc: ProgrammingError) -> PreflightError:
        who = current_role(connection, role)
        return missing_privilege(
            f"Startup check failed at step '{step}' ({sql}): stage {stage.name} does not "
            f"exist or role {who} lacks {privileges} on it. {server_said(exc)}",
            [f"GRANT {privileges} ON STAGE {stage.name} TO ROLE {quote(who)}"],
        )

    describe = statements.describe_stage(stage.name)
    try:
        url = stage_url(connection, stage.name)
    except ProgrammingError as exc:
        raise refused("describe the stage", describe, exc) from None
    if not isinstance(stage, S3Stage):
        if url:
            msg = f"stage {stage.name} is external ({url}): set `s3_bucket` to load through it"
            raise PreflightError(msg)
        listing = statements.list_stage(stage.name, "target_snowflake_check")
        try:
            connection.execute(listing)
        except ProgrammingError as exc:
            raise refused("list the stage", listing, exc) from None
        return
    stage.url_prefix = _url_prefix(stage, url)
    path = stage.check_writable()
    listing = statements.list_stage(stage.name, path)
    try:
        listed = connection.execute(listing)
    except ProgrammingError as exc:
        raise refused("list the check object through the stage", listing, exc) from None
    finally:
        stage.remove_check(path)
    if not any(str(row[0]).endswith(f"{path}/check.json") for row in listed):
        msg = (
            f"Startup check failed at step 'list the check object through the stage' "
            f"({listing}): the target wrote s3://{stage.settings.bucket}/{stage.url_prefix}"
            f"{path}/check.json but the stage ({url}) does not list it"
        )
        raise PreflightError(msg)


def _url_prefix(stage: S3Stage, url: str) -> str:
    """The key prefix of an S3 stage's URL, which `s3_key_prefix` must lie under."""
    bucket, _, prefix = (
        url.removeprefix("s3://").partition("/") if url.startswith("s3://") else ("", "", "")
    )
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    settings = stage.settings
    if not url.startswith("s3://") or bucket != settings.bucket:
        where = url or "an internal stage"
        msg = f"stage {stage.name} is {where}, not over bucket `s3_bucket` {settings.bucket}"
        raise PreflightError(msg)
    if not f"{settings.key_prefix}/".startswith(prefix):
        msg = (
            f"`s3_key_prefix` {settings.key_prefix!r} is outside stage {stage.name} ({url}): "
            f"it must start with {prefix!r}"
        )
        raise PreflightError(msg)
    return prefix


def current_role(connection: Connection, configured: str | None) -> str:
    """The session's primary role, for messages (the configured one if unreadable)."""
    with contextlib.suppress(ProgrammingError):
        current = connection.execute("SELECT CURRENT_ROLE()")[0][0]
        if current:
            return str(current)
    return configured or "<role>"


# What a statement on an existing table needs of it, by the statement's first word (a
# GRANT of privileges the role holds already changes nothing, so the whole set is named).
TABLE_PRIVILEGES = {
    "SELECT": "SELECT",
    "INSERT": "INSERT",
    "UPDATE": "SELECT, UPDATE",
    "DELETE": "SELECT, DELETE",
    "MERGE": "SELECT, INSERT, UPDATE",
    "TRUNCATE": "TRUNCATE",
}


def refused_on_table(
    connection: Connection, table: str, statement: str, doing: str
) -> PreflightError:
    """The error for a statement on an existing table refused for want of a privilege
    (003001): it names what the run was doing on the table and the GRANT. Privileges on
    tables are proven here, at first use, not by the startup check."""
    role = current_role(connection, None)
    kind = statement.split(None, 1)[0].upper()
    if kind == "ALTER":
        return missing_privilege(
            f"{doing} needs ownership of table {table}, which role {role} does not have "
            f"(statement: {statement})",
            [f"GRANT OWNERSHIP ON TABLE {table} TO ROLE {quote(role)} COPY CURRENT GRANTS"],
        )
    privileges = TABLE_PRIVILEGES.get(kind, "SELECT, INSERT, UPDATE, DELETE")
    if kind == "MERGE" and re.search(r"\bTHEN\s+DELETE\b", statement, re.IGNORECASE):
        privileges += ", DELETE"
    return missing_privilege(
        f"{doing}: role {role} lacks a privilege on table {table} that {kind} needs "
        f"({privileges})",
        [f"GRANT {privileges} ON TABLE {table} TO ROLE {quote(role)}"],
    )
