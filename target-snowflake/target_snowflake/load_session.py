"""The run's load session: what the sinks share for one run: the connection, the target
schema, the temporary stage, the local work directory, and which table each stream goes to.

The target creates one `LoadSession` and hands it to every sink; the sinks never see the
target itself. (Not to be confused with the `warehouse` setting: the Snowflake compute
warehouse that runs the loads.)
"""

from __future__ import annotations

import tempfile
import typing as t
from pathlib import Path

from target_snowflake import quarantine, statements
from target_snowflake.connection import Connection
from target_snowflake.naming import generated, normalize, quote
from target_snowflake.preflight import RUN_STAGE, check_stage
from target_snowflake.reader import InputError
from target_snowflake.stages import BatchStage, batch_stage
from target_snowflake.tables import Table


class LoadSession:
    """The run's side of Snowflake, created lazily: nothing connects before it is needed."""

    def __init__(self, config: t.Mapping[str, t.Any]) -> None:
        self.connection = Connection(config)
        self.schema_name = self.connection.schema
        self._stage = batch_stage(config, RUN_STAGE)  # settings checked before any input
        self._stage_checked = False
        self._role = config.get("role")
        self._work_dir: tempfile.TemporaryDirectory[str] | None = None
        self._tables: dict[str, str] = {}  # table name -> stream name
        self._overwrites: dict[str, str] = {}  # table name -> the run's VARIANT table
        self._quarantine_tables: dict[str, Table] = {}  # table name -> its side table

    @property
    def work_dir(self) -> Path:
        """Local directory for batch files (removed by `close`)."""
        if self._work_dir is None:
            self._work_dir = tempfile.TemporaryDirectory(prefix="target-snowflake-")
        return Path(self._work_dir.name)

    def open(self) -> None:
        """Log in and run the startup check, the named stage's part included (before
        the first input line is read)."""
        self.connection.open()
        if not self._stage_checked:
            check_stage(self.connection, self._stage, self._role)
            self._stage_checked = True

    @property
    def stage(self) -> BatchStage:
        """Where batch files go (`stages`): the session's temporary stage, which the
        startup check creates when the session opens, or the configured named stage."""
        self.open()
        return self._stage

    def table_for(self, stream_name: str) -> Table:
        """The stream's table; two streams may not share a table after normalization."""
        name = normalize(stream_name)
        other = self._tables.setdefault(name, stream_name)
        if other != stream_name:
            msg = f"streams {other!r} and {stream_name!r} both normalize to table {name}"
            raise InputError(msg, stream=stream_name)
        return Table(self.connection, self.schema_name, name, stream_name)

    def quarantine_table(self, table: Table) -> Table:
        """The side table for a table's quarantined records, created on first use."""
        if table.name not in self._quarantine_tables:
            side_table = Table(
                self.connection, self.schema_name, quarantine.table_name(table.name), table.stream
            )
            side_table.ensure({column: kind for column, (kind, _) in quarantine.COLUMNS.items()})
            self._quarantine_tables[table.name] = side_table
        return self._quarantine_tables[table.name]

    def overwrite_table(self, table: Table) -> str:
        """The run's VARIANT table collecting an `overwrite` stream's batches."""
        if table.name not in self._overwrites:
            variant_table = quote(generated(table.name, "#OVERWRITE"))
            self.connection.execute(statements.create_variant_table(variant_table, replace=True))
            self._overwrites[table.name] = variant_table
        return self._overwrites[table.name]

    def take_overwrite_table(self, table: Table) -> str | None:
        """The run's VARIANT table of an `overwrite` table, once, at the end of the run."""
        return self._overwrites.pop(table.name, None)

    def remove_work_dir(self) -> None:
        """Delete the local batch files (also on a signal, without touching Snowflake)."""
        if self._work_dir is not None:
            self._work_dir.cleanup()

    def close(self) -> None:
        """Disconnect (temporary stage and tables go with the session); delete local files."""
        try:
            self.connection.close()
        finally:
            self.remove_work_dir()
