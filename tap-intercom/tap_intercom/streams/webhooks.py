"""`webhook_notifications`: the notifications the webhook receiver stored in its spool."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_intercom.schemas import timestamp_converter
from tap_intercom.webhooks.spool import SpoolPosition, read_spool, remove_consumed

SPOOL_DIR_SETTING = "webhook_spool_dir"


class WebhookNotificationsStream(Stream):
    """Reads the spool after the bookmarked position, in the order notifications arrived.

    The bookmark (replication key `spool_position`, "SEGMENT:OFFSET") is where the last
    emitted record ends. A run first removes the segments entirely before the bookmark it
    starts from: that state came back from the target, so those records are loaded.
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
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Remove what the starting state covers, then emit every record after it."""
        directory = self._spool_dir()
        bookmark = self.get_starting_replication_key_value(context)
        start = SpoolPosition.parse(bookmark) if bookmark else None
        if start is not None:
            removed = remove_consumed(directory, start)
            if removed:
                self.logger.info("removed %d loaded spool segment(s)", len(removed))
        for position, stored in read_spool(directory, start):
            yield self._record(position, stored)

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
