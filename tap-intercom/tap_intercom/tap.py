"""The tap: configuration and the list of streams."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from typing_extensions import override

from tap_intercom.client import (
    DEFAULT_INTERCOM_VERSION,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    MAX_PAGE_SIZE,
    REGION_URLS,
    IntercomStream,
    WorkspaceFacts,
    from_rfc3339,
)
from tap_intercom.deletions import DEFAULT_CAPACITY
from tap_intercom.incremental import (
    DEFAULT_STATE_INTERVAL_SECONDS,
    ChildStream,
    IncrementalStream,
)
from tap_intercom.output import BlockRecordWriter
from tap_intercom.pacing import DEFAULT_MAX_WORKERS, RateLimitPacer
from tap_intercom.reconciliation import DEFAULT_RECONCILIATION_DAYS
from tap_intercom.streams.activity import ActivityLogsStream
from tap_intercom.streams.conversations import (
    ConversationPartsStream,
    ConversationsStream,
    TicketPartsStream,
    TicketsStream,
)
from tap_intercom.streams.people import (
    CompaniesStream,
    CompanySegmentsStream,
    ContactCompaniesStream,
    ContactEventsStream,
    ContactNotesStream,
    ContactsStream,
    ContactTagsStream,
)
from tap_intercom.streams.webhooks import WEBHOOK_SETTINGS, WebhookNotificationsStream
from tap_intercom.streams.workspace import (
    AdminsStream,
    ArticlesStream,
    CompanyAttributesStream,
    ContactAttributesStream,
    ConversationAttributesStream,
    HelpCenterCollectionsStream,
    HelpCentersStream,
    NewsfeedsStream,
    NewsItemsStream,
    SegmentsStream,
    SubscriptionTypesStream,
    TagsStream,
    TeamsStream,
    TicketTypesStream,
)
from tap_intercom.summary import RunSummary

STREAM_TYPES: list[type[Stream]] = [
    AdminsStream,
    TeamsStream,
    TagsStream,
    SegmentsStream,
    CompanyAttributesStream,
    ContactAttributesStream,
    ConversationAttributesStream,
    TicketTypesStream,
    HelpCentersStream,
    HelpCenterCollectionsStream,
    SubscriptionTypesStream,
    NewsItemsStream,
    NewsfeedsStream,
    ArticlesStream,
    ContactsStream,
    ContactTagsStream,
    ContactCompaniesStream,
    ContactNotesStream,
    ContactEventsStream,
    CompaniesStream,
    CompanySegmentsStream,
    ConversationsStream,
    ConversationPartsStream,
    TicketsStream,
    TicketPartsStream,
    ActivityLogsStream,
    WebhookNotificationsStream,
]

#: Container objects that must outlive their frees before the garbage collector's
#: youngest generation is collected, while streams sync (Python's default: 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


@contextmanager
def garbage_collection_for_records() -> Iterator[None]:
    """Garbage collection tuned for the sync, restored afterwards.

    A page of records is thousands of dicts and lists, freed by reference counting once
    emitted (JSON values hold no cycles). With the default threshold each page set off
    several collections, which also walked every object made at startup (modules, the
    SDK, the catalog) in the older generations: about a tenth of the tap's CPU on a
    fast API. Those objects are frozen out of the collector's walks (`gc.freeze`) and
    the youngest generation waits for `YOUNG_COLLECTION_THRESHOLD` objects; garbage in
    cycles is still collected, a little later."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class TapIntercom(Tap):
    """Singer tap for Intercom: every extractable stream, incremental and resumable."""

    name = "tap-intercom"
    # The distribution (`tap-intercom` on the registry is another project): --about and
    # --version read the version from it.
    package_name = "intersnow-tap-intercom"
    # The SDK's stream mapping once put in sync order (see `streams`).
    _streams_in_sync_order: dict[str, Stream] | None = None
    # msgspec serialises records several times faster than the default writer, and
    # records go out in blocks (see tap_intercom.output).
    message_writer_class = BlockRecordWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "access_token",
            th.StringType,
            required=True,
            secret=True,
            description="Intercom access token (sent as a bearer token).",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Read nothing changed before this instant (default: all history).",
        ),
        th.Property(
            "api_url",
            th.StringType,
            description="API base URL; overrides `region` (default https://api.intercom.io).",
        ),
        th.Property(
            "region",
            th.StringType,
            allowed_values=sorted(REGION_URLS),
            description="Workspace region when `api_url` is not set: us, eu or au.",
        ),
        th.Property(
            "intercom_version",
            th.StringType,
            default=DEFAULT_INTERCOM_VERSION,
            description="The Intercom-Version header.",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
            default=MAX_PAGE_SIZE,
            description=f"Records per page, at most {MAX_PAGE_SIZE}.",
        ),
        th.Property(
            "max_workers",
            th.IntegerType(minimum=1, maximum=1000),
            default=DEFAULT_MAX_WORKERS,
            description=(
                "Upper bound of parallel requests for per-item endpoints (parts, notes, "
                "...); the working figure adapts to the rate budget and the latency."
            ),
        ),
        th.Property(
            "request_timeout",
            th.IntegerType(minimum=1),
            default=DEFAULT_REQUEST_TIMEOUT_SECONDS,
            description="Seconds before a request is abandoned and retried.",
        ),
        th.Property(
            "user_agent",
            th.StringType,
            description="User-Agent header (default tap-intercom/<version>).",
        ),
        th.Property(
            "lookback_window_seconds",
            th.IntegerType(minimum=0),
            default=300,
            description=(
                "Incremental streams re-read this many seconds before the bookmark, "
                "for records that reach Intercom's search late."
            ),
        ),
        th.Property(
            "strict_permissions",
            th.BooleanType,
            default=False,
            description=(
                "Fail the run when Intercom refuses a stream (403, or 404 for the whole "
                "endpoint). By default the stream is skipped with a warning naming the "
                "permission to grant, and the others complete."
            ),
        ),
        th.Property(
            "run_summary_path",
            th.StringType,
            description=(
                "Also write the end-of-run summary (schema drift, skipped streams) as "
                "JSON to this file. It is always logged as a `RUN SUMMARY:` line."
            ),
        ),
        th.Property(
            "contacts_reconciliation_days",
            th.IntegerType(minimum=0),
            default=DEFAULT_RECONCILIATION_DAYS,
            description=(
                "Every this many days (0: every run), list every contact id to find "
                "deleted and merged contacts (docs/deletions.md)."
            ),
        ),
        th.Property(
            "deletion_sketch_capacity",
            th.IntegerType(minimum=1),
            default=DEFAULT_CAPACITY,
            description=(
                "Ids gone between two listings that the state's id sketch can name "
                "(contacts, companies); about 100 bytes of state each."
            ),
        ),
        th.Property(
            "state_interval_seconds",
            th.NumberType(minimum=0),
            default=DEFAULT_STATE_INTERVAL_SECONDS,
            description=(
                "A stream making progress emits STATE at least this often (seconds of "
                "wall time), also between its natural checkpoints."
            ),
        ),
        *WEBHOOK_SETTINGS,
    ).to_dict()

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The schema's checks, plus what it cannot say: `start_date` must parse (the
        SDK does not check `format: date-time`), else every incremental stream fails.
        Every problem is reported at once."""
        own_errors = self._start_date_errors()
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as failure:
            failure.errors.extend(own_errors)
            raise
        if own_errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=own_errors)
        return errors + own_errors

    def _start_date_errors(self) -> list[str]:
        start_date = self.config.get("start_date")
        if not start_date:
            return []
        try:
            from_rfc3339(str(start_date))
        except ValueError:
            return [f"{start_date!r} is not an ISO-8601 date-time in config['start_date']"]
        return []

    @cached_property
    def run_summary(self) -> RunSummary:
        """This run's schema drift and refused streams, written at the end."""
        return RunSummary()

    @cached_property
    def pacer(self) -> RateLimitPacer:
        """This run's estimate of the workspace's rate budget, shared by every stream and
        thread. It starts knowing nothing and learns from each answer's `X-RateLimit-*`
        headers, which count every client of the workspace, this run included."""
        return RateLimitPacer()

    @cached_property
    def workspace(self) -> WorkspaceFacts:
        """What this run learns about the workspace (see `IntercomStream`)."""
        return WorkspaceFacts()

    # The SDK marks sync_all final and offers no end-of-run hook; the summary needs the
    # end of the run, also of a failed one (tests/tap/test_sdk_contract.py checks that
    # the SDK's sync_all still runs every stream inside this wrapper).
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """Every selected stream, then the run summary (also after a failure). A run
        whose every stream was refused fails: the token can read nothing."""
        try:
            with garbage_collection_for_records():
                super().sync_all()
        finally:
            if isinstance(self.message_writer, BlockRecordWriter):
                self.message_writer.flush()  # the records after the last STATE
            self.run_summary.write(self.logger, self.config.get("run_summary_path"))
        refused = {skip["stream"] for skip in self.run_summary.skipped}
        synced = [
            name
            for name, stream in self.streams.items()
            if stream.selected and name not in refused and isinstance(stream, IntercomStream)
        ]
        if refused and not synced:
            raise FatalAPIError(
                f"Intercom refused every selected stream ({', '.join(sorted(refused))}); "
                "see the warnings above for the permissions to grant."
            )

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        """The SDK's streams (by name), except that a per-parent stream comes right
        after its parent, whose listing it then replays instead of asking the API again
        (`sync_all` syncs them in this order; `load_streams` is final)."""
        streams = super().streams
        if self._streams_in_sync_order is not streams:
            ordered = sorted(
                streams.values(),
                key=lambda stream: (
                    getattr(stream, "parent_stream", stream.name),
                    hasattr(stream, "parent_stream"),
                    stream.name,
                ),
            )
            streams.clear()  # the SDK's own mapping, reordered in place
            streams.update((stream.name, stream) for stream in ordered)
            self._streams_in_sync_order = streams
        return streams

    @override
    def discover_streams(self) -> list[Stream]:
        """Return the streams this tap offers, each per-parent stream linked to its
        parent."""
        streams = [stream_type(tap=self) for stream_type in STREAM_TYPES]
        by_name = {stream.name: stream for stream in streams}
        for stream in streams:
            if isinstance(stream, ChildStream):
                parent = by_name[stream.parent_stream]
                if not isinstance(parent, IncrementalStream):
                    raise TypeError(f"{stream.name}: parent {parent.name} is not incremental")
                stream.adopt(parent)
        return streams


if __name__ == "__main__":
    TapIntercom.cli()
