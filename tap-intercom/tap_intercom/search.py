"""Incremental reads through Intercom's search endpoints, on `updated_at`.

Two shapes, because the endpoints differ:

- `SortedSearchStream` (contacts): the API sorts by `updated_at` ascending, so every
  page ends at a safe checkpoint (the newest `updated_at` so far; a resume re-reads
  that second, which the target's upsert absorbs). Contact date filters match by
  calendar day in the workspace's time zone: `>` starts at the next day and `>=` is
  an error. Asking for `updated_at > start - 1 day` therefore returns everything from
  some midnight at or before `start`, whatever the time zone; records before `start`
  are dropped here.
- `WindowedSearchStream` (conversations, tickets): no sort, second-precise filters.
  The range is read in bounded windows `[lo, hi)`; a window's end is the checkpoint
  once all its pages are read. Window sizes adapt so that pages stay full. The last
  window is open-ended, so records stamped after our clock (a server clock ahead of
  ours) are not missed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from tap_intercom.incremental import Batch, IncrementalStream

DAY_SECONDS = 86_400
FIRST_WINDOW_SECONDS = 7 * DAY_SECONDS
MIN_WINDOW_SECONDS = 60
# Grow a window that returned fewer pages than this; shrink one that returned more.
FEW_PAGES, MANY_PAGES = 4, 40


def _filter(field: str, operator: str, value: int) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


class SortedSearchStream(IncrementalStream):
    """A search endpoint that sorts by `updated_at` and filters by calendar day."""

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """One batch per page, each ending at a checkpoint while the order holds."""
        body = {
            "query": _filter("updated_at", ">", max(start - DAY_SECONDS, 0)),
            "sort": {"field": "updated_at", "order": "ascending"},
            "pagination": {"per_page": self.page_size},
        }
        newest, in_order = start, True
        for payload in self.iter_pages(f"{self.path}/search", body=body):
            batch = []
            for record in payload.get(self.records_key) or ():
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
        yield [], newest


class WindowedSearchStream(IncrementalStream):
    """A search endpoint read in bounded `updated_at` windows."""

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """One batch per page; a checkpoint at the end of every window."""
        lo, width = start, FIRST_WINDOW_SECONDS
        while True:
            hi = lo + width
            last = hi > time.time()
            conditions = [_filter("updated_at", ">", lo - 1)]
            if not last:
                conditions.append(_filter("updated_at", "<", hi))
            body = {
                "query": {"operator": "AND", "value": conditions},
                "pagination": {"per_page": self.page_size},
            }
            pages, newest = 0, lo
            for payload in self.iter_pages(f"{self.path}/search", body=body):
                pages += 1
                batch = []
                for record in payload.get(self.records_key) or ():
                    updated_at = record.get("updated_at") or 0
                    if updated_at >= lo and (last or updated_at < hi):
                        newest = max(newest, updated_at)
                        batch.append(record)
                yield batch, None
            if last:
                yield [], newest
                return
            yield [], hi
            lo = hi
            if pages < FEW_PAGES:
                width *= 2
            elif pages > MANY_PAGES:
                width = max(width // 2, MIN_WINDOW_SECONDS)
