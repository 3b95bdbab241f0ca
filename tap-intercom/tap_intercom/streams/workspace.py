"""Full-table streams: the workspace's setup, help center and news."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_intercom.client import IntercomStream, version_tuple

if TYPE_CHECKING:
    from tap_intercom.tap import TapIntercom


class AdminsStream(IntercomStream):
    """Teammates (`GET /admins`)."""

    name = "admins"
    path = "/admins"
    records_key = "admins"


class TeamsStream(IntercomStream):
    """Teams (`GET /teams`)."""

    name = "teams"
    path = "/teams"
    records_key = "teams"


class TagsStream(IntercomStream):
    """Tags (`GET /tags`)."""

    name = "tags"
    path = "/tags"


class SegmentsStream(IntercomStream):
    """Person and company segments (`GET /segments`), each with its `type` and size."""

    name = "segments"
    path = "/segments"
    records_key = "segments"
    extra_params = {"include_count": "true"}  # segment sizes, in `count`


class CompanyAttributesStream(IntercomStream):
    """Data attributes of companies (`GET /data_attributes?model=company`).

    Keyed on `full_name`: names repeat within a model (`name` and `plan.name` are both
    called `name`), full names do not.
    """

    name = "company_attributes"
    path = "/data_attributes"
    primary_keys = ("model", "full_name")
    extra_params = {"model": "company", "include_archived": "true"}


class ContactAttributesStream(CompanyAttributesStream):
    """Data attributes of contacts."""

    name = "contact_attributes"
    extra_params = {"model": "contact", "include_archived": "true"}


class ConversationAttributesStream(IntercomStream):
    """Conversation attributes: `GET /data_attributes?model=conversation` up to 2.15,
    `GET /conversations/attributes` from 2.16 (where the first answers 422).

    Keyed on `id`: two live conversation attributes can share a name, and 2.16 gives
    no `full_name`; every conversation attribute is custom, so each has an id. Records
    from 2.16 get `model: conversation` like those from 2.15.
    """

    name = "conversation_attributes"
    path = "/data_attributes"  # up to 2.15; see __init__
    primary_keys = ("id",)

    def __init__(self, tap: TapIntercom) -> None:
        super().__init__(tap)
        if not self._before_2_16:
            self.path = "/conversations/attributes"

    @property
    def _before_2_16(self) -> bool:
        return version_tuple(self.intercom_version) < (2, 16)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every conversation attribute, archived ones included."""
        if self._before_2_16:
            params = {"model": "conversation", "include_archived": "true"}
            yield from self.request_json(self.path, params=params).get("data") or ()
            return
        attributes = self.request_json(self.path, params={"include_archived": "true"})
        for attribute in attributes.get("data") or ():
            yield {"model": "conversation", **attribute}


class TicketTypesStream(IntercomStream):
    """Ticket types (`GET /ticket_types`)."""

    name = "ticket_types"
    path = "/ticket_types"


class SubscriptionTypesStream(IntercomStream):
    """Subscription types (`GET /subscription_types`)."""

    name = "subscription_types"
    path = "/subscription_types"


class HelpCentersStream(IntercomStream):
    """Help centers (`GET /help_center/help_centers`)."""

    name = "help_centers"
    path = "/help_center/help_centers"


class HelpCenterCollectionsStream(IntercomStream):
    """Help-center collections (`GET /help_center/collections`, paged)."""

    name = "help_center_collections"
    path = "/help_center/collections"


class ArticlesStream(IntercomStream):
    """Articles (`GET /articles`, paged)."""

    name = "articles"
    path = "/articles"


class NewsItemsStream(IntercomStream):
    """News items (`GET /news/news_items`)."""

    name = "news_items"
    path = "/news/news_items"


class NewsfeedsStream(IntercomStream):
    """Newsfeeds (`GET /news/newsfeeds`)."""

    name = "newsfeeds"
    path = "/news/newsfeeds"
