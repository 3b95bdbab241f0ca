"""What a Snowflake account knows and fakesnow does not: users, roles, grants, warehouses,
and the exact (case-sensitive) names and owners of databases, schemas and tables.

Object names are kept as Snowflake resolves them: an unquoted identifier upper-cased, a
quoted one as written. fakesnow resolves names case-insensitively, so the catalog here is
what decides whether `"raw"` and `RAW` are the same object (they are not).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

SUPERUSER_ROLE = "ACCOUNTADMIN"
PUBLIC_ROLE = "PUBLIC"

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
        self.role_parents: dict[str, set[str]] = {}  # role -> roles granted to it
        self.warehouses: set[str] = set()
        self.grants: set[tuple[str, str, ObjectKey]] = set()  # (role, privilege, object)
        self.owners: dict[ObjectKey, str] = {}
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

    def role_hierarchy(self, role: str) -> set[str]:
        """The role and every role it inherits (through GRANT ROLE ... TO ROLE), plus PUBLIC."""
        seen = {role, PUBLIC_ROLE}
        pending = [role]
        while pending:
            for inherited in self.role_parents.get(pending.pop(), set()):
                if inherited not in seen:
                    seen.add(inherited)
                    pending.append(inherited)
        return seen

    def has(self, role: str, privilege: str, key: ObjectKey, session: str | None = None) -> bool:
        """Whether `role` (with what it inherits) holds the privilege or owns the object (as
        `session` sees it: its own temporary table first)."""
        roles = self.role_hierarchy(role)
        if SUPERUSER_ROLE in roles:
            return True
        if (temporary := self._temporary(key, session)) is not None:
            return temporary.owner in roles
        if self.owners.get(key) in roles:
            return True
        return any((r, privilege, key) in self.grants for r in roles)

    def visible(self, role: str, key: ObjectKey, session: str | None = None) -> bool:
        """Whether SHOW and INFORMATION_SCHEMA list the object to the role: Snowflake lists
        only objects on which the role (with what it inherits) holds some privilege."""
        roles = self.role_hierarchy(role)
        if (temporary := self._temporary(key, session)) is not None:
            return SUPERUSER_ROLE in roles or temporary.owner in roles
        if SUPERUSER_ROLE in roles or self.owners.get(key) in roles:
            return True
        return any(grantee in roles and on == key for grantee, _, on in self.grants)

    def _temporary(self, key: ObjectKey, session: str | None) -> TableInfo | None:
        if key[0] != "TABLE" or session is None:
            return None
        return self.temporary.get((session, (key[1][0], key[1][1], key[1][2])))

    def privileges_in(self, database: str) -> list[tuple[str, str, str, str | None, str, str]]:
        """Rows (grantee, object type, catalog, schema, name, privilege) for objects of a
        database: INFORMATION_SCHEMA.OBJECT_PRIVILEGES."""
        rows = []
        for role, privilege, (kind, parts) in self.grants:
            rows.append((role, privilege, kind, parts))
        for (kind, parts), owner in self.owners.items():
            rows.append((owner, "OWNERSHIP", kind, parts))
        result = []
        for role, privilege, kind, parts in rows:
            if not parts or parts[0] != database or kind not in {"DATABASE", "SCHEMA", "TABLE"}:
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
        self.owners.setdefault(key, owner)

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
