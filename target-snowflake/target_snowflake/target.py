"""The target: configuration, wiring (the run's load session, the record router, the BATCH
loader), when STATE may go out, and signals."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import typing as t

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target
from typing_extensions import override

from target_snowflake.batch_loading import BatchLoader
from target_snowflake.connection import auth_method, redact
from target_snowflake.load_session import LoadSession
from target_snowflake.reader import Envelope, InputError, SingerLineReader
from target_snowflake.routing import RecordRouter
from target_snowflake.sink import LOAD_METHODS, SnowflakeSink
from target_snowflake.state_ledger import StateLedger
from target_snowflake.validation import SchemaProblem, schema_problem

if t.TYPE_CHECKING:
    from types import FrameType

# How long a signal may take to close the session before the process exits anyway.
SIGNAL_CLOSE_SECONDS = 10
# Longest a received record waits uncommitted unless configured (the tap's STATE interval,
# tap_intercom.incremental, is a third of it: tests/test_consistency.py).
DEFAULT_MAX_UNCOMMITTED_AGE_SECONDS = 60


class TargetSnowflake(Target):
    """Singer target for Snowflake: staged bulk loads with key-based MERGE upserts."""

    name = "target-snowflake"
    # The distribution (`target-snowflake` on the registry is another project): --about
    # and --version read the version from it.
    package_name = "intersnow-target-snowflake"
    message_reader_class = SingerLineReader
    capabilities: t.ClassVar = [*Target.capabilities, PluginCapabilities.ACTIVATE_VERSION]

    config_jsonschema = th.PropertiesList(
        th.Property("account", th.StringType, required=True, description="Account identifier"),
        th.Property("user", th.StringType, required=True, description="User to log in as"),
        th.Property("role", th.StringType, description="Role to use"),
        th.Property("warehouse", th.StringType, description="Warehouse that runs the loads"),
        th.Property("database", th.StringType, required=True, description="Target database"),
        th.Property(
            "default_target_schema",
            th.StringType,
            required=True,
            description="Schema the stream tables go to (normalized like every identifier)",
        ),
        th.Property("password", th.StringType, secret=True, description="Password auth"),
        th.Property("private_key", th.StringType, secret=True, description="Key pair: PEM text"),
        th.Property("private_key_path", th.StringType, description="Key pair: PEM file path"),
        th.Property(
            "private_key_passphrase", th.StringType, secret=True, description="Key passphrase"
        ),
        th.Property("authenticator", th.StringType, description="OAuth: e.g. `oauth`"),
        th.Property("token", th.StringType, secret=True, description="OAuth access token"),
        th.Property("host", th.StringType, description="Endpoint override (PrivateLink, emulator)"),
        th.Property("port", th.IntegerType, description="Endpoint override: port"),
        th.Property("protocol", th.StringType, description="Endpoint override: `https` or `http`"),
        th.Property(
            "load_method",
            th.StringType(allowed_values=list(LOAD_METHODS)),
            default="upsert",
            description="upsert (MERGE on keys), append-only, or overwrite",
        ),
        th.Property("hard_delete", th.BooleanType, default=False, description="Delete rows"),
        th.Property(
            "timestamp_type",
            th.StringType(allowed_values=["TZ", "NTZ", "LTZ"]),
            default="TZ",
            description="Column type for date-time properties: TIMESTAMP_TZ, _NTZ or _LTZ",
        ),
        th.Property("query_tag", th.StringType, description="QUERY_TAG of the session"),
        th.Property("login_timeout", th.IntegerType, description="Seconds to wait for login"),
        th.Property(
            "network_timeout",
            th.IntegerType,
            description="Seconds for each network operation (not for a statement's run time)",
        ),
        th.Property(
            "statement_timeout_seconds",
            th.IntegerType,
            description="STATEMENT_TIMEOUT_IN_SECONDS of the session (default: the account's)",
        ),
        th.Property(
            "on_invalid_record",
            th.StringType(allowed_values=["fail", "quarantine"]),
            default="fail",
            description=(
                "A record that fails its schema (or lacks a key): `fail` stops the run naming "
                "the line, stream and key (the Singer contract); `quarantine` loads it as "
                "received, with its error and input line, into the stream's side table "
                "`<TABLE>#QUARANTINE` and goes on"
            ),
        ),
        th.Property(
            "stage",
            th.StringType,
            description=(
                "A named stage to load through, fully qualified (`db.schema.stage`), instead "
                "of the run's temporary one: internal, or external over `s3_bucket`; never "
                "created or altered by the target (docs/external-stages.md)"
            ),
        ),
        th.Property("s3_bucket", th.StringType, description="External stage: its S3 bucket"),
        th.Property(
            "s3_key_prefix",
            th.StringType,
            description="Key prefix the batch files go under (within the stage's URL)",
        ),
        th.Property("s3_region_name", th.StringType, description="The bucket's AWS region"),
        th.Property(
            "s3_endpoint_url", th.StringType, description="S3 endpoint override (S3-compatible)"
        ),
        th.Property(
            "aws_access_key_id",
            th.StringType,
            secret=True,
            description="Explicit AWS key (default: the standard credential chain)",
        ),
        th.Property(
            "aws_secret_access_key", th.StringType, secret=True, description="Its secret key"
        ),
        th.Property(
            "aws_session_token", th.StringType, secret=True, description="Temporary credentials"
        ),
        th.Property("aws_profile", th.StringType, description="Shared-credentials profile"),
        th.Property(
            "s3_server_side_encryption",
            th.StringType(allowed_values=["AES256", "aws:kms"]),
            description="SSE of the uploaded files: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS)",
        ),
        th.Property("s3_sse_kms_key_id", th.StringType, description="SSE-KMS: the key id"),
        th.Property("s3_acl", th.StringType, description="Canned ACL of the uploaded files"),
        th.Property(
            "archive_load_files",
            th.BooleanType,
            default=False,
            description=(
                "Keep every loaded file in the named stage under "
                "`archive_load_files_prefix/<TABLE>/`, named by time, stream and batch id"
            ),
        ),
        th.Property(
            "archive_load_files_prefix",
            th.StringType,
            default="archive",
            description="Path in the stage (the bucket, under the stage's URL) of the archive",
        ),
        th.Property(
            "max_uncommitted_age_seconds",
            th.NumberType(exclusive_minimum=0),
            default=DEFAULT_MAX_UNCOMMITTED_AGE_SECONDS,
            description=(
                "Longest a received record waits uncommitted: once the oldest one is older, "
                "every stream's batch is loaded and the newest STATE that is then safe goes "
                "out, whatever the batch size. Checked on every input message"
            ),
        ),
    ).to_dict()

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        auth_method(self.config)  # exactly one auth method, checked before any input
        self.max_parallelism = 1  # one connection: sinks drain one after another
        self.load_session = LoadSession(self.config)
        self._sink_class = SnowflakeSink.for_run(self.load_session)
        if isinstance(self.message_reader, SingerLineReader):
            self.message_reader.before_first_line = self.load_session.open
        self._ledger = StateLedger()
        self._router = RecordRouter(
            quarantine=self.config.get("on_invalid_record") == "quarantine",
            line_number=lambda: t.cast("SingerLineReader", self.message_reader).line_number,
            batch_started=self._hold,
            batch_full=self._drain,
        )
        self._batches = BatchLoader(
            self._router,
            next_position=self._ledger.record_received,
            drain=self._drain,
            committed=self._emit_committed_state,
        )
        self._max_uncommitted_age = float(
            self.config.get("max_uncommitted_age_seconds", DEFAULT_MAX_UNCOMMITTED_AGE_SECONDS)
        )
        self._commit_by: float | None = None  # monotonic deadline of the oldest held record
        self._terminating = False  # a signal's close of the session is under way

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's config validation, with secret values kept out of its messages."""
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            errors = [redact(error, self.config) for error in exc.errors]
            raise ConfigValidationError(str(exc), errors=errors) from None
        return [redact(error, self.config) for error in errors]

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """Every stream's sink: `SnowflakeSink` bound to the run's load session (connection,
        stage, work directory, tables)."""
        _ = stream_name
        return self._sink_class

    # Messages: records go through the router (`routing`), BATCH files through the
    # batch loader (`batch_loading`).

    @override
    def _process_schema_message(self, message_dict: dict[str, t.Any]) -> None:
        problem = schema_problem(message_dict)
        if problem is not None:
            raise InputError(problem, stream=message_dict.get("stream"))
        stream: str = message_dict["stream"]  # the SDK's handler reads it the same way
        if stream in self.mapper.stream_maps:
            registered = self.mapper.stream_maps[stream][0]
            if registered.raw_schema != message_dict.get(
                "schema"
            ) or registered.raw_key_properties != message_dict.get("key_properties"):
                # Records under the old schema go first, so the last record still wins.
                for stream_map in self.mapper.stream_maps[stream]:
                    if self.sink_exists(stream_map.stream_alias):
                        self._drain(self.get_sink(stream_map.stream_alias))
        try:
            super()._process_schema_message(message_dict)
        except SchemaProblem as exc:  # from the sink's setup, before its table is touched
            raise InputError(f"SCHEMA message: {exc}", stream=stream) from None
        self._router.set_route(stream, self.mapper.stream_maps[stream], self.get_sink)
        self._commit_if_overdue()

    @override
    def _process_record_message(self, message: Envelope) -> None:  # type: ignore[override]
        route = self._router.route(message.stream, "RECORD")
        position = self._ledger.record_received()
        for sink, stream_map in route:
            self._router.write(
                sink, stream_map, message.record, message.version, message.time_extracted, position
            )
        self._commit_if_overdue()

    @override
    def _process_state_message(self, message_dict: dict[str, t.Any]) -> None:
        super()._process_state_message(message_dict)
        if self._latest_state is not None:
            self._ledger.state_received(self._latest_state)
            self._emit_committed_state()
        self._commit_if_overdue()

    @override
    def _process_activate_version_message(self, message_dict: dict[str, t.Any]) -> None:
        # Rows of the new version must be in before old ones go.
        for stream_map in self.mapper.stream_maps.get(message_dict["stream"], []):
            if self.sink_exists(stream_map.stream_alias):
                self._drain(self.get_sink(stream_map.stream_alias))
        super()._process_activate_version_message(message_dict)
        self._commit_if_overdue()

    @override
    def _process_batch_message(self, message_dict: dict[str, t.Any]) -> None:
        """Load the files of a BATCH message with the guarantees of RECORD messages."""
        self._batches.load(message_dict)
        self._commit_if_overdue()

    # Holding, draining and STATE

    def _hold(self, sink: SnowflakeSink, position: int) -> None:
        """A sink's batch started with the record at `position`: it is held uncommitted
        (an `overwrite` stream's until the table is replaced at the end of the run)."""
        now = time.monotonic()
        self._ledger.hold(sink, position, now)
        if self._commit_by is None:
            self._commit_by = now + self._max_uncommitted_age
        if sink.load_method == "overwrite":
            self._ledger.hold(("overwrite", sink.table.name), position)

    def _drain(self, sink: Sink) -> None:
        """Load one sink's batch, then emit the newest STATE that is now fully committed."""
        self.drain_one(sink)
        self._emit_committed_state()

    def _commit_if_overdue(self) -> None:
        """Load every held batch once the oldest held record is older than
        `max_uncommitted_age_seconds` (one clock read per message)."""
        if self._commit_by is not None and time.monotonic() >= self._commit_by:
            self.logger.info(
                "Records waited %.0f s uncommitted (max_uncommitted_age_seconds): loading "
                "every stream's batch.",
                self._max_uncommitted_age,
            )
            self.drain_all()
            self._emit_committed_state()  # drain_all only does when a state was received

    def _emit_committed_state(self) -> None:
        """Emit the newest received state that every record before it is committed for."""
        for holder in self._ledger.holders():
            if isinstance(holder, Sink) and not holder.current_size:
                self._ledger.release(holder)  # drained (by us or by the SDK's drain_all)
        since = self._ledger.oldest_hold_since()
        self._commit_by = None if since is None else since + self._max_uncommitted_age
        state = self._ledger.state_to_emit()
        if state is not None:
            super()._write_state_message(state)

    @override
    def _write_state_message(self, state: dict[str, t.Any]) -> None:
        """Called by the SDK's drain_all after draining every sink (the states it would
        write are in the ledger already); overwrite streams may still hold some."""
        _ = state
        self._emit_committed_state()

    @override
    def process_endofpipe(self) -> None:
        """Load everything, replace overwritten tables, emit the last state, disconnect."""
        try:
            super().process_endofpipe()
            for sink in t.cast("list[SnowflakeSink]", list(self._sinks_active.values())):
                variant_table = self.load_session.take_overwrite_table(sink.table)
                if variant_table is not None:
                    sink.replace_table(variant_table)
                    self._ledger.release(("overwrite", sink.table.name))
            self._emit_committed_state()
        finally:
            self.load_session.close()

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """On SIGTERM/SIGINT stop without loading: the open batch file may end in a
        half-written record, and every STATE already emitted covers committed records
        only. A running statement is cancelled, then the session is closed (an open
        transaction rolled back, then the logout), within `SIGNAL_CLOSE_SECONDS`. The
        connector runs on a worker thread (`Connection`), so this runs at once, even
        during a statement. `os._exit`, because SystemExit raised at an arbitrary point can
        be caught by library code (the connector's retries) and the process would not
        stop. A second signal (Ctrl-C, then the orchestrator's SIGTERM) lets the first
        one's close finish."""
        _ = frame
        if self._terminating:
            return
        self._terminating = True
        self.logger.warning(
            "Received signal %s: stopping; records after the last emitted STATE were not "
            "loaded (rerun from that state).",
            signal.Signals(signum).name,
        )
        watchdog = threading.Timer(SIGNAL_CLOSE_SECONDS, os._exit, (128 + signum,))
        watchdog.daemon = True
        watchdog.start()
        self.load_session.connection.abort(SIGNAL_CLOSE_SECONDS)
        self.load_session.remove_work_dir()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)


if __name__ == "__main__":
    TargetSnowflake.cli()
