"""Intercom's ways of handing out the next page, and the companies scroll rules.

List and search responses carry a `pages` object in one of three forms:
- `pages.next.starting_after` (a cursor; search endpoints take it back in the body),
- `pages.page` / `pages.total_pages` (page numbers),
- `pages.next` as a URL (deleted conversations, events).
`PagesPaginator` reads whichever is present and turns it into the next request's
arguments. `CompanyScroll` owns the scroll API's rules.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.pagination import BaseAPIPaginator

from tap_intercom.errors import IntercomAPIError

PageToken = dict[str, Any]


def next_page_token(payload: dict[str, Any]) -> PageToken | None:
    """The arguments that fetch the page after `payload`, or None on the last page."""
    pages = payload.get("pages")
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


class PagesPaginator(BaseAPIPaginator[PageToken | None]):
    """Cursor, page-number and URL pagination, whichever the response uses."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> PageToken | None:
        """The next page's arguments from the parsed body (see `IntercomStream`)."""
        return next_page_token(response.intercom_payload)  # type: ignore[attr-defined]


class ScrollError(RuntimeError):
    """The companies scroll could not be completed within its bounds."""


class CompanyScroll:
    """Iterate `GET /companies/scroll` to the end, following Intercom's rules.

    - Only one scroll may be open per workspace: `scroll_exists` means another (maybe
      our own abandoned one) is open; it expires after about a minute, so wait and
      retry, a bounded number of times.
    - Intercom may return the same `scroll_param` on every page: the param is not a
      page cursor, so loops are detected on content: a page holding only companies
      this scroll already returned stops it.
    - Any failure mid-scroll other than a 429 (a 5xx, a dropped connection, a broken
      body) may have moved the server's position past a page we did not get, so the
      scroll restarts from the beginning (bounded); companies already yielded are
      skipped on the way.
    - A page with an empty `data` list ends the scroll.
    """

    def __init__(
        self,
        fetch: Callable[[dict[str, str]], dict[str, Any]],
        logger: logging.Logger,
        *,
        max_restarts: int = 5,
        scroll_exists_wait_seconds: float = 5.0,
        scroll_exists_max_wait_seconds: float = 150.0,
    ) -> None:
        self._fetch = fetch
        self._logger = logger
        self._max_restarts = max_restarts
        self._exists_wait = scroll_exists_wait_seconds
        self._exists_max_wait = scroll_exists_max_wait_seconds
        self.restarts = 0

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every company once, page by page in scroll order."""
        seen: set[str] = set()
        while True:
            seen_in_this_scroll: set[str] = set()
            try:
                for page in self._scroll_once():
                    page_ids = {company.get("id") for company in page}
                    if page_ids <= seen_in_this_scroll:
                        raise ScrollError(
                            "companies scroll returned a page it had already returned; "
                            "stopping rather than looping"
                        )
                    seen_in_this_scroll |= page_ids
                    new = [company for company in page if company.get("id") not in seen]
                    seen |= page_ids
                    yield new
                return
            except (RetriableAPIError, requests.exceptions.RequestException) as error:
                self.restarts += 1
                if self.restarts > self._max_restarts:
                    raise ScrollError(
                        f"companies scroll failed {self.restarts} times; last error: {error}"
                    ) from error
                wait = min(2.0**self.restarts, 30.0) + random.uniform(0, 1)
                self._logger.warning(
                    "Companies scroll broke off (%s); restarting it from the beginning "
                    "in %.1f s (restart %d of at most %d, %d companies already read)",
                    error,
                    wait,
                    self.restarts,
                    self._max_restarts,
                    len(seen),
                )
                time.sleep(wait)

    def _scroll_once(self) -> Iterator[list[dict[str, Any]]]:
        payload = self._open()
        while True:
            data = payload.get("data") or []
            if not data:
                return
            yield data
            scroll_param = payload.get("scroll_param")
            if not scroll_param:
                return
            payload = self._fetch({"scroll_param": scroll_param})

    def _open(self) -> dict[str, Any]:
        waited = 0.0
        while True:
            try:
                return self._fetch({})
            except IntercomAPIError as error:
                if "scroll_exists" not in error.codes:
                    raise
                if waited >= self._exists_max_wait:
                    raise ScrollError(
                        "another companies scroll stayed open for "
                        f"{waited:.0f} s (Intercom allows one per workspace)"
                    ) from error
                self._logger.warning(
                    "Another companies scroll is open (scroll_exists); waiting %.0f s "
                    "for it to expire",
                    self._exists_wait,
                )
                time.sleep(self._exists_wait)
                waited += self._exists_wait
