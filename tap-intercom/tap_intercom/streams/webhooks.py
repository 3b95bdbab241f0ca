"""`webhook_notifications`: the notifications the webhook receiver stored in its spool."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib import StateMessage
from typing_extensions import override

from tap_intercom.schemas import timestamp_converter
from tap_intercom.webhooks.spool import SpoolPosition, read_spool, remove_consumed

SPOOL_DIR_SETTING = "webhook_spool_dir"
FOLLOW_SETTING = "webhook_follow"
FOLLOW_MAX_SECONDS_SETTING = "webhook_follow_max_seconds"
# How often a following stream looks for new records: a directory listing and a read
# from the last offset, well under a millisecond while the spool is idle.
POLL_SECONDS = 0.2
# While no record arrives, a following stream repeats its STATE this often: the target
# checks `max_uncommitted_age_seconds` when a message comes, so this is what lets it
# commit (and pass the STATE on) the records it holds when the events stop.
IDLE_STATE_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

WEBHOOK_SETTINGS = (
    th.Property(
        SPOOL_DIR_SETTING,
        th.StringType,
        description=(
            "Spool directory of tap-intercom-webhooks (its --spool), read by the "
            "webhook_notifications stream (not selected by default)."
        ),
    ),
    th.Property(
        FOLLOW_SETTING,
        th.BooleanType,
        default=False,
        description=(
            "webhook_notifications does not end at the end of the spool: it emits new "
            "notifications as the receiver stores them, until SIGTERM/SIGINT (exit 0)."
        ),
    ),
    th.Property(
        FOLLOW_MAX_SECONDS_SETTING,
        th.NumberType(minimum=0),
        description=(
            "With webhook_follow: end normally after this many seconds (unset: run until "
            "stopped), so that a supervisor's restart removes the loaded spool segments."
        ),
    ),
)


class StopRequest:
    """SIGTERM/SIGINT ask a following stream to stop at the next record boundary.

    While installed, the signals only set a flag: the stream ends, the SDK writes the
    final STATE and the tap exits 0, instead of the SDK's handler exiting wherever the
    signal lands. The previous handlers come back on `restore`.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        for number in STOP_SIGNALS:
            signal.signal(number, self._request)

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        """Whether a stop signal came."""
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, less if a stop signal comes."""
        self._event.wait(seconds)

    def restore(self) -> None:
        """Put back the handlers that were there before."""
        for number, handler in self._previous.items():
            signal.signal(number, handler)


class WebhookNotificationsStream(Stream):
    """Reads the spool after the bookmarked position, in the order notifications arrived.

    The bookmark (replication key `spool_position`, "SEGMENT:OFFSET") is where the last
    emitted record ends. A run first removes the segments entirely before the bookmark it
    starts from: that state came back from the target, so those records are loaded.
    `start_date` does not apply: the spool holds only what the receiver got, and a time
    is no place in it.
    """

    name = "webhook_notifications"
    primary_keys = ("id",)
    replication_key = "spool_position"
    is_sorted = True  # the spool is read in position order: state can advance as we go
    selected_by_default = False  # needs a receiver and a spool; opt in

    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True, description="Notification id"),
        th.Property("topic", th.StringType, description="e.g. conversation.user.created"),
        th.Property("app_id", th.StringType, description="Workspace id"),
        th.Property("created_at", th.DateTimeType, description="When Intercom created it"),
        th.Property("first_sent_at", th.DateTimeType, description="First delivery attempt"),
        th.Property("delivered_at", th.DateTimeType, description="Null until delivered"),
        th.Property("delivery_attempts", th.IntegerType),
        th.Property("delivery_status", th.StringType),
        th.Property("item_type", th.StringType, description="The item's `type`"),
        th.Property(
            "item",
            th.ObjectType(additional_properties=True),
            description="The Intercom object as delivered (its timestamps stay UNIX seconds)",
        ),
        th.Property("received_at", th.DateTimeType, description="When the receiver stored it"),
        th.Property("spool_position", th.StringType, description="SEGMENT:OFFSET after it"),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._convert_timestamps = timestamp_converter(self.schema)

    @property
    def in_dry_run(self) -> bool:
        """Whether this is `--test`: the SDK's dry run selects every stream (this one is
        not selected by default) and caps each at `ABORT_AT_RECORD_COUNT` records."""
        return self.ABORT_AT_RECORD_COUNT is not None

    @property
    def follows(self) -> bool:
        """Whether the stream runs on past the end of the spool, until stopped (never
        in a dry run, which must end)."""
        return bool(self.config.get(FOLLOW_SETTING)) and not self.in_dry_run

    def _spool_dir(self) -> Path:
        configured = self.config.get(SPOOL_DIR_SETTING)
        if not configured:
            problem = (
                f"stream {self.name} is selected but the setting {SPOOL_DIR_SETTING} "
                "(the receiver's --spool directory) is not set"
            )
        elif not Path(configured).is_dir():
            problem = f"{SPOOL_DIR_SETTING}: {configured} is not a directory (no receiver yet?)"
        else:
            return Path(configured)
        raise ConfigValidationError(problem, errors=[problem])  # the SDK logs `errors`

    @override
    def get_starting_replication_key_value(self, context: Context | None) -> Any | None:
        """The bookmarked spool position, or None (as the SDK documents it); never
        `start_date`, which the SDK offers a stream without a bookmark whatever its
        replication key's type (tests/tap/test_sdk_contract.py): a time is no position."""
        state = self.get_context_state(context)
        if state.get("replication_key") != self.replication_key:
            return None
        return state.get("replication_key_value") or None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Remove what the starting state covers, then emit every record after it (and,
        following, every record stored later, until stopped)."""
        if self.in_dry_run and not self.config.get(SPOOL_DIR_SETTING):
            self.logger.info("%s: no %s, nothing to test", self.name, SPOOL_DIR_SETTING)
            return
        directory = self._spool_dir()
        bookmark = self.get_starting_replication_key_value(context)
        start = SpoolPosition.parse(bookmark) if bookmark else None
        if start is not None:
            removed = remove_consumed(directory, start)
            if removed:
                self.logger.info("removed %d loaded spool segment(s)", len(removed))
        if not self.follows:
            for position, stored in read_spool(directory, start):
                yield self._record(position, stored)
            return
        stop = StopRequest()
        try:
            yield from self._follow(directory, start, stop)
        finally:
            stop.restore()
        if stop.requested:
            self.logger.info("stopped following the spool on a signal")

    def _follow(
        self, directory: Path, position: SpoolPosition | None, stop: StopRequest
    ) -> Iterator[dict[str, Any]]:
        """Tail the spool: emit what is new, then STATE at once (the SDK's own STATE
        comes only every `STATE_MSG_FREQUENCY` records); while idle, repeat the STATE
        every `IDLE_STATE_SECONDS`. Only the current position is kept: memory is flat."""
        limit = self.config.get(FOLLOW_MAX_SECONDS_SETTING)
        deadline = None if not limit else time.monotonic() + float(limit)
        self.logger.info("following the spool %s (until SIGTERM/SIGINT)", directory)
        last_state = time.monotonic()
        while not stop.requested and (deadline is None or time.monotonic() < deadline):
            emitted = False
            for read_to, stored in read_spool(directory, position):
                # On resuming here, the SDK has written and bookmarked the record.
                yield self._record(read_to, stored)
                position, emitted = read_to, True
                if stop.requested:
                    break
            if emitted:
                self._write_state_message()
                last_state = time.monotonic()
            elif time.monotonic() - last_state >= IDLE_STATE_SECONDS:
                # Past the SDK's state writer, which skips a STATE equal to the last.
                self._tap.write_message(StateMessage(value=self.tap_state))
                last_state = time.monotonic()
            stop.wait(POLL_SECONDS)

    def _record(self, position: SpoolPosition, stored: dict[str, Any]) -> dict[str, Any]:
        notification = stored["notification"]
        item = notification["data"]["item"]
        record = {
            "id": notification["id"],
            "topic": notification["topic"],
            "app_id": notification.get("app_id"),
            "created_at": notification.get("created_at"),
            "first_sent_at": notification.get("first_sent_at"),
            # Intercom sends 0 for "not delivered yet", which is no date.
            "delivered_at": notification.get("delivered_at") or None,
            "delivery_attempts": notification.get("delivery_attempts"),
            "delivery_status": notification.get("delivery_status"),
            "item_type": item.get("type"),
            "item": item,
            "received_at": stored["received_at"],
            "spool_position": str(position),
        }
        return self._convert_timestamps(record)
