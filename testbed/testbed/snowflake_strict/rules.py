"""The rules real Snowflake applies to a statement and fakesnow does not.

`check` inspects one parsed statement (sqlglot, Snowflake dialect) for one session and
returns a `StrictError` shaped like Snowflake's, or None. `apply` records what a
successful statement changed (objects created, dropped, renamed; current database and
schema; transaction state). Every rule has a name in `RULES`; the tests prove each fires.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from testbed.snowflake_strict.account import (
    ACCOUNT,
    ALL_SECONDARY_ROLES,
    Account,
    Columns,
    Grantee,
    ObjectKey,
    SecondaryRoles,
)

MAX_IDENTIFIER_LENGTH = 255
# A VARCHAR declared without a length holds up to 16,777,216 characters; the longest
# declarable is 134,217,728 (values up to 128 MB since the 2024_08 behaviour change).
DEFAULT_VARCHAR_LENGTH = 16_777_216

RULES = {
    "privileges": "a role needs the privilege for each object a statement creates or uses "
    "(CREATE DATABASE/SCHEMA are checked even when the object exists)",
    "grant-paths": "privileges reach a session through its primary and secondary roles, the "
    "roles and database roles they inherit and grants to the user; a CREATE privilege only "
    "through the primary role; database roles are refused where Snowflake refuses them",
    "login": "unknown user, wrong password, a role not granted to the user are refused; "
    "with CLIENT_VALIDATE_DEFAULT_PARAMETERS an unusable database/schema/warehouse too",
    "warehouse": "a statement that needs compute fails without a usable warehouse (000606)",
    "case-sensitive-identifiers": 'quoted identifiers are case-sensitive: `"raw"` is not ' "`RAW`",
    "identifier-length": "identifiers are at most 255 characters",
    "alter-column-type": "ALTER COLUMN ... SET DATA TYPE only widens VARCHAR or NUMBER "
    "precision at the same scale",
    "ddl-in-transaction": "DDL inside an open transaction is refused (Snowflake would "
    "commit the transaction implicitly)",
    "statement-timeout": "STATEMENT_TIMEOUT_IN_SECONDS cancels a statement that runs longer "
    "(with the configurable statement delay)",
    "session-parameters": "ALTER SESSION and login session parameters are kept per session; "
    "unknown parameters are refused",
    "json-duplicate-keys": "COPY of JSON refuses an object with a duplicate key unless the "
    "file format says ALLOW_DUPLICATE = TRUE",
    "case-sensitive-columns": 'quoted column names are case-sensitive: `"id"` is not the '
    "column `ID` (000904); columns differing only in case, which Snowflake allows and "
    "fakesnow cannot store, are refused as an emulator gap",
    "varchar-length": "INSERT, COPY, MERGE and UPDATE fail with 100078 and have no effect "
    "when a value is longer than its column's declared VARCHAR(n)",
    "nondeterministic-merge": "a MERGE that would update a target row from more than one "
    "source row fails with 100090 (unless ERROR_ON_NONDETERMINISTIC_MERGE is off)",
    "visibility": "SHOW and INFORMATION_SCHEMA list only objects the role holds a privilege "
    "on; SHOW needs USAGE on the database or schema it lists",
}

# Session parameters the layer knows: Snowflake's default and type of each (SHOW
# PARAMETERS). TIMEZONE is the local account's: fakesnow runs in UTC.
SESSION_PARAMETERS: dict[str, tuple[str, str]] = {
    "ABORT_DETACHED_QUERY": ("false", "BOOLEAN"),
    "AUTOCOMMIT": ("true", "BOOLEAN"),
    "BINARY_OUTPUT_FORMAT": ("HEX", "STRING"),
    "CLIENT_SESSION_KEEP_ALIVE": ("false", "BOOLEAN"),
    "CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY": ("3600", "NUMBER"),
    "CLIENT_VALIDATE_DEFAULT_PARAMETERS": ("false", "BOOLEAN"),
    "DATE_INPUT_FORMAT": ("AUTO", "STRING"),
    "DATE_OUTPUT_FORMAT": ("YYYY-MM-DD", "STRING"),
    "ERROR_ON_NONDETERMINISTIC_MERGE": ("true", "BOOLEAN"),
    "JSON_INDENT": ("2", "NUMBER"),
    "LOCK_TIMEOUT": ("43200", "NUMBER"),
    "QUERY_TAG": ("", "STRING"),
    "QUOTED_IDENTIFIERS_IGNORE_CASE": ("false", "BOOLEAN"),
    "STATEMENT_QUEUED_TIMEOUT_IN_SECONDS": ("0", "NUMBER"),
    "STATEMENT_TIMEOUT_IN_SECONDS": ("172800", "NUMBER"),
    "TIMESTAMP_INPUT_FORMAT": ("AUTO", "STRING"),
    "TIMESTAMP_LTZ_OUTPUT_FORMAT": ("", "STRING"),
    "TIMESTAMP_NTZ_OUTPUT_FORMAT": ("YYYY-MM-DD HH24:MI:SS.FF3", "STRING"),
    "TIMESTAMP_OUTPUT_FORMAT": ("YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM", "STRING"),
    "TIMESTAMP_TYPE_MAPPING": ("TIMESTAMP_NTZ", "STRING"),
    "TIMESTAMP_TZ_OUTPUT_FORMAT": ("", "STRING"),
    "TIMEZONE": ("Etc/UTC", "STRING"),
    "TIME_INPUT_FORMAT": ("AUTO", "STRING"),
    "TIME_OUTPUT_FORMAT": ("HH24:MI:SS", "STRING"),
    "TRANSACTION_ABORT_ON_ERROR": ("false", "BOOLEAN"),
    "USE_CACHED_RESULT": ("true", "BOOLEAN"),
    "WEEK_START": ("0", "NUMBER"),
}

_COMPUTE = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Copy)
_WRITES = (exp.Insert, exp.Update, exp.Merge, exp.Copy)
_TEXT = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR}
TableKey = tuple[str, str, str]
_DDL = (exp.Create, exp.Drop, exp.Alter, exp.Grant, exp.Revoke)
# What SHOW lists inside a schema that the account keeps as tables (views included).
_SCHEMA_OBJECTS = {"OBJECTS", "TABLES", "VIEWS"}


@dataclass
class StrictError(Exception):
    """A refusal in Snowflake's shape: error code, SQL state, message; the rule's name."""

    code: str
    sqlstate: str
    message: str
    rule: str


@dataclass
class Session:
    token: str
    user: str
    role: str
    warehouse: str | None
    database: str | None
    schema: str | None
    parameters: dict[str, object] = field(default_factory=dict)
    in_transaction: bool = False
    # USE SECONDARY ROLES; at login the user's DEFAULT_SECONDARY_ROLES
    secondary: SecondaryRoles = ALL_SECONDARY_ROLES


def identifier(node: exp.Expr | str | None) -> str:
    """The name as Snowflake resolves it: unquoted upper-cased, quoted as written."""
    if node is None:
        return ""
    if isinstance(node, exp.Table | exp.Column):
        node = node.this
    if isinstance(node, str):
        return node.upper()
    if isinstance(node, exp.Identifier):
        return node.this if node.quoted else node.this.upper()
    return node.name.upper()


def declared_length(dtype: exp.DataType) -> int | None:
    """A text type's length in characters (VARCHAR without one: 16,777,216; CHAR: 1); None
    for other types."""
    if dtype.this not in _TEXT:
        return None
    params = [int(p.this.this) for p in dtype.expressions if isinstance(p.this, exp.Literal)]
    if params:
        return params[0]
    return 1 if dtype.this == exp.DataType.Type.CHAR else DEFAULT_VARCHAR_LENGTH


def quoted(name: str) -> str:
    """A resolved name as Snowflake writes it in messages: bare if upper case, else quoted."""
    return name if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name) else f'"{name}"'


def parts_of(table: exp.Table) -> list[exp.Identifier]:
    """A table name's parts (database, schema, name), as many as it has."""
    return [
        part
        for part in (table.args.get("catalog"), table.args.get("db"), table.this)
        if isinstance(part, exp.Identifier) and part.this
    ]


def _qualified(parts: tuple[str, ...]) -> str:
    return ".".join(quoted(p) for p in parts)


def not_found(key: ObjectKey) -> StrictError:
    kind, parts = key
    noun = {"DATABASE": "Database", "SCHEMA": "Schema", "TABLE": "Object"}.get(kind, kind)
    return StrictError(
        "002003",
        "02000",
        f"SQL compilation error:\n{noun} '{_qualified(parts)}' does not exist or not authorized.",
        "privileges",
    )


def insufficient(what: str) -> StrictError:
    return StrictError(
        "003001",
        "42501",
        f"SQL access control error:\nInsufficient privileges to operate on {what}",
        "privileges",
    )


class Checker:
    """Resolves a statement's objects for one session and checks them against the account."""

    def __init__(
        self,
        account: Account,
        session: Session,
        column_type: Callable[[tuple[str, str, str], str], tuple[str, int | None, int | None]],
        read_columns: Callable[[TableKey], Columns],
    ) -> None:
        self.account = account
        self.session = session
        self.column_type = column_type  # (table, column) -> (type, length/precision, scale)
        self.read_columns = read_columns  # a table's columns as fakesnow reports them

    def principals(self, creating: bool = False) -> set[Grantee]:
        """Whose privileges the session acts with: every active role (primary and
        secondary, with what each inherits, and the user's own grants), or for a CREATE
        <object> privilege (`creating`) the primary role's hierarchy only."""
        session = self.session
        secondary = frozenset() if creating else session.secondary
        return self.account.principals(session.user, session.role, secondary)

    # Names

    def database_of(self, parts: list[exp.Identifier]) -> str:
        return identifier(parts[-1])

    def schema_key(self, parts: list[exp.Identifier]) -> tuple[str, str]:
        names = [identifier(p) for p in parts]
        if len(names) == 1:
            return (self._current_database(), names[0])
        return (names[-2], names[-1])

    def table_key(self, table: exp.Table) -> tuple[str, str, str]:
        names = [identifier(p) for p in parts_of(table)]
        if len(names) == 3:
            return (names[0], names[1], names[2])
        if len(names) == 2:
            return (self._current_database(), names[0], names[1])
        return (self._current_database(), self._current_schema(), names[0])

    def _current_database(self) -> str:
        if self.session.database is None:
            msg = "Cannot perform operation. This session does not have a current database."
            raise StrictError("090105", "22000", msg, "privileges")
        return self.session.database

    def _current_schema(self) -> str:
        if self.session.schema is None:
            msg = "Cannot perform operation. This session does not have a current schema."
            raise StrictError("090106", "22000", msg, "privileges")
        return self.session.schema

    # Object checks

    def _exists(self, key: ObjectKey) -> bool:
        if self.account.exists(key, self.session.token):
            return True
        if (other := self.account.same_but_case(key)) is not None:
            kind, parts = key
            raise StrictError(
                "002003",
                "02000",
                f"SQL compilation error:\n{kind.title()} '{_qualified(parts)}' does not "
                f"exist or not authorized. (A {kind.lower()} named {other} exists: quoted "
                "identifiers are case-sensitive.)",
                "case-sensitive-identifiers",
            )
        return False

    def use_database(self, database: str) -> None:
        key: ObjectKey = ("DATABASE", (database,))
        if not self._exists(key) or not self.account.has(self.principals(), "USAGE", key):
            raise not_found(key)

    def use_schema(self, schema: tuple[str, str]) -> None:
        self.use_database(schema[0])
        key: ObjectKey = ("SCHEMA", schema)
        if schema[1] == "INFORMATION_SCHEMA":
            return
        if not self._exists(key) or not self.account.has(self.principals(), "USAGE", key):
            raise not_found(key)

    def use_table(self, table: tuple[str, str, str], privilege: str) -> None:
        self.use_schema((table[0], table[1]))
        if table[1] == "INFORMATION_SCHEMA":
            return
        key: ObjectKey = ("TABLE", table)
        # A role holding no privilege at all on a table cannot tell it exists.
        token = self.session.token
        if not self._exists(key) or not self.account.visible(self.principals(), key, token):
            raise not_found(key)
        if not self.account.has(self.principals(), privilege, key, token):
            raise insufficient(f"table '{table[2]}'" if privilege != "OWNERSHIP" else "table")

    def create_in_schema(self, schema: tuple[str, str], privilege: str, what: str) -> None:
        self.use_schema(schema)
        # USAGE on the schema may come from any active role, the CREATE privilege only from
        # the primary role (which will own the object)
        if not self.account.has(self.principals(creating=True), privilege, ("SCHEMA", schema)):
            raise insufficient(f"schema '{schema[1]}' ({privilege} needed to create {what})")

    # Rules

    def check(self, statement: exp.Expr) -> None:
        self._identifier_lengths(statement)
        ddl = isinstance(statement, _DDL) and not _is_session_statement(statement)
        if ddl and self.session.in_transaction:
            raise StrictError(
                "000999",
                "25000",
                "DDL inside an open transaction: Snowflake commits the open transaction "
                "implicitly before a DDL statement (strict local Snowflake)",
                "ddl-in-transaction",
            )
        self._privileges(statement)
        if self._needs_compute(statement) and self.session.warehouse is None:
            raise StrictError(
                "000606",
                "57P03",
                "No active warehouse selected in the current session.  Select an active "
                "warehouse with the 'use warehouse' command.\n",
                "warehouse",
            )
        for action in statement.find_all(exp.AlterColumn):
            if action.args.get("dtype") is not None:
                table = statement.find(exp.Table)
                assert table is not None
                self._alter_column_type(self.table_key(table), action)
        self._column_names(statement)

    # Columns

    def columns(self, table: TableKey) -> Columns:
        """The table's columns by exact name (empty for a table the layer does not know)."""
        info = self.account.table(table, self.session.token)
        if info is None:
            return {}
        if info.columns is None:
            info.columns = self.read_columns(self.in_fakesnow(table))
        return info.columns

    # Temporary objects with a qualified name

    def physical_name(self, name: str) -> str:
        """The name fakesnow holds this session's temporary table or view `name` under.

        fakesnow (DuckDB) keeps temporary objects in a catalog of their own ("temp") and
        refuses a temporary object named with a database or schema (dbt names every one
        so). The layer makes such an object an ordinary one in the schema it names, under
        this name, hides it from every other session, routes this session's references
        to it, and drops it when the session closes.
        """
        return f"{name}#TEMP#{self.session.token[:12]}"

    def in_fakesnow(self, table: TableKey) -> TableKey:
        """A table's name as fakesnow knows it (other than its own for a temporary object
        held apart: `physical_name`)."""
        info = self.account.table(table, self.session.token)
        if info is None or info.physical is None or info.temporary_session != self.session.token:
            return table
        return (table[0], table[1], info.physical)

    def _column_names(self, statement: exp.Expr) -> None:
        """Column names resolve case-sensitively (fakesnow resolves them ignoring case)."""
        if isinstance(statement, exp.Create):
            schema = statement.this
            if isinstance(schema, exp.Schema):
                names = [
                    identifier(d.this) for d in schema.expressions if isinstance(d, exp.ColumnDef)
                ]
                _no_case_twins(names, {})
            return
        if not isinstance(statement, (*_COMPUTE, exp.Select, exp.Alter)):
            return
        known: Columns = {}
        for table in self.tables(statement):
            known.update(self.columns(self.table_key(table)))
        if not known:
            return
        folded = {name.upper(): name for name in known}
        defined, references = _column_references(statement)
        for reference in references:
            name = identifier(reference)
            if name in known or name in defined or name.upper() not in folded:
                continue
            raise StrictError(
                "000904",
                "42000",
                f"SQL compilation error:\ninvalid identifier '{quoted(name)}' (the column is "
                f"{quoted(folded[name.upper()])}: quoted identifiers are case-sensitive)",
                "case-sensitive-columns",
            )
        if isinstance(statement, exp.Alter):
            new = [
                action.this
                for action in statement.args.get("actions") or []
                if isinstance(action, exp.ColumnDef)
            ]
            new += [
                action.args["to"]
                for action in statement.args.get("actions") or []
                if isinstance(action, exp.RenameColumn)
            ]
            _no_case_twins([identifier(node) for node in new], known)

    def write_limits(self, statement: exp.Expr) -> tuple[TableKey, dict[str, int]] | None:
        """The table a write statement changes and its columns declared shorter than the
        default VARCHAR length (which no test value comes near): the lengths to enforce."""
        if not isinstance(statement, _WRITES):
            return None
        table = statement.find(exp.Table)
        if table is None or not self._is_real_table(table):
            return None
        key = self.table_key(table)
        limits = {
            name: length
            for name, length in self.columns(key).items()
            if length is not None and length < DEFAULT_VARCHAR_LENGTH
        }
        return (key, limits) if limits else None

    def _identifier_lengths(self, statement: exp.Expr) -> None:
        for node in statement.find_all(exp.Identifier):
            if len(node.this) > MAX_IDENTIFIER_LENGTH:
                raise StrictError(
                    "001003",
                    "42000",
                    f"SQL compilation error:\nidentifier '{node.this[:40]}...' is too long: "
                    f"{len(node.this)} characters, at most {MAX_IDENTIFIER_LENGTH}",
                    "identifier-length",
                )

    def _needs_compute(self, statement: exp.Expr) -> bool:
        if isinstance(statement, _COMPUTE):
            return True
        if isinstance(statement, exp.Create) and statement.args.get("kind") == "TABLE":
            return statement.expression is not None  # CREATE TABLE ... AS SELECT
        if isinstance(statement, exp.Select):  # a query over a table (not metadata)
            return any(
                "INFORMATION_SCHEMA" not in {identifier(p) for p in parts_of(table)}
                for table in self.tables(statement)
            )
        return False

    @staticmethod
    def _is_real_table(table: exp.Table) -> bool:
        parts = parts_of(table)
        return (
            bool(parts)
            and not parts[-1].this.startswith("@")
            and not isinstance(table.this, exp.Func)
        )

    def tables(self, statement: exp.Expr) -> Iterator[exp.Table]:
        """The tables and views a statement names (not stages, table functions or CTEs)."""
        ctes = {identifier(cte.args["alias"].this) for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if not self._is_real_table(table):
                continue
            names = [identifier(p) for p in parts_of(table)]
            if len(names) == 1 and names[0] in ctes:
                continue
            yield table

    def _privileges(self, statement: exp.Expr) -> None:
        if isinstance(statement, exp.Create):
            self._create(statement)
            return
        if isinstance(statement, exp.Show):
            self._show(statement)
            return
        if isinstance(statement, exp.Use):
            kind = use_kind(statement)
            table = statement.this
            if isinstance(table, exp.Table):
                if kind == "DATABASE":
                    self.use_database(self.database_of(parts_of(table)))
                elif kind == "SCHEMA":
                    self.use_schema(self.schema_key(parts_of(table)))
            return
        if isinstance(statement, exp.Drop):
            kind = (statement.args.get("kind") or "").upper()
            for table in statement.args.get("tables") or [statement.this]:
                if not isinstance(table, exp.Table):
                    continue
                key = self._drop_key(kind, table)
                if key is None:
                    continue
                if not self._exists(key):
                    if statement.args.get("exists"):
                        continue
                    raise not_found(key)
                if not self.account.has(self.principals(), "OWNERSHIP", key, self.session.token):
                    raise insufficient(f"{kind.lower()} '{key[1][-1]}'")
            return
        if isinstance(statement, exp.Alter) and (statement.args.get("kind") or "") == "TABLE":
            tables = list(self.tables(statement))
            self.use_table(self.table_key(tables[0]), "OWNERSHIP")
            return
        target: exp.Table | None = None
        privileges: set[str] = set()
        if isinstance(statement, exp.Insert | exp.Copy):
            target, privileges = statement.find(exp.Table), {"INSERT"}
        elif isinstance(statement, exp.Update):
            target, privileges = statement.find(exp.Table), {"UPDATE"}
        elif isinstance(statement, exp.Delete):
            target, privileges = statement.find(exp.Table), {"DELETE"}
        elif isinstance(statement, exp.TruncateTable):
            target, privileges = statement.find(exp.Table), {"TRUNCATE"}
        elif isinstance(statement, exp.Merge):
            target = statement.find(exp.Table)
            for when in statement.find_all(exp.When):
                then = when.args.get("then")
                privileges.add(
                    "INSERT"
                    if isinstance(then, exp.Insert)
                    else "UPDATE"
                    if isinstance(then, exp.Update)
                    else "DELETE"
                )
        for table in self.tables(statement):
            wanted = privileges if table is target else {"SELECT"}
            name = self.table_key(table)
            for privilege in wanted:
                self.use_table(name, privilege)

    def _drop_key(self, kind: str, table: exp.Table) -> ObjectKey | None:
        parts = parts_of(table)
        if kind == "DATABASE":
            return ("DATABASE", (self.database_of(parts),))
        if kind == "SCHEMA":
            return ("SCHEMA", self.schema_key(parts))
        if kind in {"TABLE", "VIEW"}:
            return ("TABLE", self.table_key(table))
        return None

    def _show(self, statement: exp.Show) -> None:
        """SHOW ... IN DATABASE/SCHEMA/TABLE needs USAGE on the container (what it lists is
        filtered by `shown`); without a scope, the current schema's or database's."""
        scope, scope_kind = statement.args.get("scope"), statement.args.get("scope_kind")
        parts = parts_of(scope) if isinstance(scope, exp.Table) else []
        if scope_kind == "DATABASE" and parts:
            self.use_database(self.database_of(parts))
        elif scope_kind == "SCHEMA" and parts:
            try:
                self.use_schema(self.schema_key(parts))
            except StrictError as error:
                # Snowflake's answer to SHOW in a schema that is not there (dbt reads the
                # code as "nothing in it yet")
                raise StrictError(
                    "002043",
                    "02000",
                    "SQL compilation error:\nObject does not exist, or operation cannot be "
                    "performed.",
                    "visibility",
                ) from error
        elif scope_kind in {"TABLE", "VIEW"} and isinstance(scope, exp.Table):
            key = self.table_key(scope)
            if not self._exists(("TABLE", key)) or not self.account.visible(
                self.principals(), ("TABLE", key), self.session.token
            ):
                raise not_found(("TABLE", key))
        elif scope_kind is None and statement.name.upper() == "SCHEMAS":
            self.use_database(self._current_database())
        elif scope_kind is None and statement.name.upper() in _SCHEMA_OBJECTS:
            self.use_schema((self._current_database(), self._current_schema()))

    def shown(self, statement: exp.Show, row: dict[str, object]) -> bool:
        """Whether a row of SHOW's answer names an object the role may see (Snowflake
        lists only objects on which the role holds some privilege)."""
        what = statement.name.upper()
        database, name = str(row.get("database_name")), str(row.get("name"))
        if what == "SCHEMAS":
            key: ObjectKey = ("SCHEMA", (database, name))
            return name.upper() == "INFORMATION_SCHEMA" or self._visible(key)
        if what == "DATABASES":
            return self._visible(("DATABASE", (name,)))
        if what == "COLUMNS":
            name = str(row.get("table_name"))
        if what in _SCHEMA_OBJECTS or what == "COLUMNS":
            return self._visible(("TABLE", (database, str(row.get("schema_name")), name)))
        return True

    def _visible(self, key: ObjectKey) -> bool:
        # A name the account does not know is fakesnow's own for a temporary object
        # (`physical_name`), which Snowflake would not list.
        if key[0] == "TABLE" and not self.account.exists(key):
            return False
        return self.account.visible(self.principals(), key)

    def visible_tables(self, database: str) -> list[TableKey]:
        """The tables and views of a database the role may see in INFORMATION_SCHEMA
        (not temporary ones)."""
        principals = self.principals()
        return sorted(
            key
            for key in self.account.tables
            if key[0] == database and self.account.visible(principals, ("TABLE", key))
        )

    def visible_schemas(self, database: str) -> list[str]:
        """The schemas of a database the role may see in INFORMATION_SCHEMA."""
        principals = self.principals()
        return sorted(
            schema
            for db, schema in self.account.schemas
            if db == database and self.account.visible(principals, ("SCHEMA", (db, schema)))
        )

    def _create(self, statement: exp.Create) -> None:
        kind, table = created(statement)
        if table is None:
            return
        parts = parts_of(table)
        if kind == "DATABASE":
            # Checked even with IF NOT EXISTS and even when the database exists.
            if not self.account.has(self.principals(creating=True), "CREATE DATABASE", ACCOUNT):
                raise insufficient("account (CREATE DATABASE needed)")
            self._exists(("DATABASE", (self.database_of(parts),)))
        elif kind == "SCHEMA":
            schema = self.schema_key(parts)
            database: ObjectKey = ("DATABASE", (schema[0],))
            if not self._exists(database):
                raise not_found(database)
            if not self.account.has(self.principals(creating=True), "CREATE SCHEMA", database):
                raise insufficient(f"database '{schema[0]}' (CREATE SCHEMA needed)")
            self._exists(("SCHEMA", schema))
        elif kind in {"TABLE", "STAGE", "FILE FORMAT", "VIEW", "SEQUENCE"}:
            key = self.table_key(table)
            self.create_in_schema((key[0], key[1]), f"CREATE {kind}", kind.lower())
            if kind in {"TABLE", "VIEW"}:
                exists = self._exists(("TABLE", key)) and self._replaces(statement, key)
                if exists and statement.args.get("replace"):
                    self.use_table(key, "OWNERSHIP")
                like = statement.find(exp.LikeProperty)
                if like is not None and isinstance(like.this, exp.Table):
                    self.use_table(self.table_key(like.this), "SELECT")
                # AS SELECT reads its sources with the creating role's privileges (a view's
                # owner must be able to read what it selects).
                if statement.expression is not None:
                    for source in self.tables(statement.expression):
                        self.use_table(self.table_key(source), "SELECT")

    def _alter_column_type(self, table: tuple[str, str, str], action: exp.AlterColumn) -> None:
        column = identifier(action.this)
        current, size, scale = self.column_type(self.in_fakesnow(table), column)
        dtype: exp.DataType = action.args["dtype"]
        params = [int(p.this.this) for p in dtype.expressions if isinstance(p.this, exp.Literal)]
        new = dtype.this
        text = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR}
        numbers = {exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL}
        allowed = False
        if current in {"TEXT", "VARCHAR"} and new in text:
            length = params[0] if params else DEFAULT_VARCHAR_LENGTH
            allowed = length >= (size or DEFAULT_VARCHAR_LENGTH)
        elif current in {"NUMBER", "DECIMAL"} and new in numbers:
            precision = params[0] if params else 38
            new_scale = params[1] if len(params) > 1 else 0
            allowed = new_scale == (scale or 0) and precision >= (size or 38)
        if not allowed:
            raise StrictError(
                "002108",
                "22000",
                f"SQL compilation error: cannot change column {column} from type {current}"
                f"{f'({size})' if size else ''} to {dtype.sql('snowflake')}",
                "alter-column-type",
            )

    # Effects of a successful statement

    def apply(self, statement: exp.Expr) -> None:
        account, session = self.account, self.session
        if isinstance(statement, exp.Transaction):
            session.in_transaction = True
        elif isinstance(statement, exp.Commit | exp.Rollback):
            session.in_transaction = False
        elif isinstance(statement, exp.Use):
            kind = use_kind(statement)
            if isinstance(statement.this, exp.Table):
                parts = parts_of(statement.this)
                if kind == "DATABASE":
                    session.database, session.schema = self.database_of(parts), "PUBLIC"
                elif kind == "SCHEMA":
                    session.database, session.schema = self.schema_key(parts)
        elif isinstance(statement, exp.Create):
            self._record_create(statement)
        elif isinstance(statement, exp.Drop):
            kind = (statement.args.get("kind") or "").upper()
            for table in statement.args.get("tables") or [statement.this]:
                if isinstance(table, exp.Table) and (key := self._drop_key(kind, table)):
                    account.drop(key, session.token)
        elif isinstance(statement, exp.Alter) and (statement.args.get("kind") or "") == "TABLE":
            rename = statement.find(exp.AlterRename)
            tables = list(self.tables(statement))
            if rename is not None and len(tables) == 2:
                old, new = self.table_key(tables[0]), self.table_key(tables[1])
                if len(parts_of(tables[1])) == 1:  # a bare new name stays in the old schema
                    new = (old[0], old[1], new[2])
                account.rename_table(old, new)
            elif tables:
                self._record_column_changes(self.table_key(tables[0]), statement)

    def _record_column_changes(self, table: TableKey, statement: exp.Alter) -> None:
        info = self.account.table(table, self.session.token)
        if info is None or info.columns is None:
            return
        columns = info.columns
        for action in statement.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                columns[identifier(action.this)] = _length_of(action)
            elif isinstance(action, exp.Drop) and (action.args.get("kind") or "") == "COLUMN":
                for column in action.args.get("tables") or []:
                    columns.pop(identifier(column), None)
            elif isinstance(action, exp.RenameColumn):
                length = columns.pop(identifier(action.this), None)
                columns[identifier(action.args["to"])] = length
            elif isinstance(action, exp.AlterColumn) and action.args.get("dtype") is not None:
                columns[identifier(action.this)] = declared_length(action.args["dtype"])

    def _record_create(self, statement: exp.Create) -> None:
        kind, table = created(statement)
        if table is None:
            return
        parts, role = parts_of(table), self.session.role
        if kind == "DATABASE":
            database = self.database_of(parts)
            if not self.account.exists(("DATABASE", (database,))):
                self.account.create(("DATABASE", (database,)), role)
                self.account.create(("SCHEMA", (database, "PUBLIC")), role)
        elif kind == "SCHEMA":
            schema = self.schema_key(parts)
            if not self.account.exists(("SCHEMA", schema)):
                self.account.create(("SCHEMA", schema), role)
        elif kind in {"TABLE", "VIEW"}:
            key = self.table_key(table)
            temporary = statement.find(exp.TemporaryProperty) is not None
            if not self._replaces(statement, key) or statement.args.get("replace"):
                self.account.create(
                    ("TABLE", key),
                    role,
                    self.session.token if temporary else None,
                    self._declared_columns(statement) if kind == "TABLE" else None,
                    kind,
                    self.physical_name(key[2]) if held_apart(statement) else None,
                )

    def _replaces(self, statement: exp.Create, key: TableKey) -> bool:
        """Whether a CREATE TABLE/VIEW names an existing object it would replace: for a
        temporary one only the session's own temporary object of that name (a permanent
        one it shadows for the session), for a permanent one a permanent one."""
        if statement.find(exp.TemporaryProperty) is not None:
            return (self.session.token, key) in self.account.temporary
        return key in self.account.tables

    def _declared_columns(self, statement: exp.Create) -> Columns | None:
        """The columns a CREATE TABLE declares (or copies with LIKE); None for AS SELECT."""
        like = statement.find(exp.LikeProperty)
        if like is not None and isinstance(like.this, exp.Table):
            return dict(self.columns(self.table_key(like.this)))
        if isinstance(statement.this, exp.Schema) and statement.expression is None:
            return {
                identifier(d.this): _length_of(d)
                for d in statement.this.expressions
                if isinstance(d, exp.ColumnDef)
            }
        return None


def _length_of(definition: exp.ColumnDef) -> int | None:
    kind = definition.args.get("kind")
    return declared_length(kind) if isinstance(kind, exp.DataType) else None


def _column_references(statement: exp.Expr) -> tuple[set[str], list[exp.Identifier]]:
    """The names a statement defines (aliases) and the identifiers it uses as names of
    existing columns, in one walk of the tree."""
    defined: set[str] = set()
    references: list[exp.Identifier] = []
    for node in statement.walk():
        if isinstance(node, exp.Alias) and isinstance(node.args.get("alias"), exp.Identifier):
            defined.add(identifier(node.args["alias"]))
        elif isinstance(node, exp.TableAlias):
            defined.update(identifier(column) for column in node.columns)
        elif isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
            if not (isinstance(node.parent, exp.RenameColumn) and node.arg_key == "to"):
                references.append(node.this)
        elif isinstance(node, exp.Schema) and isinstance(node.parent, exp.Insert | exp.Copy):
            references += [n for n in node.expressions if isinstance(n, exp.Identifier)]
        elif isinstance(node, exp.AlterColumn) and isinstance(node.this, exp.Identifier):
            references.append(node.this)
    return defined, references


def _no_case_twins(names: list[str], existing: Columns) -> None:
    """Snowflake keeps `"a"` and `"A"` apart in one table; fakesnow (DuckDB) cannot."""
    seen = {name.upper(): name for name in existing}
    for name in names:
        twin = seen.get(name.upper())
        if twin is not None and twin != name:
            raise StrictError(
                "000002",
                "0A000",
                f"Unsupported feature (strict local Snowflake): columns {quoted(twin)} and "
                f"{quoted(name)} differ only in case. Snowflake keeps both; fakesnow resolves "
                "column names ignoring case and cannot (docs/snowflake-emulator-gaps.md)",
                "case-sensitive-columns",
            )
        seen[name.upper()] = name


def created(statement: exp.Create) -> tuple[str, exp.Table | None]:
    """What a CREATE makes: its kind (DATABASE, SCHEMA, TABLE, ...) and the name's node."""
    kind = (statement.args.get("kind") or "").upper()
    this = statement.this
    return kind, this if isinstance(this, exp.Table) else statement.find(exp.Table)


def held_apart(statement: exp.Create) -> bool:
    """A CREATE TEMPORARY TABLE/VIEW whose name carries a database or schema, which
    fakesnow refuses (the layer holds it under `Checker.physical_name`)."""
    kind, table = created(statement)
    return (
        kind in {"TABLE", "VIEW"}
        and statement.find(exp.TemporaryProperty) is not None
        and table is not None
        and len(parts_of(table)) > 1
    )


def _is_session_statement(statement: exp.Expr) -> bool:
    return isinstance(statement, exp.Alter) and (statement.args.get("kind") or "") == "SESSION"


def use_kind(statement: exp.Use) -> str:
    """DATABASE, SCHEMA, ROLE or WAREHOUSE for a USE statement."""
    kind = statement.args.get("kind")
    if isinstance(kind, str):  # SECONDARY ROLES
        return kind.upper()
    return kind.name.upper() if kind is not None else ""
