"""The admins' activity log."""

from __future__ import annotations

import time
from collections.abc import Iterator

from tap_intercom.incremental import Batch, IncrementalStream
from tap_intercom.windows import WINDOW_PAGES, next_window_width, window_batches

DAY_SECONDS = 86_400
# The first slice's width, before any slice has told the log's density.
FIRST_SLICE_SECONDS = 30 * DAY_SECONDS


class ActivityLogsStream(IncrementalStream):
    """Admin activity logs (`GET /admins/activity_logs`), incremental on `created_at`,
    read in time slices with a checkpoint after each.

    The list has no documented order, so a slice's end becomes the bookmark only once
    all its pages are read. Whether `created_at_after` and `created_at_before` include
    their bound is not documented either: each slice asks one second wider on both
    sides and keeps `lo <= created_at < hi`. Slice widths follow the density of the
    last slice; the last slice is open-ended.
    """

    name = "activity_logs"
    path = "/admins/activity_logs"
    records_key = "activity_logs"
    replication_key = "created_at"

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """Logs created since `start`, slice by slice."""
        target = WINDOW_PAGES * self.page_size
        # Nothing is older than the workspace: no requests for the decades before it.
        lo, width = max(start, self.workspace_created_at()), FIRST_SLICE_SECONDS
        while True:
            hi: int | None = lo + width
            params = {"created_at_after": str(max(lo - 1, 0)), "per_page": self.page_size}
            if hi is not None and hi > int(time.time()):
                hi = None  # the last slice: up to whatever the server has now
            if hi is not None:
                params["created_at_before"] = str(hi)
            found = 0
            pages = self.iter_pages(self.path, params=params)
            for batch, checkpoint in window_batches(pages, self.records_key, "created_at", lo, hi):
                found += len(batch)
                yield batch, checkpoint
            if hi is None:
                return
            lo = hi
            width = next_window_width(width, found, target)
