"""Conversations and tickets, their parts, and deleted conversations."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_intercom.client import from_rfc3339, to_rfc3339
from tap_intercom.deletions import deletion_record
from tap_intercom.errors import IntercomAPIError
from tap_intercom.incremental import ChildStream
from tap_intercom.search import WindowedSearchStream

#: Deleted conversations are listed from this API version on, whatever the config says.
DELETIONS_VERSION = "2.16"
DELETIONS_PAGE_SIZE = 60  # the endpoint's maximum
#: Stream state key: deletions at or after this instant are emitted in the next run.
DELETIONS_SINCE_KEY = "deletions_since"


class ConversationsStream(WindowedSearchStream):
    """Conversations from `POST /conversations/search`, plus deletions as records
    carrying `_sdc_deleted_at`."""

    name = "conversations"
    path = "/conversations"
    records_key = "conversations"

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Deletions first, then the changed conversations. Without a bookmark (a first
        run, a full refresh) every deletion since `start_date` goes out: rows loaded
        before a full refresh get marked, and for conversations never loaded the target
        receives a harmless tombstone."""
        yield from self._deletions()
        yield from super().get_records(context)

    def _deletions(self) -> Iterable[dict[str, Any]]:
        """Every deletion since the previous listing began.

        The description says the list is ordered by conversation id, its example orders
        it by `deleted_at`: no order is relied on. Every page is read each run (one
        request per 60 deletions) and deletions are kept from the moment the previous
        run's listing started (less the look-back window, for clock skew): one made
        while a listing was being read is therefore in the next one, whatever its page.
        """
        listing_started = int(time.time())
        since = self.stream_state.get(DELETIONS_SINCE_KEY)
        start = from_rfc3339(since) if isinstance(since, str) else self.start_seconds()
        params = {"per_page": DELETIONS_PAGE_SIZE}
        headers = {"Intercom-Version": DELETIONS_VERSION}
        try:
            for payload in self.iter_pages(
                "/conversations/deleted", params=params, headers=headers
            ):
                listed = self.keyed_items(
                    payload.get("conversations"),
                    ("id",),
                    owner="deleted conversations",
                    path="conversations",
                    source="GET /conversations/deleted",
                )
                for deleted in listed:
                    deleted_at = deleted.get("deleted_at") or 0
                    if deleted_at >= start:
                        yield deletion_record(deleted["id"], deleted_at)
        except IntercomAPIError as error:
            self.logger.warning(
                "Deleted conversations cannot be seen: Intercom refused "
                "GET /conversations/deleted with version %s (%s). Deletions will not "
                "reach the target.",
                DELETIONS_VERSION,
                error,
            )
            return
        # Saved with the stream's next STATE, after these deletions went out.
        self.stream_state[DELETIONS_SINCE_KEY] = to_rfc3339(
            max(listing_started - self.lookback_seconds, 0)
        )


class TicketsStream(WindowedSearchStream):
    """Tickets from `POST /tickets/search`."""

    name = "tickets"
    path = "/tickets"
    records_key = "tickets"


class ConversationPartsStream(ChildStream):
    """Parts of every changed conversation (`GET /conversations/{id}`).

    Intercom returns only the 500 most recent parts; when a conversation has more,
    a warning names it and the counts.
    """

    name = "conversation_parts"
    path = "/conversations/{id}"
    parent_stream = "conversations"
    parent_key = "conversation_id"

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """The parts the API returns for one conversation."""
        conversation = self.request_json(self.path.format(id=parent["id"]))
        listing = conversation.get("conversation_parts") or {}
        parts = self.keyed_items(
            listing.get("conversation_parts"),
            self.key_fields,
            owner=f"conversation {parent['id']}",
            path="conversation_parts.conversation_parts",
        )
        total = listing.get("total_count") or len(parts)
        if total > len(parts):
            self.logger.warning(
                "Conversation %s has %d parts; Intercom returned only the %d most recent",
                parent["id"],
                total,
                len(parts),
            )
        return parts


class TicketPartsStream(ChildStream):
    """Parts of every changed ticket (`GET /tickets/{id}`)."""

    name = "ticket_parts"
    path = "/tickets/{id}"
    parent_stream = "tickets"
    parent_key = "ticket_id"

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """The ticket's parts."""
        ticket = self.request_json(self.path.format(id=parent["id"]))
        return self.keyed_items(
            (ticket.get("ticket_parts") or {}).get("ticket_parts"),
            self.key_fields,
            owner=f"ticket {parent['id']}",
            path="ticket_parts.ticket_parts",
        )
