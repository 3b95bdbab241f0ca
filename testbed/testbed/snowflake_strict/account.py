"""What a Snowflake account knows and fakesnow does not: users, roles, grants, warehouses,
and the exact (case-sensitive) names and owners of databases, schemas and tables.

Object names are kept as Snowflake resolves them: an unquoted identifier upper-cased, a
quoted one as written. fakesnow resolves names case-insensitively, so the catalog here is
what decides whether `"raw"` and `RAW` are the same object (they are not).

Privileges reach a session as on Snowflake: through the primary role, the secondary roles
(`USE SECONDARY ROLES`, the user's DEFAULT_SECONDARY_ROLES, ('ALL') when unset), the roles
and database roles each of those inherits, and grants to the user itself. A CREATE
privilege counts only through the primary role (`Account.principals`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

SUPERUSER_ROLE = "ACCOUNTADMIN"
PUBLIC_ROLE = "PUBLIC"

# Who holds a grant: ("ROLE", name), ("DATABASE ROLE", database, name) or ("USER", name).
Grantee = tuple[str, ...]
# A session's secondary roles: every role granted to the user, or the ones named.
SecondaryRoles = Literal["ALL"] | frozenset[str]
ALL_SECONDARY_ROLES: SecondaryRoles = "ALL"


def account_role(name: str) -> Grantee:
    return ("ROLE", name)


def database_role(database: str, name: str) -> Grantee:
    return ("DATABASE ROLE", database, name)


def user_grantee(name: str) -> Grantee:
    return ("USER", name)


# (kind, name parts): ("ACCOUNT", ()), ("DATABASE", ("RAW",)), ("SCHEMA", ("RAW", "S")),
# ("TABLE", ("RAW", "S", "T")), ("WAREHOUSE", ("LOAD_WH",)).
ObjectKey = tuple[str, tuple[str, ...]]
ACCOUNT: ObjectKey = ("ACCOUNT", ())


@dataclass
class User:
    name: str
    password: str | None
    default_role: str = PUBLIC_ROLE
    default_warehouse: str | None = None
    roles: set[str] = field(default_factory=lambda: {PUBLIC_ROLE})
    # The DEFAULT_SECONDARY_ROLES property: ("ALL",), () or None when never set, which
    # Snowflake reads as ('ALL') (behaviour change 1692).
    default_secondary_roles: tuple[str, ...] | None = None

    def secondary_roles_at_login(self) -> SecondaryRoles:
        if self.default_secondary_roles == ():
            return frozenset()
        return ALL_SECONDARY_ROLES


# A table's columns by exact name, each with its declared length in characters if it is
# text (VARCHAR, CHAR) and None otherwise.
Columns = dict[str, int | None]


@dataclass
class TableInfo:
    """A table or a view (they share one namespace in a schema, and one key kind here)."""

    owner: str
    temporary_session: str | None = None  # token of the session a temporary table lives in
    # As the DDL that made the table declared them; None: not known yet (CREATE ... AS
    # SELECT), read from fakesnow's INFORMATION_SCHEMA when first needed.
    columns: Columns | None = None
    kind: str = "TABLE"  # or "VIEW"
    # The name fakesnow holds a temporary object under (in the same database and schema),
    # when it is not the object's own: see `rules.Checker.physical_name`.
    physical: str | None = None


class Account:
    """Users, roles, grants and the catalog, shared by every session of the server."""

    def __init__(self, admin_user: str, admin_password: str) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.roles: set[str] = {SUPERUSER_ROLE, PUBLIC_ROLE}
        # (database, name) -> the account role that owns it
        self.database_roles: dict[tuple[str, str], str] = {}
        # a role, database role or user -> the roles and database roles granted to it
        self.role_parents: dict[Grantee, set[Grantee]] = {}
        self.warehouses: set[str] = set()
        # (grantee, privilege, object); FUTURE grants are held on ("FUTURE TABLES",
        # (database, schema)) or ("FUTURE TABLES", (database,)) and copied to new tables.
        self.grants: set[tuple[Grantee, str, ObjectKey]] = set()
        self.owners: dict[ObjectKey, str] = {}  # object -> the account role that owns it
        self.databases: set[str] = set()
        self.schemas: set[tuple[str, str]] = set()
        self.tables: dict[tuple[str, str, str], TableInfo] = {}
        # Each session's temporary tables and views: two sessions may each have one of the
        # same name, and one shadows a permanent table of its name for its session only.
        self.temporary: dict[tuple[str, tuple[str, str, str]], TableInfo] = {}
        self.users[admin_user] = User(
            admin_user, admin_password, SUPERUSER_ROLE, None, {SUPERUSER_ROLE, PUBLIC_ROLE}
        )

    # Roles and privileges

    def hierarchy(self, roots: Iterable[Grantee]) -> set[Grantee]:
        """The roots and every role and database role they inherit (GRANT ROLE / GRANT
        DATABASE ROLE ... TO ...), plus PUBLIC."""
        seen = {*roots, account_role(PUBLIC_ROLE)}
        pending = list(seen)
        while pending:
            for inherited in self.role_parents.get(pending.pop(), set()):
                if inherited not in seen:
                    seen.add(inherited)
                    pending.append(inherited)
        return seen

    def role_hierarchy(self, role: str) -> set[str]:
        """The account role and the account roles it inherits, plus PUBLIC."""
        return account_roles(self.hierarchy([account_role(role)]))

    def active_secondary_roles(self, user: str, secondary: SecondaryRoles) -> set[str]:
        """The account roles a session has active as secondary roles: those granted to the
        user, all of them or the ones named (a role revoked since is no longer active)."""
        granted = self.users[user].roles if user in self.users else set()
        return set(granted) if isinstance(secondary, str) else granted & secondary

    def principals(self, user: str, primary: str, secondary: SecondaryRoles) -> set[Grantee]:
        """Every role, database role and user whose privileges a session of `user` acts
        with. Pass no secondary roles (`frozenset()`) for what only the primary role
        authorizes: a CREATE <object> privilege.

        The user's own grants (privileges and database roles granted TO USER) count only
        while all secondary roles are active: Snowflake's rule until behaviour change 2438
        (bundle 2026_08, disabled by default) makes them apply always."""
        roots = [account_role(primary)]
        roots += [account_role(r) for r in self.active_secondary_roles(user, secondary)]
        if secondary == ALL_SECONDARY_ROLES:
            roots.append(user_grantee(user))
        return self.hierarchy(roots)

    def has(
        self, principals: set[Grantee], privilege: str, key: ObjectKey, session: str | None = None
    ) -> bool:
        """Whether the principals hold the privilege (or ALL PRIVILEGES) or own the object
        (as `session` sees it: its own temporary table first)."""
        roles = account_roles(principals)
        if SUPERUSER_ROLE in roles:
            return True
        if (temporary := self._temporary(key, session)) is not None:
            return temporary.owner in roles
        if self.owners.get(key) in roles:
            return True
        wanted = {privilege} if privilege == "OWNERSHIP" else {privilege, "ALL PRIVILEGES"}
        return any((p, w, key) in self.grants for p in principals for w in wanted)

    def visible(self, principals: set[Grantee], key: ObjectKey, session: str | None = None) -> bool:
        """Whether SHOW and INFORMATION_SCHEMA list the object: Snowflake lists only objects
        on which an active role (with what it inherits) holds some privilege."""
        roles = account_roles(principals)
        if (temporary := self._temporary(key, session)) is not None:
            return SUPERUSER_ROLE in roles or temporary.owner in roles
        if SUPERUSER_ROLE in roles or self.owners.get(key) in roles:
            return True
        return any(grantee in principals and on == key for grantee, _, on in self.grants)

    def _temporary(self, key: ObjectKey, session: str | None) -> TableInfo | None:
        if key[0] != "TABLE" or session is None:
            return None
        return self.temporary.get((session, (key[1][0], key[1][1], key[1][2])))

    def privileges_in(
        self, database: str, roles: set[str] | None
    ) -> list[tuple[str, str, str, str | None, str, str]]:
        """Rows (grantee, object type, catalog, schema, name, privilege) of
        INFORMATION_SCHEMA.OBJECT_PRIVILEGES for objects of a database: grants to the
        account roles `roles` (None: to every account role). Grants to database roles and
        users are never rows of it."""
        rows = [
            (grantee[1], privilege, kind, parts)
            for grantee, privilege, (kind, parts) in self.grants
            if grantee[0] == "ROLE"
        ]
        rows += [(owner, "OWNERSHIP", kind, parts) for (kind, parts), owner in self.owners.items()]
        result = []
        for role, privilege, kind, parts in rows:
            if not parts or parts[0] != database or kind not in {"DATABASE", "SCHEMA", "TABLE"}:
                continue
            if roles is not None and role not in roles:
                continue
            schema = parts[1] if kind == "TABLE" else None
            result.append((role, kind, database, schema, parts[-1], privilege))
        return sorted(result, key=lambda row: tuple(str(v) for v in row))

    # Catalog

    def table(self, key: tuple[str, str, str], session: str | None) -> TableInfo | None:
        """The table or view a session sees under a name: its own temporary one first."""
        if session is not None and (temporary := self.temporary.get((session, key))):
            return temporary
        return self.tables.get(key)

    def exists(self, key: ObjectKey, session: str | None = None) -> bool:
        kind, parts = key
        if kind == "DATABASE":
            return parts[0] in self.databases
        if kind == "SCHEMA":
            return (parts[0], parts[1]) in self.schemas
        if kind == "TABLE":
            return self.table((parts[0], parts[1], parts[2]), session) is not None
        if kind == "WAREHOUSE":
            return parts[0] in self.warehouses
        return True

    def same_but_case(self, key: ObjectKey) -> str | None:
        """An existing object whose name differs from `key` only in letter case."""
        kind, parts = key
        by_kind: dict[str, Iterable[tuple[str, ...]]] = {
            "DATABASE": [(d,) for d in self.databases],
            "SCHEMA": list(self.schemas),
            "TABLE": list(self.tables),
        }
        names = by_kind.get(kind, [])
        wanted = tuple(part.upper() for part in parts)
        for name in names:
            if name != parts and tuple(part.upper() for part in name) == wanted:
                return ".".join(name)
        return None

    def create(
        self,
        key: ObjectKey,
        owner: str,
        temporary_session: str | None = None,
        columns: Columns | None = None,
        table_kind: str = "TABLE",
        physical: str | None = None,
    ) -> None:
        kind, parts = key
        if kind == "DATABASE":
            self.databases.add(parts[0])
        elif kind == "SCHEMA":
            self.schemas.add((parts[0], parts[1]))
        elif kind == "TABLE":
            table = (parts[0], parts[1], parts[2])
            info = TableInfo(owner, temporary_session, columns, table_kind, physical)
            if temporary_session is not None:
                self.temporary[(temporary_session, table)] = info
                return
            self.tables[table] = info
            self._apply_future_grants(key, table_kind)
        self.owners.setdefault(key, owner)

    def _apply_future_grants(self, key: ObjectKey, table_kind: str) -> None:
        """A new table or view gets the FUTURE grants of its schema, or, if the schema has
        none, those of its database (Snowflake: schema-level future grants take precedence)."""
        database, schema = key[1][0], key[1][1]
        future = f"FUTURE {table_kind}S"
        for scope in ((database, schema), (database,)):
            held = [(g, p) for g, p, on in self.grants if on == (future, scope)]
            if held:
                self.grants |= {(grantee, privilege, key) for grantee, privilege in held}
                return

    def drop(self, key: ObjectKey, session: str | None = None) -> None:
        """Drop an object and what it contains (a session's temporary table first)."""
        kind, parts = key
        if self._temporary(key, session) is not None:
            assert session is not None
            del self.temporary[(session, (parts[0], parts[1], parts[2]))]
            return
        depth = len(parts)
        if kind == "DATABASE":
            self.databases.discard(parts[0])
        self.schemas = {s for s in self.schemas if s[:depth] != parts}
        self.tables = {t: info for t, info in self.tables.items() if t[:depth] != parts}
        self.temporary = {t: info for t, info in self.temporary.items() if t[1][:depth] != parts}
        for store in (self.owners,):
            for other in [k for k in store if k[1][:depth] == parts and k[0] != "WAREHOUSE"]:
                del store[other]
        self.grants = {g for g in self.grants if g[2][1][:depth] != parts or g[2][0] == "WAREHOUSE"}
        if kind == "DATABASE":
            for name in [r for r in self.database_roles if r[0] == parts[0]]:
                self.drop_database_role(name)

    def drop_database_role(self, name: tuple[str, str]) -> None:
        """A database role goes with its grants, both ways."""
        del self.database_roles[name]
        role = database_role(*name)
        self.grants = {g for g in self.grants if g[0] != role}
        self.role_parents.pop(role, None)
        for inherited in self.role_parents.values():
            inherited.discard(role)

    def rename_table(self, old: tuple[str, str, str], new: tuple[str, str, str]) -> None:
        self.tables[new] = self.tables.pop(old)
        owner = self.owners.pop(("TABLE", old), None)
        if owner is not None:
            self.owners[("TABLE", new)] = owner
        self.grants = {
            (role, privilege, ("TABLE", new) if key == ("TABLE", old) else key)
            for role, privilege, key in self.grants
        }

    def end_session(self, session: str) -> list[tuple[str, str, str, TableInfo]]:
        """Temporary tables and views go with their session: those fakesnow holds under a
        name of their own (database, schema, that name, info), for the caller to drop."""
        held = []
        for owner, name in [key for key in self.temporary if key[0] == session]:
            info = self.temporary.pop((owner, name))
            if info.physical is not None:
                held.append((name[0], name[1], info.physical, info))
        return held


def account_roles(principals: Iterable[Grantee]) -> set[str]:
    """The names of the account roles among principals (not database roles or users)."""
    return {p[1] for p in principals if p[0] == "ROLE"}
