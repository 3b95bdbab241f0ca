"""DDL: create a table, add columns, change a column's type without losing data.

Nothing is created that exists: the table's columns are read from INFORMATION_SCHEMA
first, and only a missing table or column is created (CREATE on an existing object needs
privileges a loader role may not have, and is a DDL statement on every run).

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
from collections.abc import Mapping

from snowflake.connector.errors import ProgrammingError

from target_snowflake.connection import Connection
from target_snowflake.naming import generated, quote
from target_snowflake.preflight import missing_privilege
from target_snowflake.types import SnowflakeType, convert, from_information_schema, widen

logger = logging.getLogger(__name__)

RETYPE_MARKER = "#RETYPE"
INSUFFICIENT_PRIVILEGES = 3001


def retype_column(column: str) -> str:
    """The generated name of the column a type change copies `column` into."""
    return generated(column, RETYPE_MARKER)


class Table:
    """One target table: its name, its columns as they are in Snowflake, its evolution."""

    def __init__(self, connection: Connection, schema: str, name: str) -> None:
        self.connection = connection
        self.schema = schema
        self.name = name
        self.qualified = f"{quote(connection.database)}.{quote(schema)}.{quote(name)}"
        self.columns: dict[str, SnowflakeType] = {}

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
        """Create or evolve the table so every wanted column exists and can hold its values.

        Returns the columns' actual types (a column may be wider than wanted: columns
        never narrow).
        """
        existing = self._recover_retypes(self._read_columns(), wanted)
        if not existing:
            if not wanted:
                msg = f"table {self.name}: the schema has no properties to make columns of"
                raise ValueError(msg)
            columns = ", ".join(f"{quote(col)} {kind.sql}" for col, kind in wanted.items())
            self.connection.ensure_schema()
            self.connection.execute(f"CREATE TABLE {self.qualified} ({columns})")
            logger.info("Created table %s", self.qualified)
            existing = self._read_columns()
        for column, kind in wanted.items():
            if column not in existing:
                self._alter(f"ADD COLUMN {quote(column)} {kind.sql}", f"adding column {column}")
                logger.info("Added column %s %s to %s", column, kind.sql, self.qualified)
                existing[column] = kind
            elif (target := widen(existing[column], kind)) != existing[column]:
                if target.name == existing[column].name == "VARCHAR":
                    self._alter(
                        f"ALTER COLUMN {quote(column)} SET DATA TYPE {target.sql}",
                        f"lengthening column {column} from {existing[column].sql} to "
                        f"{target.sql} (for longer values)",
                    )
                    logger.info("Widened %s.%s to %s", self.qualified, column, target.sql)
                else:
                    self.retype_column(column, existing[column], target)
                existing[column] = target
        self.columns = existing
        return existing

    def retype_column(self, column: str, current: SnowflakeType, to: SnowflakeType) -> None:
        """Change a column's type in a way real Snowflake accepts: add, copy with cast, swap."""
        temporary = retype_column(column)
        logger.info(
            "Changing %s.%s from %s to %s (add, copy, drop, rename)",
            self.qualified,
            column,
            current.sql,
            to.sql,
        )
        self._alter(
            f"ADD COLUMN {quote(temporary)} {to.sql}",
            f"changing column {column} from {current.sql} to {to.sql}",
        )
        self.connection.execute(
            f"UPDATE {self.qualified} SET {quote(temporary)} = "
            f"{convert(quote(column), current, to)}"
        )
        self.connection.execute(f"ALTER TABLE {self.qualified} DROP COLUMN {quote(column)}")
        self.connection.execute(
            f"ALTER TABLE {self.qualified} RENAME COLUMN {quote(temporary)} TO {quote(column)}"
        )

    def _alter(self, action: str, change: str) -> None:
        """ALTER TABLE on the existing table. It needs ownership: a table someone else
        created and did not hand over stops the run naming the change and the grant."""
        try:
            self.connection.execute(f"ALTER TABLE {self.qualified} {action}")
        except ProgrammingError as exc:
            if exc.errno != INSUFFICIENT_PRIVILEGES:
                raise
            role = quote(str(self.connection.execute("SELECT CURRENT_ROLE()")[0][0]))
            raise missing_privilege(
                f"Table {self.qualified}: {change} needs ownership of the table, which role "
                f"{role} does not have",
                [f"GRANT OWNERSHIP ON TABLE {self.qualified} TO ROLE {role} COPY CURRENT GRANTS"],
            ) from None

    def _recover_retypes(
        self, existing: dict[str, SnowflakeType], wanted: Mapping[str, SnowflakeType]
    ) -> dict[str, SnowflakeType]:
        """Finish or undo a type change an earlier run was killed in the middle of."""
        originals = {retype_column(column): column for column in [*existing, *wanted]}
        for temporary in [col for col in existing if col in originals]:
            column = originals[temporary]
            if column in existing:  # copy may be incomplete; the original is intact
                self.connection.execute(
                    f"ALTER TABLE {self.qualified} DROP COLUMN {quote(temporary)}"
                )
            else:  # the original was dropped after the copy completed
                self.connection.execute(
                    f"ALTER TABLE {self.qualified} RENAME COLUMN {quote(temporary)} "
                    f"TO {quote(column)}"
                )
                existing[column] = existing[temporary]
            del existing[temporary]
        return existing
