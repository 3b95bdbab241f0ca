"""MERGE as Snowflake runs it, where fakesnow's differs.

fakesnow runs a MERGE as several statements over a temporary table of candidate rows. It
writes a value longer than its column's VARCHAR(n), updates a target row from any one of
several matching source rows, and cannot run inside a transaction (DuckDB refuses to
create the temporary table there). Snowflake refuses the first two (100078, 100090 unless
ERROR_ON_NONDETERMINISTIC_MERGE is off) and runs the third; dbt merges inside BEGIN ...
COMMIT.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.dialect import parse_one as fakesnow_parse_one
from fakesnow.rowtype import describe_as_rowtype
from fakesnow.statement_type import statement_type_id
from fakesnow.transforms.merge import merge as fakesnow_merge
from sqlglot import exp

from testbed.snowflake_strict.rules import identifier


def too_long(connection: Any, merge: exp.Merge, lengths: dict[str, int]) -> str | None:
    """Snowflake's error for the first value a MERGE would write longer than its column:
    each WHEN clause's values over the rows it applies to (matched rows not taken by an
    earlier clause; unmatched source rows)."""
    target, source, on = merge.this, merge.args["using"], merge.args["on"]
    earlier: dict[bool, list[exp.Expr]] = {True: [], False: []}
    whens = merge.args["whens"].expressions if merge.args.get("whens") else []
    for when in whens:
        matched, condition, then = (
            bool(when.args.get("matched")),
            when.args.get("condition"),
            when.args.get("then"),
        )
        filters = [exp.not_(prior.copy()) for prior in earlier[matched]]
        if condition is not None:
            filters.append(condition.copy())
        earlier[matched].append(condition if condition is not None else exp.true())
        if isinstance(then, exp.Update):
            pairs = [(identifier(eq.this), eq.expression) for eq in then.expressions]
            rows = exp.select().from_(target.copy()).join(source.copy(), on=on.copy())
        elif isinstance(then, exp.Insert) and isinstance(then.this, exp.Tuple):
            names = [identifier(column) for column in then.this.expressions]
            pairs = list(zip(names, then.expression.expressions, strict=True))
            unmatched = exp.Exists(this=exp.select("1").from_(target.copy()).where(on.copy()))
            rows = exp.select().from_(source.copy()).where(exp.not_(unmatched))
        else:
            continue
        for column, value in pairs:
            if column not in lengths:
                continue
            too_long = exp.GT(
                this=exp.Length(this=value.copy()), expression=exp.Literal.number(lengths[column])
            )
            query = rows.copy().select(value.copy()).where(too_long, *filters).limit(1)
            with connection.cursor() as cursor:
                cursor.execute(query.sql(dialect="snowflake"))
                row = cursor.fetchone()
            if row is not None:
                return too_long_message(str(row[0]))
    return None


def duplicated_target_row(connection: Any, merge: exp.Merge) -> bool:
    """Whether a target row that a WHEN MATCHED ... UPDATE clause applies to joins more than
    one source row (Snowflake cannot tell which one to update from)."""
    target, source, on = merge.this, merge.args["using"], merge.args["on"]
    conditions = [
        when.args.get("condition") or exp.true()
        for when in merge.args["whens"].expressions
        if when.args.get("matched") and isinstance(when.args.get("then"), exp.Update)
    ]
    if not conditions:
        return False
    query = (
        exp.select("1")
        .from_(target.copy())
        .join(source.copy(), on=on.copy())
        .where(exp.or_(*(condition.copy() for condition in conditions)))
        .group_by(exp.column("rowid", table=target.alias_or_name))
        .having("COUNT(*) > 1")
        .limit(1)
    )
    with connection.cursor() as cursor:
        cursor.execute(query.sql(dialect="snowflake"))
        return cursor.fetchone() is not None


def run_in_transaction(connection: Any, merge: exp.Merge, candidates: exp.Table) -> dict[str, Any]:
    """Run a MERGE inside the session's open transaction: fakesnow's own statements for it,
    with the candidate rows in `candidates`, an ordinary table (which DuckDB lets a
    transaction create), dropped after. The answer's data, as fakesnow's server gives a
    MERGE's (the rows inserted and updated)."""
    expression = fakesnow_parse_one(merge.sql(dialect="snowflake"))

    def rename(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and node.name.lower() == "merge_candidates":
            table = candidates.copy()
            table.set("alias", node.args.get("alias"))
            return table
        return node

    statements = [statement.transform(rename) for statement in fakesnow_merge(expression)]
    # Without TEMPORARY, and without any properties: fakesnow records a CREATE's properties
    # in its own catalog database, which a transaction that wrote elsewhere cannot write.
    statements[0].set("properties", None)
    cursor: FakeSnowflakeCursor = connection.cursor()
    try:
        # what fakesnow's cursor does with each statement it splits a MERGE into
        for statement in statements:
            cursor._execute(cursor._transform(statement, None))
        counts = cursor._arrow_table
        rowtype = describe_as_rowtype(cursor._describe_last_sql())
    finally:
        # fails only in a transaction already aborted, whose rollback drops the table
        with contextlib.suppress(Exception):
            connection.cursor().execute(f"DROP TABLE IF EXISTS {candidates.sql('snowflake')}")
    assert counts is not None
    rows = [[str(value) for value in row] for row in zip(*counts.to_pydict().values(), strict=True)]
    return {
        "parameters": [{"name": "TIMEZONE", "value": "Etc/UTC"}],
        "rowtype": rowtype,
        "total": len(rows),
        "queryId": cursor.sfqid,
        "statementTypeId": statement_type_id(expression),
        "finalDatabaseName": connection.database,
        "finalSchemaName": connection.schema,
        "queryResultFormat": "json",
        "rowset": rows,
    }


def too_long_message(value: str) -> str:
    shown = value if len(value) <= 60 else value[:60] + "..."
    return f"String '{shown}' is too long and would be truncated"
