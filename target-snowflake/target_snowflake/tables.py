"""DDL: create a table, add columns, change a column's type without losing data.

Nothing is created that exists: the table's columns are read from INFORMATION_SCHEMA
first, and only a missing table or column is created (CREATE on an existing object needs
privileges a loader role may not have, and is a DDL statement on every run). An existing
column changes only when the schema needs another type or a value needs more room, never
ahead of the value: a VARCHAR(n) is lengthened (`Table.lengthen`) when a batch holds a
longer value, and a NUMBER kept for a schema that allows floats or a larger scale is
retyped when a batch holds a value it cannot hold exactly. So a table made by someone
else loads with SELECT, INSERT, UPDATE and DELETE on it (ALTER needs ownership). A
failed statement names the stream, the table, the column and the statement
(`TableError`).

Real Snowflake only lets a column grow within its type (a longer VARCHAR is an ALTER
COLUMN ... SET DATA TYPE; NUMBER to VARCHAR is refused), so any other type change is
carried out as: add a column under a generated name, copy every value into it with an
explicit conversion (`types.convert`), drop the old column, rename the new one. Each DDL
statement commits on its own; if the target dies midway, the next run finishes or undoes
the change (see `_recover_retypes`). A clustering key on the column must be redefined
after such a change, and a view defined with `SELECT *` must be recreated (its columns
are fixed when it is created): docs/snowflake-privileges.md.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Mapping

from snowflake.connector.errors import Error

from target_snowflake.connection import Connection
from target_snowflake.naming import generated, quote
from target_snowflake.preflight import refused_on_table
from target_snowflake.types import (
    MAX_VARCHAR_LENGTH,
    SnowflakeType,
    convert,
    from_information_schema,
    widen,
)

logger = logging.getLogger(__name__)

RETYPE_MARKER = "#RETYPE"
INSUFFICIENT_PRIVILEGES = 3001
MAX_SHOWN = 4000  # characters of a failed statement an error message shows
# Statements on the table itself: refused with 003001, the role lacks a privilege on it.
TABLE_STATEMENTS = ("ALTER TABLE", "MERGE", "INSERT", "UPDATE", "DELETE")


class TableError(Exception):
    """A statement on a stream's table failed; the message says where and which."""


def retype_column_name(column: str) -> str:
    """The generated name of the column a type change copies `column` into."""
    return generated(column, RETYPE_MARKER)


class Table:
    """One target table: its name, its columns as they are in Snowflake, its evolution."""

    def __init__(
        self, connection: Connection, schema: str, name: str, stream: str | None = None
    ) -> None:
        self.connection = connection
        self.schema = schema
        self.name = name
        self.stream = stream  # the stream loaded into it, for messages
        self.qualified = f"{quote(connection.database)}.{quote(schema)}.{quote(name)}"
        self.columns: dict[str, SnowflakeType] = {}

    def where(self, column: str | None = None) -> str:
        """The stream, the table and the column, as error messages name them."""
        stream = f"stream {self.stream!r}, " if self.stream is not None else ""
        return f"{stream}table {self.qualified}" + (f", column {column}" if column else "")

    def _read_columns(self) -> dict[str, SnowflakeType]:
        rows = self.connection.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH"
            f" FROM {quote(self.connection.database)}.INFORMATION_SCHEMA.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (self.schema, self.name),
        )
        return {
            name: from_information_schema(kind, scale, length) for name, kind, scale, length in rows
        }

    def ensure(self, wanted: Mapping[str, SnowflakeType]) -> dict[str, SnowflakeType]:
        """Create or evolve the table so every wanted column exists with a type that can
        hold the schema's values.

        Returns the columns' actual types (a column may be wider than wanted: columns
        never narrow; an existing VARCHAR keeps its length until a value needs more).
        """
        existing = self._recover_retypes(self._read_columns(), wanted)
        if not existing:
            if not wanted:
                msg = f"{self.where()}: the schema has no properties to make columns of"
                raise ValueError(msg)
            columns = ", ".join(f"{quote(col)} {kind.sql}" for col, kind in wanted.items())
            self.connection.ensure_schema()
            self.execute(f"CREATE TABLE {self.qualified} ({columns})", "creating the table")
            logger.info("Created table %s", self.qualified)
            existing = self._read_columns()
        for column, kind in wanted.items():
            if column not in existing:
                self.execute(
                    f"ALTER TABLE {self.qualified} ADD COLUMN {quote(column)} {kind.sql}",
                    "adding the column",
                    column,
                )
                logger.info("Added column %s %s to %s", column, kind.sql, self.qualified)
                existing[column] = kind
            elif (target := widen(existing[column], kind)) != existing[column]:
                self.retype_column(column, existing[column], target)
                existing[column] = target
        self.columns = existing
        return existing

    def lengthen(self, column: str, longest: int) -> SnowflakeType:
        """Make a VARCHAR column hold a value of `longest` characters: in place (Snowflake
        lengthens a VARCHAR with ALTER COLUMN), to the longest length Snowflake declares so
        that it happens once. Returns the column's new type."""
        current = self.columns[column]
        lengthened = SnowflakeType("VARCHAR", length=MAX_VARCHAR_LENGTH)
        self.execute(
            f"ALTER TABLE {self.qualified} ALTER COLUMN {quote(column)} "
            f"SET DATA TYPE {lengthened.sql}",
            f"lengthening it from {current.sql} to {lengthened.sql} for a value of "
            f"{longest} characters",
            column,
        )
        logger.info(
            "Lengthened %s.%s from %s to %s (a value of %d characters)",
            self.qualified,
            column,
            current.sql,
            lengthened.sql,
            longest,
        )
        self.columns[column] = lengthened
        return lengthened

    def retype_column(self, column: str, current: SnowflakeType, to: SnowflakeType) -> None:
        """Change a column's type in a way real Snowflake accepts: add, copy with cast, swap."""
        temporary = retype_column_name(column)
        logger.info(
            "Changing %s.%s from %s to %s (add, copy, drop, rename)",
            self.qualified,
            column,
            current.sql,
            to.sql,
        )
        change = f"changing it from {current.sql} to {to.sql}"
        self.execute(
            f"ALTER TABLE {self.qualified} ADD COLUMN {quote(temporary)} {to.sql}", change, column
        )
        self.execute(
            f"UPDATE {self.qualified} SET {quote(temporary)} = "
            f"{convert(quote(column), current, to)}",
            change,
            column,
        )
        self.execute(f"ALTER TABLE {self.qualified} DROP COLUMN {quote(column)}", change, column)
        self.execute(
            f"ALTER TABLE {self.qualified} RENAME COLUMN {quote(temporary)} TO {quote(column)}",
            change,
            column,
        )
        self.columns[column] = to

    def execute(
        self, statement: str, step: str, column: str | None = None
    ) -> list[tuple[t.Any, ...]]:
        """Run one statement of a change to the table or a load into it. A failure names
        the stream, the table, the column and the statement; one refused for want of a
        privilege on the table (ownership to ALTER it) also the grant that gives it."""
        try:
            return self.connection.execute(statement)
        except Error as exc:
            what = f"{self.where(column)}: {step}"
            shown = statement if len(statement) <= MAX_SHOWN else statement[:MAX_SHOWN] + " ..."
            if exc.errno == INSUFFICIENT_PRIVILEGES and statement.startswith(TABLE_STATEMENTS):
                # refused_on_table names an ALTER's statement itself
                doing = what if statement.startswith("ALTER") else f"{what} (statement: {shown})"
                raise refused_on_table(self.connection, self.qualified, statement, doing) from None
            msg = f"{what} failed: {exc} (statement: {shown})"
            raise TableError(msg) from None

    def _recover_retypes(
        self, existing: dict[str, SnowflakeType], wanted: Mapping[str, SnowflakeType]
    ) -> dict[str, SnowflakeType]:
        """Finish or undo a type change an earlier run was killed in the middle of."""
        originals = {retype_column_name(column): column for column in [*existing, *wanted]}
        for temporary in [col for col in existing if col in originals]:
            column = originals[temporary]
            if column in existing:  # copy may be incomplete; the original is intact
                self.execute(
                    f"ALTER TABLE {self.qualified} DROP COLUMN {quote(temporary)}",
                    "undoing a type change an earlier run left unfinished",
                    column,
                )
            else:  # the original was dropped after the copy completed
                self.execute(
                    f"ALTER TABLE {self.qualified} RENAME COLUMN {quote(temporary)} "
                    f"TO {quote(column)}",
                    "finishing a type change an earlier run left unfinished",
                    column,
                )
                existing[column] = existing[temporary]
            del existing[temporary]
        return existing
