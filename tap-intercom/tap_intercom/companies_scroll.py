"""The companies scroll (`GET /companies/scroll`) and its rules: one scroll open per
workspace, a `scroll_param` that is not a page cursor, lost pages made good by a new
scroll (see `CompanyScroll`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_intercom.errors import IntercomAPIError, NotFoundError
from tap_intercom.pacing import (
    SCROLL_EXISTS_MAX_WAIT_SECONDS,
    SCROLL_EXISTS_WAIT_SECONDS,
    SCROLL_MAX_FAILURES_IN_A_ROW,
    SCROLL_MAX_RESTARTS,
    scroll_open_wait,
)
from tap_intercom.readahead import IdMarks


def _id_key(company: dict[str, Any]) -> str:
    """A company's id as `IdMarks` keeps it (a missing id is one more key)."""
    ident = company.get("id")
    return "" if ident is None else str(ident)


class ScrollError(RuntimeError):
    """The companies scroll could not be completed within its bounds."""


class CompanyScroll:
    """Iterate `GET /companies/scroll` to the end, following Intercom's rules.

    - Only one scroll may be open per workspace: `scroll_exists` means another (maybe
      our own abandoned one) is open; it expires after about a minute idle, so wait
      and retry, within a bounded time.
    - Intercom returns the same `scroll_param` on every page: it is not a page cursor,
      so loops are detected on content (pages bringing no new company) instead.
    - A page lost mid-scroll (a 5xx, a dropped connection, a broken body) may already
      have moved the server's position: the scroll carries on to its end (which also
      closes it), and then a new scroll from the beginning (bounded) picks up what
      was lost. Companies already yielded are never yielded again. When Intercom
      aborts the scroll (a 500, then `not_found` for the param), the new scroll
      starts at once.
    - A page with an empty `data` list ends the scroll.
    """

    def __init__(
        self,
        fetch: Callable[[dict[str, str]], dict[str, Any]],
        logger: logging.Logger,
        *,
        max_restarts: int = SCROLL_MAX_RESTARTS,
        scroll_exists_wait_seconds: float = SCROLL_EXISTS_WAIT_SECONDS,
        scroll_exists_max_wait_seconds: float = SCROLL_EXISTS_MAX_WAIT_SECONDS,
        max_failures_in_a_row: int = SCROLL_MAX_FAILURES_IN_A_ROW,
        max_pages_without_news: int = 3,
    ) -> None:
        self._fetch = fetch
        self._logger = logger
        self._max_restarts = max_restarts
        self._exists_wait = scroll_exists_wait_seconds
        self._exists_max_wait = scroll_exists_max_wait_seconds
        self._max_failures = max_failures_in_a_row
        self._max_stale_pages = max_pages_without_news
        self._complete = True
        self.restarts = 0

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every company once, page by page in scroll order."""
        # Every company id listed so far, with the scroll (0, 1, ...) that last listed
        # it: on disk, so a workspace's millions of companies cost no memory.
        listed = IdMarks()
        try:
            while True:
                scroll = self.restarts
                self._complete = True
                stale_pages = 0
                for page in self._scroll_once():
                    keys = [_id_key(company) for company in page]
                    before = listed.mark(keys, scroll)
                    seen_in_this_scroll = all(before.get(key) == scroll for key in keys)
                    stale_pages = stale_pages + 1 if seen_in_this_scroll else 0
                    if stale_pages >= self._max_stale_pages:
                        raise ScrollError(
                            f"companies scroll returned {stale_pages} pages in a row with no "
                            "company it had not returned before; stopping rather than looping"
                        )
                    pairs = zip(page, keys, strict=True)
                    yield [company for company, key in pairs if key not in before]
                if self._complete:
                    return
                self.restarts += 1
                if self.restarts > self._max_restarts:
                    raise ScrollError(
                        f"companies scroll lost pages in {self.restarts} scrolls in a row; "
                        "giving up"
                    )
                self._logger.warning(
                    "Companies scroll lost a page; restarting it from the beginning "
                    "(restart %d of at most %d, %d companies already read)",
                    self.restarts,
                    self._max_restarts,
                    len(listed),
                )
        finally:
            listed.close()

    def _scroll_once(self) -> Iterator[list[dict[str, Any]]]:
        payload: dict[str, Any] | None = self._open()
        while payload is not None:
            data = payload.get("data") or []
            if not data:
                return
            yield data
            scroll_param = payload.get("scroll_param")
            if not scroll_param:
                return
            payload = self._next_page(scroll_param)

    def _next_page(self, scroll_param: str) -> dict[str, Any] | None:
        """The next page, or None when Intercom has dropped the scroll."""
        for _ in range(self._max_failures):
            try:
                return self._fetch({"scroll_param": scroll_param})
            except NotFoundError:
                self._complete = False  # aborted or expired: the rest needs a new scroll
                return None
            except (RetriableAPIError, requests.exceptions.RequestException) as error:
                self._complete = False
                self._logger.warning("Companies scroll lost a page (%s); carrying on", error)
        raise ScrollError(f"companies scroll failed {self._max_failures} times in a row")

    def _open(self) -> dict[str, Any]:
        deadline = time.monotonic() + self._exists_max_wait
        failures = 0
        while True:
            try:
                return self._fetch({})
            except IntercomAPIError as error:
                if "scroll_exists" not in error.codes:
                    raise
                wait = self._exists_wait
                self._logger.warning(
                    "Another companies scroll is open (scroll_exists); waiting %.0f s "
                    "for it to expire",
                    wait,
                )
            except (RetriableAPIError, requests.exceptions.RequestException) as error:
                failures += 1
                wait = scroll_open_wait(failures)
                self._logger.warning("Opening the companies scroll failed (%s)", error)
            if time.monotonic() + wait > deadline:
                raise ScrollError(
                    "could not open a companies scroll within "
                    f"{self._exists_max_wait:.0f} s (Intercom allows one per workspace)"
                )
            time.sleep(wait)
