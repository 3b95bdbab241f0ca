"""Full-table streams: the workspace's setup, help center and news."""

from __future__ import annotations

from tap_intercom.client import IntercomStream


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
    """Person and company segments (`GET /segments`), each with its `type`."""

    name = "segments"
    path = "/segments"
    records_key = "segments"


class CompanyAttributesStream(IntercomStream):
    """Data attributes of companies (`GET /data_attributes?model=company`)."""

    name = "company_attributes"
    path = "/data_attributes"
    primary_keys = ("model", "name")
    extra_params = {"model": "company", "include_archived": "true"}


class ContactAttributesStream(CompanyAttributesStream):
    """Data attributes of contacts."""

    name = "contact_attributes"
    extra_params = {"model": "contact", "include_archived": "true"}


class ConversationAttributesStream(CompanyAttributesStream):
    """Data attributes of conversations."""

    name = "conversation_attributes"
    extra_params = {"model": "conversation", "include_archived": "true"}


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
