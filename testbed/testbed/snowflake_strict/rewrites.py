"""Statements given to fakesnow in another form with the same meaning.

Each rewrite covers something Snowflake does that fakesnow does not, as written: values
only the layer knows (the session's role, warehouse, ...), temporary objects named with a
database and schema (which dbt creates for incremental models), what INFORMATION_SCHEMA
lists to a role, the bare source columns of dbt's MERGE, and functions fakesnow lacks or
answers differently. The rules have checked the statement as the client sent it; the
rewrite only changes what fakesnow runs (docs/snowflake-emulator-gaps.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlglot import exp

from testbed.snowflake_strict.account import PUBLIC_ROLE
from testbed.snowflake_strict.responses import DUCKDB_TYPE_PATTERNS, DUCKDB_TYPES
from testbed.snowflake_strict.rules import (
    Checker,
    StrictError,
    created,
    held_apart,
    identifier,
    parts_of,
)

_SESSION_FUNCTIONS: dict[type[exp.Expr], Callable[[Checker], str | None]] = {
    exp.CurrentRole: lambda c: c.session.role,
    exp.CurrentWarehouse: lambda c: c.session.warehouse,
    exp.CurrentUser: lambda c: c.session.user,
    exp.CurrentDatabase: lambda c: c.session.database,
    exp.CurrentSchema: lambda c: c.session.schema,
    exp.CurrentSecondaryRoles: lambda c: _secondary_roles(c),
}


def _secondary_roles(checker: Checker) -> str:
    """CURRENT_SECONDARY_ROLES(): the active secondary roles and what was asked for, as
    Snowflake answers it (`{"roles":"R1,R2","value":"ALL"}`)."""
    session = checker.session
    # The roles granted to the user and active beside the primary one (PUBLIC, which
    # every user has, is not listed in Snowflake's examples).
    active = checker.account.active_secondary_roles(session.user, session.secondary) - {
        session.role,
        PUBLIC_ROLE,
    }
    asked = (
        session.secondary
        if isinstance(session.secondary, str)
        else ",".join(sorted(session.secondary))
    )
    return json.dumps({"roles": ",".join(sorted(active)), "value": asked}, separators=(",", ":"))


# INFORMATION_SCHEMA views whose rows name a schema (and a table): the columns that do.
_LISTING_VIEWS = {
    "TABLES": ("TABLE_SCHEMA", "TABLE_NAME"),
    "VIEWS": ("TABLE_SCHEMA", "TABLE_NAME"),
    "COLUMNS": ("TABLE_SCHEMA", "TABLE_NAME"),
    "SCHEMATA": ("SCHEMA_NAME",),
}


# What a view is in INFORMATION_SCHEMA.TABLES (the other columns: NULL, as for a view)
_VIEWS_AS_TABLES: list[str | exp.Expr] = [
    "TABLE_CATALOG",
    "TABLE_SCHEMA",
    "TABLE_NAME",
    "TABLE_OWNER",
    exp.alias_(exp.Literal.string("VIEW"), "TABLE_TYPE"),
    exp.alias_(exp.Literal.string("NO"), "IS_TRANSIENT"),
    "COMMENT",
    "CREATED",
    "LAST_ALTERED",
    "LAST_DDL",
    "LAST_DDL_BY",
]
_TZ = exp.DataType.build("TIMESTAMPTZ")
_ZONED = {exp.DataType.build("TIMESTAMPTZ"), exp.DataType.build("TIMESTAMPLTZ")}
_TO_ZONED = {"TO_TIMESTAMP_TZ", "TO_TIMESTAMP_LTZ"}
_TEXT_TYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR}


def rewrite(statement: exp.Expr, checker: Checker, superuser: bool) -> exp.Expr | None:
    """The statement as fakesnow should run it, or None when it runs as sent."""
    tree = statement.copy()
    changed = _session_values(tree, checker)
    changed = _temporary_objects(tree, checker) or changed
    changed = _information_schema(tree, checker, superuser) or changed
    changed = _merge_inserts(tree) or changed
    changed = _functions(tree) or changed
    return tree if changed else None


def _session_values(tree: exp.Expr, checker: Checker) -> bool:
    """CURRENT_ROLE() and friends: the session's values, which fakesnow does not know."""
    found = list(tree.find_all(*_SESSION_FUNCTIONS))
    for node in found:
        value = _SESSION_FUNCTIONS[type(node)](checker)
        node.replace(exp.Null() if value is None else exp.Literal.string(value))
    return bool(found)


def _temporary_objects(tree: exp.Expr, checker: Checker) -> bool:
    """A temporary table or view named with its database and schema is made an ordinary
    one under `Checker.physical_name`; the session's references to it follow."""
    changed = False
    made: exp.Table | None = None
    if isinstance(tree, exp.Create) and held_apart(tree):
        _, made = created(tree)
        temporary = tree.find(exp.TemporaryProperty)
        assert made is not None and temporary is not None  # held_apart checked both
        properties = temporary.parent
        temporary.pop()
        if isinstance(properties, exp.Properties) and not properties.expressions:
            # fakesnow records any CREATE's properties in its own catalog database
            tree.set("properties", None)
        made.set("this", exp.to_identifier(checker.physical_name(checker.table_key(made)[2]), True))
        changed = True
    for table in list(checker.tables(tree)):
        if table is made:
            continue
        try:
            key = checker.table_key(table)
        except StrictError:  # no current database or schema: not a held object either
            continue
        physical = checker.in_fakesnow(key)
        if physical != key:
            table.set("this", exp.to_identifier(physical[2], quoted=True))
            changed = True
    return changed


def _information_schema(tree: exp.Expr, checker: Checker, superuser: bool) -> bool:
    """INFORMATION_SCHEMA as Snowflake answers it, each listing view read through a query
    that makes fakesnow's so: it lists only the objects the role holds a privilege on
    (fakesnow lists every one), TABLES lists views too (fakesnow lists base tables only),
    COLUMNS names Snowflake's types (fakesnow passes DuckDB's through)."""
    changed = False
    for table in list(tree.find_all(exp.Table)):
        names = [identifier(part) for part in parts_of(table)]
        if len(names) < 2 or names[-2] != "INFORMATION_SCHEMA" or names[-1] not in _LISTING_VIEWS:
            continue
        source = table.copy()
        source.set("alias", None)
        listing: exp.Select = exp.select("*").from_(source)
        if names[-1] == "TABLES":
            views = source.copy()
            views.set("this", exp.to_identifier("VIEWS"))
            both = exp.Union(
                this=listing, expression=exp.select(*_VIEWS_AS_TABLES).from_(views), by_name=True
            )
            both.set("distinct", False)
            listing = exp.select("*").from_(both.subquery("LISTED"))
        elif names[-1] == "COLUMNS":
            data_type = exp.alias_(_snowflake_type(exp.column("DATA_TYPE")), "DATA_TYPE")
            listing = exp.select(exp.Star(replace=[data_type])).from_(source)
        if not superuser:
            database = names[0] if len(names) == 3 else checker.session.database or ""
            schema_column, *name_column = _LISTING_VIEWS[names[-1]]
            if name_column:
                tables = checker.visible_tables(database)
                listing = listing.where(_by_schema(tables, schema_column, name_column[0]))
            else:
                schemas = ["INFORMATION_SCHEMA", *checker.visible_schemas(database)]
                listing = listing.where(exp.column(schema_column).isin(*schemas))
        table.replace(listing.subquery(table.alias_or_name))
        changed = True
    return changed


def _snowflake_type(data_type: exp.Expr) -> exp.Expr:
    """A CASE naming the Snowflake type for a DuckDB type name (`DUCKDB_TYPES`)."""
    case = exp.Case()
    for snowflake in sorted(set(DUCKDB_TYPES.values())):
        duckdb = [name for name, same in DUCKDB_TYPES.items() if same == snowflake]
        case = case.when(data_type.copy().isin(*duckdb), exp.Literal.string(snowflake))
    for pattern, snowflake in DUCKDB_TYPE_PATTERNS:
        case = case.when(
            exp.Like(this=data_type.copy(), expression=exp.Literal.string(pattern)),
            exp.Literal.string(snowflake),
        )
    return case.else_(data_type)


def _merge_inserts(tree: exp.Expr) -> bool:
    """In a MERGE's WHEN NOT MATCHED clause a bare column can only be the source's (there
    is no target row), and dbt writes them bare; fakesnow runs the clause over a join of
    target and source, where a name both have is ambiguous. The layer names the source."""
    if not isinstance(tree, exp.Merge):
        return False
    source = tree.args["using"]
    alias = source.args.get("alias")
    name = alias.this if isinstance(alias, exp.TableAlias) else source.this
    if not isinstance(name, exp.Identifier):
        return False
    changed = False
    for when in tree.args["whens"].expressions:
        if when.args.get("matched") or not isinstance(when.args.get("then"), exp.Insert):
            continue
        values = when.args["then"].expression
        for part in (values, when.args.get("condition")):
            for column in part.find_all(exp.Column) if part is not None else ():
                if not column.table:
                    column.set("table", name.copy())
                    changed = True
    return changed


def _functions(tree: exp.Expr) -> bool:
    """Functions fakesnow lacks or answers differently from Snowflake, in a form it runs
    as Snowflake does (children before parents, so a replacement keeps its rewritten
    arguments)."""
    changed = False
    for node in reversed(list(tree.walk(bfs=False))):
        replacement = _function(node)
        if replacement is not None:
            node.replace(replacement)
            changed = True
    return changed


def _function(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.ArrayAgg):
        # fakesnow moves the ORDER BY into the aggregate and loses the NULLs Snowflake
        # leaves out (`[1,2,null]`); written that way itself, fakesnow keeps them out.
        order = exp.Order(this=node.this.this, expressions=node.expression.expressions)
        return exp.Anonymous(this="ARRAY_AGG", expressions=[order])
    if isinstance(node, exp.UnixToTime) and node.args.get("target_type") in _ZONED:
        # TO_TIMESTAMP_TZ(<number literal>[, scale]): fakesnow returns a TIMESTAMP_NTZ
        return exp.cast(exp.UnixToTime(this=node.this, scale=node.args.get("scale")), _TZ)
    if isinstance(node, exp.Anonymous) and node.name.upper() in _TO_ZONED:
        # TO_TIMESTAMP_TZ(<expression>[, scale]): missing in fakesnow
        value = node.expressions[0]
        if len(node.expressions) == 1 and _is_text(value):
            return exp.cast(value, _TZ)
        return exp.cast(exp.Anonymous(this="TO_TIMESTAMP", expressions=node.expressions), _TZ)
    if isinstance(node, exp.ConvertTimezone) and node.args.get("source_tz") is None:
        # CONVERT_TIMEZONE(tz, ts) is the same instant as a TIMESTAMP_TZ (in `tz`); fakesnow
        # answers the wall clock in `tz` as a TIMESTAMP_NTZ. fakesnow's TIMESTAMP_TZ keeps
        # instants, not offsets (docs/snowflake-emulator-gaps.md).
        return exp.cast(node.args["timestamp"], _TZ)
    if isinstance(node, exp.JSONKeys):
        # OBJECT_KEYS: fakesnow cannot return DuckDB's list (NotImplementedError, HTTP
        # 500); Snowflake lists an object's keys sorted, as an ARRAY
        keys = exp.Anonymous(this="LIST_SORT", expressions=[node.copy()])
        return exp.ParseJSON(this=exp.Anonymous(this="TO_JSON", expressions=[keys]))
    return None


def _is_text(value: exp.Expr) -> bool:
    if isinstance(value, exp.Literal):
        return value.is_string
    return isinstance(value, exp.Cast) and value.to.this in _TEXT_TYPES


def _by_schema(
    tables: list[tuple[str, str, str]], schema_column: str, name_column: str
) -> exp.Expr:
    """A condition true for the rows naming one of `tables` (one term per schema)."""
    names: dict[str, list[str]] = {}
    for _, schema, name in tables:
        names.setdefault(schema, []).append(name)
    terms = [
        exp.and_(exp.column(schema_column).eq(schema), exp.column(name_column).isin(*listed))
        for schema, listed in names.items()
    ]
    return exp.or_(*terms) if terms else exp.false()
