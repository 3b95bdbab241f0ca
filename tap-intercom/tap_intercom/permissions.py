"""Which Intercom app permission each stream needs (docs/permissions.md shows the same).

Names are those of the Developer Hub's "Authentication" page (Intercom's OAuth scopes).
A refused stream's warning names its permission, so whoever owns the app knows what
to grant.
"""

from __future__ import annotations

USERS_AND_COMPANIES = "Read and list users and companies"
CONVERSATIONS = "Read conversations"
TICKETS = "Read tickets"
ADMINS = "Read admins"
ARTICLES = "Read and List articles"
NEWS = "Read and List news items and newsfeeds"

STREAM_PERMISSIONS: dict[str, str] = {
    "admins": ADMINS,
    "teams": ADMINS,
    "activity_logs": "Read admin activity logs",
    "tags": "Read tags",
    "segments": USERS_AND_COMPANIES,
    "company_attributes": USERS_AND_COMPANIES,
    "contact_attributes": USERS_AND_COMPANIES,
    "conversation_attributes": CONVERSATIONS,
    "subscription_types": USERS_AND_COMPANIES,
    "contacts": USERS_AND_COMPANIES,
    "contact_notes": USERS_AND_COMPANIES,
    "contact_events": "Read events",
    "contact_tags": USERS_AND_COMPANIES,
    "contact_companies": USERS_AND_COMPANIES,
    "companies": USERS_AND_COMPANIES,
    "company_segments": USERS_AND_COMPANIES,
    "conversations": CONVERSATIONS,
    "conversation_parts": CONVERSATIONS,
    "tickets": TICKETS,
    "ticket_parts": TICKETS,
    "ticket_types": TICKETS,
    "help_centers": ARTICLES,
    "help_center_collections": ARTICLES,
    "articles": ARTICLES,
    "news_items": NEWS,
    "newsfeeds": NEWS,
}


def permission_for(stream: str) -> str:
    """The permission to grant for `stream`."""
    return STREAM_PERMISSIONS.get(stream, "see docs/permissions.md")
