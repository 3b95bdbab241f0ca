"""Incremental reads through Intercom's search endpoints, on `updated_at`.

Two shapes, because the endpoints differ:

- `SortedSearchStream` (contacts): from API 2.16, whose contacts search request lists
  `sort`, the API sorts by `updated_at` ascending, so every page ends at a safe
  checkpoint (the newest `updated_at` so far; a resume re-reads that second, which the
  target's upsert absorbs). 2.15's request lists no `sort`: it is not sent and no order
  is relied on, so the bookmark moves once, when the whole search is read (see the
  tap's README, "Incremental replication"). Contact date filters match by
  calendar day in the workspace's time zone: `>` starts at the next day and `>=` is
  an error. Asking for `updated_at > start - 25 hours` (the longest day, when
  daylight-saving time ends) therefore returns everything from some midnight at or
  before `start`, whatever the time zone; records before `start` are dropped here.
- `WindowedSearchStream` (conversations, tickets): no sort, second-precise filters.
  The range is read in bounded windows `[lo, hi)`; a window's end is the checkpoint
  once all its pages are read. Window sizes adapt to the data's density (from the
  search's `total_count`). The last window is open-ended, so records stamped after
  our clock (a server clock ahead of ours) are not missed. Several windows are listed
  at once (a window's pages follow each other, so one window at a time caps the
  listing at a page per round trip); they still come out, and checkpoint, in order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Generator, Iterator
from typing import Any

from tap_intercom.client import version_tuple
from tap_intercom.incremental import Batch, IncrementalStream
from tap_intercom.pacing import WINDOWS_AT_ONCE
from tap_intercom.readahead import read_in_turn
from tap_intercom.windows import (
    MIN_WINDOW_SECONDS,
    WINDOW_PAGES,
    next_window_width,
    window_batches,
)

# The longest calendar day: 25 hours, when daylight-saving time ends.
LONGEST_DAY_SECONDS = 25 * 3_600
#: The contacts search request lists `sort` from this version on (2.15's does not).
SORT_VERSION = (2, 16)


def _filter(field: str, operator: str, value: int) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


class _SearchStream(IncrementalStream):
    def search_pages(
        self, body: dict[str, Any], params: dict[str, Any] | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """The search's pages, each record without an `id` left out (`keyed_items`)."""
        for payload in self.iter_pages(f"{self.path}/search", body=body, params=params):
            records = self.keyed_items(
                payload.get(self.records_key),
                ("id",),
                owner="a search page",
                path=self.records_key,
                source=f"POST {self.path}/search",
            )
            yield {**payload, self.records_key: records}


class SortedSearchStream(_SearchStream):
    """A search endpoint that filters by calendar day and, from 2.16, sorts by
    `updated_at`."""

    def search_params(self) -> dict[str, Any]:
        """Query parameters of every search request."""
        return {}

    @property
    def sorted_by_updated_at(self) -> bool:
        """Whether the search is asked to sort (and trusted to, while it does): only
        where the version's request schema lists `sort`."""
        return version_tuple(self.intercom_version) >= SORT_VERSION

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """One batch per page, each ending at a checkpoint while the order holds; when
        there is none, one checkpoint once every page is read."""
        body: dict[str, Any] = {
            "query": _filter("updated_at", ">", max(start - LONGEST_DAY_SECONDS, 0)),
            "pagination": {"per_page": self.page_size},
        }
        in_order = self.sorted_by_updated_at
        if in_order:
            body["sort"] = {"field": "updated_at", "order": "ascending"}
        listing_started = int(time.time())
        newest = start
        for payload in self.search_pages(body, self.search_params()):
            batch = []
            for record in payload[self.records_key]:
                updated_at = record.get("updated_at") or 0
                if updated_at < start:
                    continue
                if updated_at >= newest:
                    newest = updated_at
                elif in_order:
                    in_order = False
                    self.logger.warning(
                        "%s search results are not sorted by updated_at; the bookmark "
                        "will move only when the stream completes",
                        self.name,
                    )
                batch.append(record)
            yield batch, newest if in_order else None
        # In no known order, a record changed while the pages were read can move to a
        # page already read and be missed; it changed after the listing began, so the
        # next run reads again from there (the upsert absorbs what it reads twice).
        yield [], newest if in_order else min(newest, listing_started)


class WindowedSearchStream(_SearchStream):
    """A search endpoint read in bounded `updated_at` windows."""

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """One batch per page; a checkpoint at the end of every window. Windows come out
        in order, each whole, while up to `WINDOWS_AT_ONCE` of them are listed at once
        (the later ones queued on disk until their turn)."""
        return read_in_turn(self._windows(start), WINDOWS_AT_ONCE)

    def _windows(self, start: int) -> Iterator[Iterator[Batch]]:
        """The windows from `start` on, each as its batches (`window_batches`) with its
        first page read.

        A window's first page tells how many records it holds (`total_count`): one
        holding more than twice the target is narrowed (in proportion) before any of
        it is emitted, and the next window's width is sized from the last one's
        density, so windows hold about `WINDOW_PAGES` pages. The next window can
        therefore start as soon as this one's first page is in.
        """
        target = WINDOW_PAGES * self.page_size
        # Nothing is older than the workspace: without this, a first run would spend
        # requests probing the empty decades before it.
        lo, width = max(start, self.workspace_created_at()), None
        while True:
            now = int(time.time())
            hi = None if width is None or lo + width > now else lo + width
            pages = self.search_pages(self._window_query(lo, hi))
            first = next(pages)
            total = first.get("total_count")
            span = max((hi or now) - lo, 1)
            if isinstance(total, int) and total > 2 * target and span > MIN_WINDOW_SECONDS:
                pages.close()
                width = next_window_width(span, total, target)
                continue
            yield window_batches(
                itertools.chain([first], pages), self.records_key, "updated_at", lo, hi
            )
            if hi is None:
                return
            lo = hi
            found = total if isinstance(total, int) else target
            width = next_window_width(span, found, target)

    def _window_query(self, lo: int, hi: int | None) -> dict[str, Any]:
        """`lo <= updated_at < hi` (no upper bound for the last, open window)."""
        conditions = [_filter("updated_at", ">", lo - 1)]
        if hi is not None:
            conditions.append(_filter("updated_at", "<", hi))
        return {
            "query": {"operator": "AND", "value": conditions},
            "pagination": {"per_page": self.page_size},
        }
