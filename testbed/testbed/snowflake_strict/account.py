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
    owner: str
    temporary_session: str | None = None  # token of the session a temporary table lives in
    # As the DDL that made the table declared them; None: not known yet (CREATE ... AS
    # SELECT), read from fakesnow's INFORMATION_SCHEMA when first needed.
    columns: Columns | None = None


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

    def has(self, role: str, privilege: str, key: ObjectKey) -> bool:
        """Whether `role` (with what it inherits) holds the privilege or owns the object."""
        roles = self.role_hierarchy(role)
        if SUPERUSER_ROLE in roles:
            return True
        if self.owners.get(key) in roles:
            return True
        return any((r, privilege, key) in self.grants for r in roles)

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

    def exists(self, key: ObjectKey, session: str | None = None) -> bool:
        kind, parts = key
        if kind == "DATABASE":
            return parts[0] in self.databases
        if kind == "SCHEMA":
            return (parts[0], parts[1]) in self.schemas
        if kind == "TABLE":
            info = self.tables.get((parts[0], parts[1], parts[2]))
            return info is not None and info.temporary_session in (None, session)
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
    ) -> None:
        kind, parts = key
        if kind == "DATABASE":
            self.databases.add(parts[0])
        elif kind == "SCHEMA":
            self.schemas.add((parts[0], parts[1]))
        elif kind == "TABLE":
            self.tables[(parts[0], parts[1], parts[2])] = TableInfo(
                owner, temporary_session, columns
            )
        if kind != "TABLE" or temporary_session is None:
            self.owners.setdefault(key, owner)
        else:
            self.owners[key] = owner

    def drop(self, key: ObjectKey) -> None:
        kind, parts = key
        depth = len(parts)
        if kind == "DATABASE":
            self.databases.discard(parts[0])
        self.schemas = {s for s in self.schemas if s[:depth] != parts}
        self.tables = {t: info for t, info in self.tables.items() if t[:depth] != parts}
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

    def end_session(self, session: str) -> None:
        """Temporary tables go with their session."""
        for name in [t for t, info in self.tables.items() if info.temporary_session == session]:
            del self.tables[name]
            self.owners.pop(("TABLE", name), None)
