"""The admins' activity log."""

from __future__ import annotations

from collections.abc import Iterator

from tap_intercom.incremental import Batch, IncrementalStream


class ActivityLogsStream(IncrementalStream):
    """Admin activity logs (`GET /admins/activity_logs`), incremental on `created_at`."""

    name = "activity_logs"
    path = "/admins/activity_logs"
    records_key = "activity_logs"
    replication_key = "created_at"

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """Logs created since `start`; the bookmark moves at the end (no sort order)."""
        params = {
            "created_at_after": str(start),
            "per_page": self.page_size,
        }
        newest = start
        for payload in self.iter_pages(self.path, params=params):
            batch = [
                log
                for log in payload.get(self.records_key) or ()
                if log.get("created_at", 0) >= start
            ]
            newest = max([newest, *(log["created_at"] for log in batch)])
            yield batch, None
        yield [], newest
