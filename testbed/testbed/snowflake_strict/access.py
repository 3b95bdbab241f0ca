"""Access-control statements the strict layer answers itself: roles, database roles, users,
secondary roles, grants and revokes, and SHOW of grants and database roles.

sqlglot reads most of these as an opaque `Command` (and `DROP DATABASE ROLE` not at all),
so they are read here from their text, token by token: quoted names keep their case,
unquoted ones are upper-cased, comments are ignored. What Snowflake refuses is refused
with its error shape: an unknown role, database role, user or object (002003), a grant
without MANAGE GRANTS (003001), a database role granted to a database role of another
database, or a privilege on another database's object granted to a database role.

The statement forms (`grants.py` writes them for tests):

    CREATE ROLE [IF NOT EXISTS] r
    CREATE USER [IF NOT EXISTS] u [PASSWORD = '...'] [DEFAULT_ROLE = r]
        [DEFAULT_WAREHOUSE = w] [DEFAULT_SECONDARY_ROLES = ('ALL') | ()]
    ALTER USER [IF EXISTS] u SET <property> = <value> [...] | UNSET <property> [, ...]
    CREATE [OR REPLACE] DATABASE ROLE [IF NOT EXISTS] [db.]r
    DROP DATABASE ROLE [IF EXISTS] [db.]r
    GRANT ROLE r TO { ROLE r2 | USER u }
    GRANT DATABASE ROLE [db.]r TO { ROLE r2 | DATABASE ROLE [db.]r2 | USER u }
    GRANT <privilege> [, ...] ON { ACCOUNT | DATABASE d | SCHEMA [d.]s | TABLE [[d.]s.]t
        | VIEW ... | WAREHOUSE w | ALL|FUTURE TABLES|VIEWS IN { SCHEMA [d.]s | DATABASE d } }
        TO { ROLE r | DATABASE ROLE [db.]r | USER u } [WITH GRANT OPTION]
        [COPY CURRENT GRANTS | REVOKE CURRENT GRANTS]
    REVOKE ... FROM ... : the same forms, TO read FROM ([GRANT OPTION FOR], [RESTRICT|CASCADE])
    USE SECONDARY ROLES { ALL | NONE | r [, ...] }
    SHOW GRANTS TO { ROLE r | DATABASE ROLE [db.]r }
    SHOW DATABASE ROLES IN DATABASE d
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

from testbed.snowflake_strict.account import (
    ACCOUNT,
    ALL_SECONDARY_ROLES,
    SUPERUSER_ROLE,
    Grantee,
    ObjectKey,
    User,
    account_role,
    account_roles,
    database_role,
    user_grantee,
)
from testbed.snowflake_strict.rules import (
    Checker,
    StrictError,
    identifier,
    insufficient,
    not_found,
    quoted,
)

Rows = tuple[list[str], list[tuple[Any, ...]]]
DONE: Rows = (["status"], [("Statement executed successfully.",)])
_TOKEN = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|[A-Za-z_][A-Za-z0-9_$]*|\d+|\S')
_SHOW_GRANTS_COLUMNS = [
    "created_on",
    "privilege",
    "granted_on",
    "name",
    "granted_to",
    "grantee_name",
    "grant_option",
    "granted_by",
]
_SHOW_DATABASE_ROLES_COLUMNS = [
    "created_on",
    "name",
    "is_default",
    "is_current",
    "is_inherited",
    "granted_to_roles",
    "granted_to_database_roles",
    "granted_database_roles",
    "owner",
    "comment",
    "owner_role_type",
]
_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)


def plain_text(sql: str) -> str:
    """A statement without comments (dbt appends one naming itself to every statement) and
    with its whitespace collapsed."""
    return " ".join(_COMMENT.sub(" ", sql).split())


def name_of(token: str) -> str:
    """An identifier token as Snowflake resolves it: quoted as written, else upper-cased."""
    if len(token) > 1 and token.startswith('"') and token.endswith('"'):
        return token[1:-1].replace('""', '"')
    return token.upper()


def _syntax_error(token: str | None) -> StrictError:
    found = f"unexpected '{token}'" if token is not None else "unexpected end of statement"
    return StrictError("001003", "42000", f"SQL compilation error:\nsyntax error {found}.", "bug")


def _unsupported(what: str) -> StrictError:
    return StrictError(
        "000002", "0A000", f"SQL compilation error:\nUnsupported feature '{what}'.", "grant-paths"
    )


class _Tokens:
    """The tokens of one statement, read left to right."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = _TOKEN.findall(text.rstrip(";"))
        self.at = 0

    def peek(self, *words: str) -> bool:
        ahead = self.tokens[self.at : self.at + len(words)]
        return len(ahead) == len(words) and all(
            t.upper() == w and not t.startswith('"') for t, w in zip(ahead, words, strict=True)
        )

    def take(self, *words: str) -> bool:
        if self.peek(*words):
            self.at += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.take(*words):
            raise _syntax_error(self.next_token())

    def next_token(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def token(self) -> str:
        token = self.next_token()
        if token is None:
            raise _syntax_error(None)
        self.at += 1
        return token

    def name(self) -> tuple[str, ...]:
        """A name of one or more dotted parts, each resolved."""
        parts = [self._part()]
        while self.take("."):
            parts.append(self._part())
        return tuple(parts)

    def _part(self) -> str:
        token = self.token()
        if not (token.startswith('"') or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", token)):
            raise _syntax_error(token)
        return name_of(token)

    def words_until(self, *stops: str) -> list[str]:
        words = []
        while self.next_token() is not None and not any(self.peek(s) for s in stops):
            words.append(self.token().upper())
        return words

    def end(self) -> None:
        if self.next_token() is not None:
            raise _syntax_error(self.next_token())


class Access:
    """Answers one session's access-control statements against the account."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.account = checker.account
        self.session = checker.session
        self.superuser = SUPERUSER_ROLE in self.account.role_hierarchy(self.session.role)

    def answer(self, sql: str) -> Rows | None:
        """The answer to an access-control statement; None for any other statement."""
        words = _Tokens(plain_text(sql))
        if words.take("CREATE"):
            replace = words.take("OR", "REPLACE")
            if words.take("ROLE"):
                return self._create_role(words)
            if words.take("USER"):
                return self._create_user(words)
            if words.take("DATABASE", "ROLE"):
                return self._create_database_role(words, replace)
            return None
        if words.take("DROP", "DATABASE", "ROLE"):
            return self._drop_database_role(words)
        if words.take("ALTER", "USER"):
            return self._alter_user(words)
        if words.peek("GRANT") or words.peek("REVOKE"):
            return self._grant_or_revoke(words)
        if words.take("SHOW", "GRANTS", "TO"):
            return self._show_grants(words)
        if words.take("SHOW", "DATABASE", "ROLES", "IN", "DATABASE"):
            return self._show_database_roles(words)
        return None

    def use_secondary_roles(self, statement: exp.Use) -> None:
        """USE SECONDARY ROLES ALL | NONE | r1, r2: each named role must be granted to the
        user."""
        this = statement.this
        if isinstance(this, exp.Var) and this.name.upper() in {"ALL", "NONE"}:
            all_roles = this.name.upper() == "ALL"
            self.session.secondary = ALL_SECONDARY_ROLES if all_roles else frozenset()
            return
        names = [identifier(t) for t in statement.expressions]
        granted = self.account.users[self.session.user].roles
        for name in names:
            if name not in granted:
                raise StrictError(
                    "003013",
                    "42501",
                    f"Requested role '{name}' is not assigned to the executing user. "
                    "Specify another role to activate.",
                    "grant-paths",
                )
        self.session.secondary = frozenset(names)

    # Roles, users and database roles

    def _manage(self, what: str = "account (MANAGE GRANTS needed)") -> None:
        if not self.superuser:
            raise insufficient(what)

    def _create_role(self, words: _Tokens) -> Rows:
        self._manage("account (CREATE ROLE needed)")
        words.take("IF", "NOT", "EXISTS")
        (name,) = words.name()
        words.end()
        self.account.roles.add(name)
        return DONE

    def _create_user(self, words: _Tokens) -> Rows:
        self._manage("account (CREATE USER needed)")
        if_not_exists = words.take("IF", "NOT", "EXISTS")
        (name,) = words.name()
        if if_not_exists and name in self.account.users:
            return DONE
        user = User(name, None)
        self._set_user_properties(user, words)
        self.account.users[name] = user
        return DONE

    def _alter_user(self, words: _Tokens) -> Rows:
        exists = words.take("IF", "EXISTS")
        (name,) = words.name()
        if name != self.session.user:  # a user may set its own defaults
            self._manage("user (OWNERSHIP needed)")
        user = self.account.users.get(name)
        if user is None:
            if exists:
                return DONE
            raise _missing("User", quoted(name))
        if words.take("SET"):
            self._set_user_properties(user, words)
        elif words.take("UNSET"):
            while True:
                prop = words.token().upper()
                if prop == "DEFAULT_SECONDARY_ROLES":
                    user.default_secondary_roles = None
                elif prop == "DEFAULT_ROLE":
                    user.default_role = "PUBLIC"
                elif prop == "DEFAULT_WAREHOUSE":
                    user.default_warehouse = None
                if not words.take(","):
                    break
            words.end()
        else:
            raise _syntax_error(words.next_token())
        return DONE

    @staticmethod
    def _set_user_properties(user: User, words: _Tokens) -> None:
        """PROPERTY = value pairs; the ones the layer has no use for are accepted and kept
        nowhere (COMMENT, LOGIN_NAME, ...)."""
        while words.next_token() is not None:
            prop = words.token().upper()
            words.expect("=")
            if words.take("("):
                values = []
                while not words.take(")"):
                    token = words.token()
                    if token != ",":
                        literal = token.startswith("'")
                        values.append(token[1:-1].upper() if literal else name_of(token))
                if prop == "DEFAULT_SECONDARY_ROLES":
                    if values not in ([], ["ALL"]):
                        raise StrictError(
                            "001006",
                            "22023",
                            "SQL compilation error:\ninvalid value for property "
                            "'DEFAULT_SECONDARY_ROLES': only ('ALL') or () is accepted",
                            "grant-paths",
                        )
                    user.default_secondary_roles = tuple(values)
                continue
            token = words.token()
            literal = token.startswith("'")
            text = token[1:-1].replace("''", "'") if literal else token
            if prop == "PASSWORD":
                user.password = text
            elif prop == "DEFAULT_ROLE":
                user.default_role = name_of(text)
            elif prop == "DEFAULT_WAREHOUSE":
                user.default_warehouse = name_of(text)

    def _database_role_name(self, parts: tuple[str, ...]) -> tuple[str, str]:
        """A database role's (database, name); a bare name is in the current database."""
        if len(parts) == 1:
            key = self.checker.schema_key([exp.to_identifier(parts[0], quoted=True)])
            return key
        if len(parts) != 2:
            raise _syntax_error(".".join(parts))
        return (parts[0], parts[1])

    def _create_database_role(self, words: _Tokens, replace: bool) -> Rows:
        if_not_exists = words.take("IF", "NOT", "EXISTS")
        name = self._database_role_name(words.name())
        words.end()
        database: ObjectKey = ("DATABASE", (name[0],))
        if not self.account.exists(database):
            raise not_found(database)
        primary = self.checker.principals(creating=True)
        if not self.account.has(primary, "CREATE DATABASE ROLE", database):
            raise insufficient(f"database '{name[0]}' (CREATE DATABASE ROLE needed)")
        if name in self.account.database_roles:
            if if_not_exists:
                return (["status"], [(f"{quoted(name[1])} already exists, statement succeeded.",)])
            if not replace:
                raise StrictError(
                    "002002",
                    "42710",
                    f"SQL compilation error:\nObject '{_qualified(name)}' already exists.",
                    "grant-paths",
                )
            self.account.drop_database_role(name)
        self.account.database_roles[name] = self.session.role
        return DONE

    def _drop_database_role(self, words: _Tokens) -> Rows:
        exists = words.take("IF", "EXISTS")
        name = self._database_role_name(words.name())
        words.end()
        owner = self.account.database_roles.get(name)
        if owner is None:
            if exists:
                return DONE
            raise _missing("Database role", _qualified(name))
        if not self.superuser and owner not in account_roles(self.checker.principals()):
            raise insufficient(f"database role '{name[1]}'")
        self.account.drop_database_role(name)
        return DONE

    def _grantee(self, words: _Tokens) -> Grantee:
        """ROLE r | DATABASE ROLE [db.]r | USER u, which must exist."""
        if words.take("DATABASE", "ROLE"):
            name = self._database_role_name(words.name())
            if name not in self.account.database_roles:
                raise _missing("Database role", _qualified(name))
            return database_role(*name)
        if words.take("USER"):
            (user,) = words.name()
            if user not in self.account.users:
                raise _missing("User", quoted(user))
            return user_grantee(user)
        words.take("ROLE")  # Snowflake also reads a bare name as a role
        (role,) = words.name()
        if role not in self.account.roles:
            raise _missing("Role", quoted(role))
        return account_role(role)

    # GRANT and REVOKE

    def _grant_or_revoke(self, words: _Tokens) -> Rows:
        grant = words.take("GRANT")
        if not grant:
            words.expect("REVOKE")
            words.take("GRANT", "OPTION", "FOR")
        self._manage()
        preposition = "TO" if grant else "FROM"
        if words.take("ROLE"):
            granted: Grantee = account_role(words.name()[0])
            if granted[1] not in self.account.roles:
                raise _missing("Role", quoted(granted[1]))
            words.expect(preposition)
            self._grant_role(granted, self._grantee(words), grant)
        elif words.take("DATABASE", "ROLE"):
            name = self._database_role_name(words.name())
            if name not in self.account.database_roles:
                raise _missing("Database role", _qualified(name))
            words.expect(preposition)
            grantee = self._grantee(words)
            if grantee[0] == "DATABASE ROLE" and grantee[1] != name[0]:
                raise _unsupported(
                    f"grant of database role {_qualified(name)} to database role "
                    f"{_qualified(grantee[1:])} of another database"
                )
            self._grant_role(database_role(*name), grantee, grant)
        else:
            self._grant_privileges(words, grant, preposition)
        if not words.take("RESTRICT"):
            words.take("CASCADE")
        words.end()
        return DONE

    def _grant_role(self, granted: Grantee, grantee: Grantee, grant: bool) -> None:
        if granted[0] == "ROLE" and grantee[0] == "DATABASE ROLE":
            raise _unsupported("grant of an account role to a database role")
        if grantee[0] == "USER" and granted[0] == "ROLE":
            roles = self.account.users[grantee[1]].roles
            if grant:
                roles.add(granted[1])
            else:
                roles.discard(granted[1])
            return
        parents = self.account.role_parents.setdefault(grantee, set())
        if grant:
            parents.add(granted)
        else:
            parents.discard(granted)

    def _grant_privileges(self, words: _Tokens, grant: bool, preposition: str) -> None:
        privileges = []
        while True:
            privilege = " ".join(words.words_until(",", "ON"))
            if not privilege:
                raise _syntax_error(words.next_token())
            privileges.append("ALL PRIVILEGES" if privilege == "ALL" else privilege)
            if not words.take(","):
                break
        words.expect("ON")
        keys = self._objects(words, preposition)
        words.expect(preposition)
        grantee = self._grantee(words)
        words.take("WITH", "GRANT", "OPTION")
        current = None
        if words.take("COPY", "CURRENT", "GRANTS"):
            current = "COPY"
        elif words.take("REVOKE", "CURRENT", "GRANTS"):
            current = "REVOKE"
        if grantee[0] == "DATABASE ROLE":
            for kind, parts in keys:
                if kind in {"ACCOUNT", "WAREHOUSE"} or not parts or parts[0] != grantee[1]:
                    raise _unsupported(
                        f"grant of a privilege on {kind} {_qualified(parts)} to database role "
                        f"{_qualified(grantee[1:])}: a database role holds privileges on "
                        "objects of its own database only"
                    )
        for key in keys:
            for privilege in privileges:
                if privilege == "OWNERSHIP":
                    if not grant:
                        continue  # ownership is transferred, never revoked
                    if grantee[0] != "ROLE":
                        raise _unsupported(
                            "ownership held by a database role or user (strict local Snowflake)"
                        )
                    if current == "REVOKE":
                        self.account.grants = {g for g in self.account.grants if g[2] != key}
                    self.account.owners[key] = grantee[1]
                elif grant:
                    self.account.grants.add((grantee, privilege, key))
                else:
                    self.account.grants.discard((grantee, privilege, key))

    def _objects(self, words: _Tokens, preposition: str) -> list[ObjectKey]:
        """The objects after ON: one, ALL <kind>s IN a schema or database (those that exist
        now) or FUTURE <kind>s IN one (a grant held for the ones made later)."""
        if words.take("ACCOUNT"):
            return [ACCOUNT]
        every = words.take("ALL")
        if every or words.take("FUTURE"):
            plural = words.token().upper()
            words.expect("IN")
            scope_kind = words.token().upper()
            scope = self._key(scope_kind, words.name())
            if not every:
                return [(f"FUTURE {plural}", scope[1])]
            kind = plural.removesuffix("S")
            return [
                ("TABLE", table)
                for table, info in sorted(self.account.tables.items())
                if table[: len(scope[1])] == scope[1] and info.kind == kind
            ]
        start = words.at
        while words.next_token() is not None and not words.peek(preposition):
            words.at += 1
        tokens = words.tokens[start : words.at]
        first = len(tokens) - 1  # the name: the dotted parts before TO/FROM
        while first >= 2 and tokens[first - 1] == ".":
            first -= 2
        if first < 1:
            raise _syntax_error(words.next_token())
        kind = " ".join(t.upper() for t in tokens[:first])
        return [self._key(kind, tuple(name_of(t) for t in tokens[first::2]))]

    def _key(self, kind: str, parts: tuple[str, ...]) -> ObjectKey:
        """An object's key, its name completed with the current database and schema; a
        database, schema or table must exist."""
        identifiers = [exp.to_identifier(p, quoted=True) for p in parts]
        key: ObjectKey
        if kind == "DATABASE":
            key = ("DATABASE", (parts[-1],))
        elif kind == "SCHEMA":
            key = ("SCHEMA", self.checker.schema_key(identifiers))
        elif kind in {"TABLE", "VIEW"}:  # one namespace, as in a schema
            table = exp.Table(
                this=identifiers[-1],
                db=identifiers[-2] if len(parts) > 1 else None,
                catalog=identifiers[-3] if len(parts) > 2 else None,
            )
            key = ("TABLE", self.checker.table_key(table))
        else:
            return (kind, parts)
        if not self.account.exists(key, self.session.token):
            raise not_found(key)
        return key

    # SHOW

    def _show_grants(self, words: _Tokens) -> Rows:
        grantee = self._grantee(words)
        words.end()
        if grantee[0] == "USER":
            raise _unsupported("SHOW GRANTS TO USER (strict local Snowflake)")
        if not self.superuser and grantee not in self.checker.principals():
            raise insufficient(f"{grantee[0].lower()} '{grantee[-1]}'")
        shown = "DATABASE_ROLE" if grantee[0] == "DATABASE ROLE" else "ROLE"
        name = _qualified(grantee[1:])
        rows: list[tuple[Any, ...]] = []
        for who, privilege, (kind, parts) in sorted(self.account.grants):
            if who == grantee and not kind.startswith("FUTURE "):
                rows.append((None, privilege, kind, _qualified(parts), shown, name, "false", ""))
        if grantee[0] == "ROLE":
            for (kind, parts), owner in sorted(self.account.owners.items()):
                if owner == grantee[1]:
                    row = (None, "OWNERSHIP", kind, _qualified(parts), shown, name, "true", "")
                    rows.append(row)
        for inherited in sorted(self.account.role_parents.get(grantee, set())):
            on = "DATABASE_ROLE" if inherited[0] == "DATABASE ROLE" else "ROLE"
            rows.append((None, "USAGE", on, _qualified(inherited[1:]), shown, name, "false", ""))
        return (_SHOW_GRANTS_COLUMNS, rows)

    def _show_database_roles(self, words: _Tokens) -> Rows:
        (database,) = words.name()
        words.end()
        self.checker.use_database(database)
        rows = []
        for (db, name), owner in sorted(self.account.database_roles.items()):
            if db != database:
                continue
            role = database_role(db, name)
            to_roles = [g for g, held in self.account.role_parents.items() if role in held]
            rows.append(
                (
                    None,
                    name,
                    "false",
                    "false",
                    "true" if role in self.checker.principals() else "false",
                    sum(1 for g in to_roles if g[0] == "ROLE"),
                    sum(1 for g in to_roles if g[0] == "DATABASE ROLE"),
                    len(self.account.role_parents.get(role, set())),
                    owner,
                    "",
                    "ROLE",
                )
            )
        return (_SHOW_DATABASE_ROLES_COLUMNS, rows)


def _qualified(parts: tuple[str, ...]) -> str:
    return ".".join(quoted(p) for p in parts)


def _missing(noun: str, name: str) -> StrictError:
    """Snowflake's error for a role, database role or user it does not know (`name` as it
    writes names in messages)."""
    return StrictError(
        "002003",
        "02000",
        f"SQL compilation error:\n{noun} '{name}' does not exist or not authorized.",
        "grant-paths",
    )
