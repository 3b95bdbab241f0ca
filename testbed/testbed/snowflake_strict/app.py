"""The strict local Snowflake: fakesnow's server with Snowflake's rules in front of it.

The app wraps fakesnow's own HTTP routes in the same process. Every login and query goes
through here first: the statement is parsed with sqlglot (fakesnow's own parser), checked
against the account (`rules.Checker`), logged, delayed if configured, and either refused
with a Snowflake-shaped error, answered here (roles, grants, warehouses, session
parameters: things fakesnow has no notion of), or handed to fakesnow, in another form with
the same meaning where fakesnow cannot run it as written (`rewrites`, `merges`). fakesnow's
answers to SHOW and DESCRIBE are brought to Snowflake's (what the role may see, Snowflake's
type names).

Control routes for tests (loopback only, like the server): `GET /strict/log` (every
statement with its session, role and outcome), `POST /strict/log/clear`,
`POST /strict/config` (`{"delay_seconds": 2, "delay_match": "MERGE"}`),
`GET /strict/sessions` (user, role, warehouse and parameters of each session).
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import logging
import re
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

# `fakesnow.server` is also the name of a function in fakesnow's __init__: bind the module.
import fakesnow.server as fakesnow_server
import sqlglot
import sqlglot.executor
from fakesnow.transforms import stage as fakesnow_stage
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from testbed.snowflake_strict import merges
from testbed.snowflake_strict.access import Access, plain_text
from testbed.snowflake_strict.account import SUPERUSER_ROLE, Account, Columns, account_roles
from testbed.snowflake_strict.external_stages import ExternalStages
from testbed.snowflake_strict.responses import (
    complete_login,
    complete_stage_info,
    described_type,
    edit_rows,
    repair_timestamps,
    typed_session_parameters,
)
from testbed.snowflake_strict.rewrites import rewrite
from testbed.snowflake_strict.rules import (
    SESSION_PARAMETERS,
    Checker,
    Session,
    StrictError,
    identifier,
    insufficient,
    use_kind,
)

logger = logging.getLogger("testbed.snowflake_strict")
_VIRTUAL_VIEWS = {"ENABLED_ROLES", "OBJECT_PRIVILEGES"}


def _name(text: str) -> str:
    """A name given in SQL text or a connect parameter, resolved like an identifier."""
    text = text.strip()
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return text.upper()


def _error(code: str, sqlstate: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "data": {"errorCode": code, "sqlState": sqlstate, "queryId": str(uuid.uuid4())},
            "code": code,
            "message": message,
            "success": False,
        }
    )


def _rows(columns: list[str], rows: list[tuple[Any, ...]]) -> JSONResponse:
    rowtype = [
        {
            "name": name,
            "database": "",
            "schema": "",
            "table": "",
            "nullable": True,
            "type": "text",
            "byteLength": 16777216,
            "length": 16777216,
            "scale": None,
            "precision": None,
            "collation": None,
        }
        for name in columns
    ]
    return JSONResponse(
        {
            "data": {
                "rowtype": rowtype,
                "rowset": [[None if v is None else str(v) for v in row] for row in rows],
                "total": len(rows),
                "returned": len(rows),
                "queryId": str(uuid.uuid4()),
                "queryResultFormat": "json",
                "statementTypeId": 0x1000,
                "parameters": [],
            },
            "success": True,
        }
    )


def _done(message: str = "Statement executed successfully.") -> JSONResponse:
    response = _rows(["status"], [(message,)])
    return response


async def _with_body(request: Request, body: bytes, query: dict[str, str] | None = None) -> Request:
    """A copy of the request with another (uncompressed) body and query string."""
    scope = dict(request.scope)
    scope["headers"] = [
        (k, v) for k, v in request.scope["headers"] if k.lower() != b"content-encoding"
    ]
    if query is not None:
        scope["query_string"] = urlencode(query).encode()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


async def _json_body(request: Request) -> tuple[bytes, dict[str, Any]]:
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return body, json.loads(body)


# The cancel a session sends for another one (the target's on a signal).
_CANCEL_ALL = re.compile(r"(?i)\s*SELECT\s+SYSTEM\$CANCEL_ALL_QUERIES\(\s*(\d+)\s*\)\s*;?\s*")


def _token(request: Request) -> str:
    return (request.headers.get("Authorization") or "")[17:-1]


class StrictSnowflake:
    """The strict layer's state: the account, the sessions, the statement log, the delay."""

    def __init__(self, admin_user: str, admin_password: str, log_path: Path | None = None) -> None:
        self.account = Account(admin_user, admin_password)
        self.sessions: dict[str, Session] = {}
        self.session_ids = itertools.count(1)
        self.session_tokens: dict[int, str] = {}  # by session id
        self.held: dict[str, asyncio.Event] = {}  # set to end the statement a session holds
        self.log: list[dict[str, Any]] = []
        self.log_path = log_path
        self.delay_seconds = 0.0
        self.delay_match: re.Pattern[str] | None = None
        self.stages = ExternalStages()

    # Logging

    def _record(self, session: Session | None, sql: str, kind: str, outcome: str) -> None:
        entry = {
            "at": time.time(),
            "session": session.token[:8] if session else None,
            "user": session.user if session else None,
            "role": session.role if session else None,
            "kind": kind,
            "sql": sql,
            "outcome": outcome,
        }
        self.log.append(entry)
        if self.log_path is not None:
            with self.log_path.open("a") as log:
                log.write(json.dumps(entry) + "\n")

    # Login and sessions

    async def login(self, request: Request) -> Response:
        body, payload = await _json_body(request)
        data = payload.get("data") or {}
        params = dict(request.query_params)
        user = self.account.users.get(_name(str(data.get("LOGIN_NAME", ""))))
        authenticator = str(data.get("AUTHENTICATOR") or "SNOWFLAKE").upper()
        if user is None or (
            authenticator == "SNOWFLAKE"
            and user.password is not None
            and data.get("PASSWORD") != user.password
        ):
            return _error("390100", "08004", "Incorrect username or password was specified.")
        session_params = typed_session_parameters(
            {k.upper(): v for k, v in (data.get("SESSION_PARAMETERS") or {}).items()},
            SESSION_PARAMETERS,
        )
        body = json.dumps(
            {**payload, "data": {**data, "SESSION_PARAMETERS": session_params}}
        ).encode()
        validate = bool(session_params.get("CLIENT_VALIDATE_DEFAULT_PARAMETERS"))
        role = _name(params["roleName"]) if params.get("roleName") else user.default_role
        if role not in user.roles and SUPERUSER_ROLE not in user.roles:
            return _error(
                "390189",
                "08004",
                f"Role '{role}' specified in the connect string is not granted to this user. "
                "Contact your local system administrator, or attempt to login with another "
                "role, e.g. PUBLIC.",
            )
        warehouse = _name(params["warehouse"]) if params.get("warehouse") else None
        warehouse = warehouse or user.default_warehouse
        secondary = user.secondary_roles_at_login()
        if warehouse is not None and not (
            warehouse in self.account.warehouses
            and self.account.has(
                self.account.principals(user.name, role, secondary),
                "USAGE",
                ("WAREHOUSE", (warehouse,)),
            )
        ):
            if validate:
                return _error(
                    "390201", "08004", "The requested warehouse does not exist or not authorized."
                )
            warehouse = None
        database = _name(params["databaseName"]) if params.get("databaseName") else None
        schema = _name(params["schemaName"]) if params.get("schemaName") else None
        session = Session("", user.name, role, warehouse, None, None, session_params)
        session.secondary = secondary
        checker = self._checker(session)
        if database is not None:
            try:
                checker.use_database(database)
                session.database, session.schema = database, "PUBLIC"
                if schema is not None:
                    checker.use_schema((database, schema))
                    session.schema = schema
            except StrictError:
                if validate:
                    noun = "schema" if session.database else "database"
                    return _error(
                        "390201", "08004", f"The requested {noun} does not exist or not authorized."
                    )
        forwarded: dict[str, str] = {k: v for k, v in params.items() if k == "request_id"}
        if session.database:
            forwarded["databaseName"] = f'"{session.database}"'
            forwarded["schemaName"] = f'"{session.schema}"'
        response = await fakesnow_server.login_request(await _with_body(request, body, forwarded))
        answer = json.loads(bytes(response.body))
        if answer.get("success"):
            session.token = answer["data"]["token"]
            self.sessions[session.token] = session
            session_id = next(self.session_ids)
            self.session_tokens[session_id] = session.token
            complete_login(answer["data"], session_id, user.name)
            answer["data"]["sessionInfo"].update(
                {
                    "roleName": role,
                    "warehouseName": warehouse,
                    "databaseName": session.database,
                    "schemaName": session.schema,
                }
            )
        self._record(
            session,
            f"<login user={user.name} role={role} parameters={json.dumps(session_params)}>",
            "LOGIN",
            "ok" if answer.get("success") else "fakesnow error",
        )
        return JSONResponse(answer, status_code=response.status_code)

    async def session_request(self, request: Request) -> Response:
        """Heartbeats and the session's close (the connector's logout, sent only when the
        login answer held a master token), which is logged; as on Snowflake it ends an
        open transaction (fakesnow drops the session's connection, which rolls it back)
        and the session's temporary tables."""
        session = self.sessions.get(_token(request))
        if session is not None and request.query_params.get("delete"):
            outcome = "rolled back an open transaction" if session.in_transaction else "ok"
            self._record(session, "<session closed>", "LOGOUT", outcome)
            connection = fakesnow_server.sessions.get(session.token)
            if connection is not None and session.in_transaction:
                # before the drops below, which the transaction's rollback would undo
                connection.cursor().execute("ROLLBACK")
            with self.account.lock:
                held = self.account.end_session(session.token)
            for database, schema, physical, info in held:
                if connection is not None:
                    name = ".".join(_quote(part) for part in (database, schema, physical))
                    connection.cursor().execute(f"DROP {info.kind} IF EXISTS {name}")
            del self.sessions[session.token]
            if session.token in self.held:
                self.held[session.token].set()
        return await fakesnow_server.session(request)

    # Queries

    def _checker(self, session: Session) -> Checker:
        def column_type(
            table: tuple[str, str, str], column: str
        ) -> tuple[str, int | None, int | None]:
            return self._column_type(session.token, table, column)

        def read_columns(table: tuple[str, str, str]) -> Columns:
            return self._read_columns(session.token, table)

        return Checker(self.account, session, column_type, read_columns)

    @staticmethod
    def _information_schema_columns(
        token: str, table: tuple[str, str, str], fields: str, column: str | None = None
    ) -> list[tuple[Any, ...]]:
        """`fields` of a table's columns (or of one column), as fakesnow reports them."""
        where = " AND COLUMN_NAME = %s" if column is not None else ""
        connection = fakesnow_server.sessions[token]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {fields}"
                f' FROM "{table[0]}".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = %s'
                f" AND TABLE_NAME = %s{where}",
                (table[1], table[2]) + ((column,) if column is not None else ()),
            )
            return cast("list[tuple[Any, ...]]", cursor.fetchall())

    @classmethod
    def _read_columns(cls, token: str, table: tuple[str, str, str]) -> Columns:
        """A table's column names and text lengths, asked of fakesnow (which reports a
        temporary table's as none)."""
        rows = cls._information_schema_columns(
            token, table, "COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH"
        )
        return {
            str(name): int(length) if str(kind).upper() == "TEXT" and length else None
            for name, kind, length in rows
        }

    @classmethod
    def _column_type(
        cls, token: str, table: tuple[str, str, str], column: str
    ) -> tuple[str, int | None, int | None]:
        """A column's type, length or precision, and scale, asked of fakesnow."""
        rows = cls._information_schema_columns(
            token,
            table,
            "DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE",
            column,
        )
        if not rows:
            return ("UNKNOWN", None, None)
        kind, length, precision, scale = rows[0]
        return (str(kind).upper(), length if length is not None else precision, scale)

    async def query(self, request: Request) -> Response:
        session = self.sessions.get(_token(request))
        if session is None:
            return await fakesnow_server.query_request(request)
        body, payload = await _json_body(request)
        sql = payload.get("sqlText", "")
        try:
            statement = sqlglot.parse_one(sql, read="snowflake")
        except sqlglot.errors.ParseError:
            statement = None
        kind = self._kind(statement)
        checker = self._checker(session)
        limits = None
        try:
            with self.account.lock:
                answer = self._answer_here(session, statement, sql)
                if answer is None and (staged := self.stages.answer(checker, statement, sql)):
                    answer = _rows(*staged)
                if answer is None and statement is not None:
                    checker.check(statement)
                    self._check_json_copy(statement)
                    limits = checker.write_limits(statement)
        except StrictError as error:
            self._record(session, sql, kind, f"{error.code} {error.rule}")
            return _error(error.code, error.sqlstate, error.message)
        except Exception as error:  # a bug of this layer: fail the statement, not retry
            logger.exception("strict layer failed on %s", sql)
            error = StrictError("999999", "XX000", f"strict layer failed: {error!r}", "bug")
            self._record(session, sql, kind, f"{error.code} {error.rule}")
            return _error(error.code, error.sqlstate, error.message)
        if answer is not None:
            self._record(session, sql, kind, "ok")
            return answer
        try:
            timeout = await self._delay(session, sql)
        except StrictError as error:  # canceled while held
            self._record(session, sql, kind, f"{error.code} {error.rule}")
            return _error(error.code, error.sqlstate, error.message)
        if session.token not in self.sessions:  # closed while the statement was held
            self._record(session, sql, kind, "000604 session-closed")
            return _error("000604", "57014", "SQL execution canceled")
        if timeout is not None:
            self._record(session, sql, kind, "000630 statement-timeout")
            return _error(
                "000630",
                "57014",
                f"Statement reached its statement or warehouse timeout of {timeout} second(s) "
                "and was canceled.",
            )
        forwarded, run = body, statement
        if statement is not None:
            superuser = SUPERUSER_ROLE in self.account.role_hierarchy(session.role)
            with self.account.lock:
                rewritten = rewrite(statement, checker, superuser)
            if rewritten is not None:
                run = rewritten
            try:  # a COPY from an external stage reads the objects fetched from S3
                fetched = await asyncio.to_thread(self.stages.fetched_copy, checker, run)
            except StrictError as error:
                self._record(session, sql, kind, f"{error.code} {error.rule}")
                return _error(error.code, error.sqlstate, error.message)
            run = fetched or run
            if run is not None and run is not statement:
                forwarded = json.dumps(
                    {**payload, "sqlText": run.sql(dialect="snowflake")}
                ).encode()
        if isinstance(run, exp.Merge):
            return await self._merge(session, request, forwarded, run, checker, limits, sql, kind)
        if limits is not None and run is not None:
            return await self._write_within_lengths(
                session, request, forwarded, checker, limits, sql, kind
            )
        response = await fakesnow_server.query_request(await _with_body(request, forwarded))
        answer = json.loads(bytes(response.body))
        succeeded = response.status_code == 200 and answer.get("success")
        if succeeded and "stageInfo" in (answer.get("data") or {}):
            complete_stage_info(answer["data"])
            response = JSONResponse(answer)
        elif succeeded and statement is not None:
            edited = _edit_answer(answer["data"], statement, checker)
            if repair_timestamps(answer["data"]) or edited:
                response = JSONResponse(answer)
        if succeeded and statement is not None:
            with self.account.lock:
                checker.apply(statement)
                self.stages.apply(checker, statement)
        self._record(session, sql, kind, "ok" if succeeded else "fakesnow error")
        return response

    async def _merge(
        self,
        session: Session,
        request: Request,
        body: bytes,
        merge: exp.Merge,
        checker: Checker,
        limits: tuple[tuple[str, str, str], dict[str, int]] | None,
        sql: str,
        kind: str,
    ) -> Response:
        """A MERGE as Snowflake runs it (`merges`): refused with no effect when it would write
        a value longer than its column or update a row from several source rows; inside the
        session's transaction run by the layer, which fakesnow cannot."""
        connection = fakesnow_server.sessions[session.token]
        refusal = None
        if limits is not None and (message := merges.too_long(connection, merge, limits[1])):
            refusal = StrictError("100078", "22000", message, "varchar-length")
        elif _on(session, "ERROR_ON_NONDETERMINISTIC_MERGE") and merges.duplicated_target_row(
            connection, merge
        ):
            refusal = StrictError(
                "100090",
                "42P18",
                "Duplicate row detected during DML action (a target row matches more than "
                "one source row; ERROR_ON_NONDETERMINISTIC_MERGE is on)",
                "nondeterministic-merge",
            )
        if refusal is not None:
            self._record(session, sql, kind, f"{refusal.code} {refusal.rule}")
            return _error(refusal.code, refusal.sqlstate, refusal.message)
        if not session.in_transaction:
            response = await fakesnow_server.query_request(await _with_body(request, body))
            succeeded = json.loads(bytes(response.body)).get("success")
            self._record(session, sql, kind, "ok" if succeeded else "fakesnow error")
            return response
        database, schema, _ = checker.in_fakesnow(checker.table_key(merge.this))
        candidates = exp.table_(
            f"MERGE_CANDIDATES#{session.token[:12]}", db=schema, catalog=database, quoted=True
        )
        try:
            data = merges.run_in_transaction(connection, merge, candidates)
        except ProgrammingError as error:
            self._record(session, sql, kind, "fakesnow error")
            return _error(f"{error.errno:06d}", error.sqlstate or "", error.msg or "")
        self._record(session, sql, kind, "ok")
        return JSONResponse({"data": data, "success": True})

    async def _write_within_lengths(
        self,
        session: Session,
        request: Request,
        body: bytes,
        checker: Checker,
        limits: tuple[tuple[str, str, str], dict[str, int]],
        sql: str,
        kind: str,
    ) -> Response:
        """Run a write into a table with VARCHAR(n) columns so that a value longer than its
        column fails the statement with no effect, as on Snowflake (fakesnow stores it).

        Outside a transaction the write runs in one of its own, checked, then committed or
        rolled back. Inside the session's transaction one statement cannot be undone alone
        (DuckDB has no savepoints): the whole transaction is rolled back, and the error
        says so (Snowflake would undo only the statement). (A MERGE: `_merge`.)
        """
        table, lengths = limits
        connection = fakesnow_server.sessions[session.token]
        own_transaction = _on(session, "AUTOCOMMIT") and not session.in_transaction
        if own_transaction:
            connection.cursor().execute("BEGIN")
        response = await fakesnow_server.query_request(await _with_body(request, body))
        succeeded = response.status_code == 200 and json.loads(bytes(response.body)).get("success")
        info = self.account.table(table, session.token)
        # fakesnow's temporary tables are in a catalog of their own, found by bare name
        in_temp_catalog = info is not None and info.temporary_session and info.physical is None
        name = checker.in_fakesnow(table)
        shown = _quote(name[2]) if in_temp_catalog else ".".join(_quote(part) for part in name)
        too_long = _too_long(connection, shown, lengths) if succeeded else None
        if too_long is not None:
            connection.cursor().execute("ROLLBACK")
            session.in_transaction = False
            if not own_transaction:
                too_long += (
                    "\n(strict local Snowflake: the open transaction was rolled back; "
                    "Snowflake would undo only this statement)"
                )
            self._record(session, sql, kind, "100078 varchar-length")
            return _error("100078", "22000", too_long)
        if own_transaction:
            connection.cursor().execute("COMMIT" if succeeded else "ROLLBACK")
        self._record(session, sql, kind, "ok" if succeeded else "fakesnow error")
        return response

    @staticmethod
    def _kind(statement: exp.Expr | None) -> str:
        if statement is None:
            return "UNPARSED"
        name = type(statement).__name__.upper()
        if isinstance(statement, exp.Command):
            return f"{statement.this} {str(statement.expression).split()[0]}".upper()
        kind = statement.args.get("kind")
        if isinstance(kind, str):
            temporary = statement.find(exp.TemporaryProperty) is not None
            return f"{name} {'TEMPORARY ' if temporary else ''}{kind.upper()}"
        return name

    async def _delay(self, session: Session, sql: str) -> int | None:
        """Wait the configured delay, or until the statement is canceled
        (`SYSTEM$CANCEL_ALL_QUERIES`: a `StrictError`) or its session closed; the timeout
        in seconds if the statement hit it."""
        if not self.delay_seconds or (self.delay_match and not self.delay_match.search(sql)):
            return None
        timeout = int(str(session.parameters.get("STATEMENT_TIMEOUT_IN_SECONDS") or 0))
        hits_timeout = bool(timeout) and self.delay_seconds > timeout
        ended = self.held[session.token] = asyncio.Event()
        try:
            await asyncio.wait_for(ended.wait(), timeout if hits_timeout else self.delay_seconds)
        except TimeoutError:
            return timeout if hits_timeout else None
        finally:
            del self.held[session.token]
        if session.token in self.sessions:
            raise StrictError("000604", "57014", "SQL execution canceled", "canceled")
        return None

    def _check_json_copy(self, statement: exp.Expr) -> None:
        """COPY of JSON without ALLOW_DUPLICATE = TRUE: an object with a repeated key fails."""
        if not isinstance(statement, exp.Copy):
            return
        text = statement.sql(dialect="snowflake").upper().replace(" ", "")
        if "TYPE=JSON" not in text or "ALLOW_DUPLICATE=TRUE" in text:
            return
        source = next((t for t in statement.find_all(exp.Table) if t.name.startswith("@")), None)
        prefix = source.name.strip("/").split("/", 1)[1] if source and "/" in source.name else ""
        if not prefix:
            return
        for path in Path(fakesnow_stage.LOCAL_BUCKET_PATH).rglob(f"{prefix}/**/*"):
            if not path.is_file():  # a directory under the prefix (a named stage's paths)
                continue
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            for number, line in enumerate(raw.splitlines(), start=1):
                if line.strip():
                    json.loads(line, object_pairs_hook=partial(_unique, line=number))

    # Statements the layer answers itself

    def _answer_here(
        self, session: Session, statement: exp.Expr | None, sql: str
    ) -> Response | None:
        account = self.account
        superuser = SUPERUSER_ROLE in account.role_hierarchy(session.role)
        # what sqlglot cannot read (DROP DATABASE ROLE), reads as an opaque command, or
        # reads without the parts that matter (TO DATABASE ROLE, COPY CURRENT GRANTS)
        if statement is None or isinstance(statement, exp.Command | exp.Grant | exp.Revoke):
            answer = Access(self._checker(session)).answer(sql)
            if answer is not None:
                return _rows(*answer)
        if statement is None:
            return None
        if isinstance(statement, exp.Alter) and statement.args.get("kind") == "SESSION":
            return self._alter_session(session, statement)
        if isinstance(statement, exp.Use):
            kind = use_kind(statement)
            if kind == "SECONDARY ROLES":
                Access(self._checker(session)).use_secondary_roles(statement)
                return _done()
            if kind in {"ROLE", "WAREHOUSE"}:
                name = identifier(statement.this)
                if kind == "ROLE":
                    if name not in account.users[session.user].roles and not superuser:
                        raise StrictError(
                            "003013",
                            "42501",
                            f"Requested role '{name}' is not assigned to "
                            "the executing user. Specify another role to activate.",
                            "privileges",
                        )
                    session.role = name
                else:
                    if name not in account.warehouses or not account.has(
                        self._checker(session).principals(), "USAGE", ("WAREHOUSE", (name,))
                    ):
                        raise StrictError(
                            "002043",
                            "02000",
                            f"SQL compilation error:\nObject does not exist, or operation "
                            f"cannot be performed. (warehouse {name})",
                            "warehouse",
                        )
                    session.warehouse = name
                return _done()
        if isinstance(statement, exp.Create) and statement.args.get("kind") == "WAREHOUSE":
            if not superuser:
                raise insufficient("account (CREATE WAREHOUSE needed)")
            name = identifier(statement.this)
            account.warehouses.add(name)
            account.owners.setdefault(("WAREHOUSE", (name,)), session.role)
            return _done()
        if isinstance(statement, exp.Command):
            return self._command(session, sql)
        if isinstance(statement, exp.Select) and (cancel := _CANCEL_ALL.fullmatch(sql)):
            return self._cancel_all_queries(session, int(cancel[1]))
        if isinstance(statement, exp.Select):
            return self._virtual_view(session, statement)
        return None

    def _cancel_all_queries(self, session: Session, session_id: int) -> Response:
        """SYSTEM$CANCEL_ALL_QUERIES: what a session of the same user runs (here, the
        statement the layer holds for it) fails with 000604."""
        target = self.sessions.get(self.session_tokens.get(session_id, ""))
        if target is None or target.user != session.user:
            raise StrictError(
                "002003",
                "02000",
                f"Session {session_id} does not exist or not authorized.",
                "cancel",
            )
        held = self.held.get(target.token)
        if held is not None:
            held.set()
        return _rows(
            [f"SYSTEM$CANCEL_ALL_QUERIES({session_id})"],
            [(f"{int(held is not None)} queries canceled",)],
        )

    def _alter_session(self, session: Session, statement: exp.Alter) -> Response | None:
        alter = statement.find(exp.AlterSession)
        assert alter is not None
        names: list[tuple[str, Any]] = []
        for item in alter.args.get("expressions") or []:
            if isinstance(item.this, exp.EQ):
                value = item.this.expression
                names.append((item.this.this.name.upper(), value.to_py()))
            else:
                names.append((item.this.name.upper(), None))
        for name, _ in names:
            if name not in SESSION_PARAMETERS:
                raise StrictError(
                    "001006",
                    "22023",
                    f"invalid property '{name}' for 'SESSION'",
                    "session-parameters",
                )
        for name, value in names:
            if alter.args.get("unset"):
                session.parameters.pop(name, None)
            else:
                session.parameters[name] = value
        if any(name == "AUTOCOMMIT" for name, _ in names):
            return None  # fakesnow implements AUTOCOMMIT itself
        return _done()

    def _command(self, session: Session, sql: str) -> Response | None:
        if match := re.fullmatch(
            r"(?i)SHOW PARAMETERS(?: LIKE '([^']*)')?(?: (?:IN|FOR) SESSION)?", plain_text(sql)
        ):
            return _session_parameters(session, match[1])
        return None

    def _virtual_view(self, session: Session, statement: exp.Select) -> Response | None:
        """INFORMATION_SCHEMA views fakesnow lacks: ENABLED_ROLES, OBJECT_PRIVILEGES."""
        tables = [t for t in statement.find_all(exp.Table) if t.name.upper() in _VIRTUAL_VIEWS]
        if not tables:
            return None
        view = tables[0]
        checker = self._checker(session)
        database = identifier(view.args["catalog"]) if view.args.get("catalog") else None
        database = database or session.database or ""
        checker.use_database(database)
        if view.name.upper() == "ENABLED_ROLES":
            # the primary and secondary account roles with the account roles they inherit;
            # never a database role
            columns = ["ROLE_NAME"]
            rows: list[tuple[Any, ...]] = [
                (role,) for role in sorted(account_roles(checker.principals()))
            ]
        else:
            columns = [
                "GRANTEE",
                "OBJECT_TYPE",
                "OBJECT_CATALOG",
                "OBJECT_SCHEMA",
                "OBJECT_NAME",
                "PRIVILEGE_TYPE",
            ]
            # grants to the primary role and the account roles it inherits only: not those
            # reaching the session through database roles, secondary roles or the user
            primary = account_roles(checker.principals(creating=True))
            superuser = SUPERUSER_ROLE in primary
            rows = list(self.account.privileges_in(database, None if superuser else primary))
        table = exp.to_table("VIRTUAL_VIEW")
        query = statement.copy()
        named = query.find(exp.Table)
        assert named is not None  # a SELECT ... FROM the virtual view
        named.replace(table)
        result = sqlglot.executor.execute(
            query,
            # the columns named: with no rows the executor cannot tell them
            schema={"VIRTUAL_VIEW": dict.fromkeys(columns, "VARCHAR")},
            tables={"VIRTUAL_VIEW": [dict(zip(columns, row, strict=True)) for row in rows]},
        )
        return _rows(list(result.columns), [tuple(row) for row in result.rows])

    # Control routes

    async def control_log(self, request: Request) -> Response:
        if request.method == "POST":
            self.log.clear()
            return JSONResponse({"cleared": True})
        return JSONResponse({"statements": self.log})

    async def control_config(self, request: Request) -> Response:
        config = await request.json()
        self.delay_seconds = float(config.get("delay_seconds", 0))
        match = config.get("delay_match")
        self.delay_match = re.compile(match) if match else None
        return JSONResponse({"delay_seconds": self.delay_seconds, "delay_match": match})

    async def control_sessions(self, request: Request) -> Response:
        _ = request
        return JSONResponse(
            {
                "sessions": [
                    {
                        "user": s.user,
                        "role": s.role,
                        "warehouse": s.warehouse,
                        "parameters": s.parameters,
                        "in_transaction": s.in_transaction,
                    }
                    for s in self.sessions.values()
                ]
            }
        )

    async def control_s3(self, request: Request) -> Response:
        """Where external stages' buckets are: `endpoint_url`, `aws_access_key_id`,
        `aws_secret_access_key` (the integration's IAM role, for the local S3)."""
        self.stages.s3 = dict(await request.json())
        return JSONResponse({"endpoint_url": self.stages.s3.get("endpoint_url")})

    def app(self) -> Starlette:
        """fakesnow's routes, with login, session and query requests through this layer."""
        ours = {
            "/session/v1/login-request": self.login,
            "/session": self.session_request,
            "/queries/v1/query-request": self.query,
        }
        routes = [
            Route(route.path, ours.get(route.path, route.endpoint), methods=route.methods)
            for route in fakesnow_server.routes
            if isinstance(route, Route)
        ]
        routes += [
            Route("/strict/log", self.control_log, methods=["GET"]),
            Route("/strict/log/clear", self.control_log, methods=["POST"]),
            Route("/strict/config", self.control_config, methods=["POST"]),
            Route("/strict/sessions", self.control_sessions, methods=["GET"]),
            Route("/strict/s3", self.control_s3, methods=["POST"]),
        ]
        return Starlette(routes=routes)


def _edit_answer(data: dict[str, Any], statement: exp.Expr, checker: Checker) -> bool:
    """fakesnow's answer as Snowflake gives it: SHOW lists only what the role may see;
    DESCRIBE names Snowflake's types, not DuckDB's. True if the answer changed."""
    if isinstance(statement, exp.Show):
        return edit_rows(data, lambda row: row if checker.shown(statement, row) else None)
    if isinstance(statement, exp.Describe):
        return edit_rows(data, lambda row: {**row, "type": described_type(str(row["type"]))})
    return False


def _on(session: Session, parameter: str) -> bool:
    """A BOOLEAN session parameter's value (the session's, else Snowflake's default)."""
    value = session.parameters.get(parameter, SESSION_PARAMETERS[parameter][0])
    return str(value).upper() not in {"FALSE", "0"}


def _session_parameters(session: Session, pattern: str | None) -> Response:
    """SHOW PARAMETERS [LIKE pattern] IN SESSION: the session's value of each parameter (the
    default where the session set none); the pattern as Snowflake matches it, ignoring case,
    with % and _."""
    if pattern is not None:
        wildcards = {"%": ".*", "_": "."}
        regex = "".join(wildcards.get(c, re.escape(c)) for c in pattern)
    rows = []
    for name, (default, kind) in sorted(SESSION_PARAMETERS.items()):
        if pattern is not None and not re.fullmatch(regex, name, re.IGNORECASE):
            continue
        value = session.parameters.get(name, default)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        level = "SESSION" if name in session.parameters else ""
        rows.append((name, text, default, level, "", kind))
    return _rows(["key", "value", "default", "level", "description", "type"], rows)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _too_long(connection: Any, name: str, lengths: dict[str, int]) -> str | None:
    """Snowflake's error for the first value longer than its column (of the table fakesnow
    knows as `name`), if there is one."""
    columns = list(lengths)
    too_long = " OR ".join(f"LENGTH({_quote(column)}) > {lengths[column]}" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_quote(c) for c in columns)} FROM {name} WHERE {too_long} LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        return None
    for column, value in zip(columns, row, strict=True):
        if value is not None and len(value) > lengths[column]:
            return merges.too_long_message(value)
    return None


def _unique(pairs: list[tuple[str, Any]], line: int) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise StrictError(
                "100069",
                "22P02",
                f"Error parsing JSON: duplicate object attribute '{key}' (line {line}); "
                "use a file format with ALLOW_DUPLICATE = TRUE",
                "json-duplicate-keys",
            )
    return dict(pairs)
