"""Intercom's ways of handing out the next page.

List and search responses carry a `pages` object in one of three forms:
- `pages.next.starting_after` (a cursor; search endpoints take it back in the body),
- `pages.page` / `pages.total_pages` (page numbers),
- `pages.next` as a URL (deleted conversations, events).
`next_page_token` reads whichever is present and turns it into the next request's
arguments.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

PageToken = dict[str, Any]


def next_page_token(payload: Any) -> PageToken | None:
    """The arguments that fetch the page after `payload` (a dict, or a Struct with a
    `pages` field), or None on the last page."""
    return token_from_pages(payload.get("pages") if isinstance(payload, dict) else payload.pages)


def token_from_pages(pages: Any) -> PageToken | None:
    """The arguments that fetch the next page, from a response's `pages` object."""
    if not isinstance(pages, dict):
        return None
    following = pages.get("next")
    if isinstance(following, str) and following:
        parts = urlsplit(following)
        # Only the path and query are used: the host stays the configured one, so the
        # token is never sent anywhere else.
        return {"path": parts.path, "params": dict(parse_qsl(parts.query))}
    if isinstance(following, dict) and following.get("starting_after"):
        return {"starting_after": following["starting_after"]}
    page, total_pages = pages.get("page"), pages.get("total_pages")
    if isinstance(page, int) and isinstance(total_pages, int) and page < total_pages:
        return {"page": page + 1}
    return None
