"""Deletion reconciliation as streams run it: a complete listing of a stream's ids is
compared with the previous one (`tap_intercom.deletions`), and the ids gone are
emitted as deletions (see docs/deletions.md).

- `ReconcilingStream`: the stream's own listing is complete every run (companies:
  the scroll lists every live company).
- `ListingReconciledStream` (contacts): every `contacts_reconciliation_days` all ids
  are listed (`GET <path>`, decoded only as far as ids go) and compared, and each id
  missing is confirmed gone (404/410) before it is marked. The first sketch comes
  from the first run's own search when it reads every record (`SearchBaseline`),
  else from a listing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from tap_intercom.deletions import (
    DEFAULT_CAPACITY,
    LISTED_AT_KEY,
    IdListPage,
    IdReconciliation,
    SearchBaseline,
    deletion_record,
)
from tap_intercom.errors import IntercomAPIError
from tap_intercom.idsketch import Difference
from tap_intercom.incremental import IncrementalStream
from tap_intercom.search import SortedSearchStream

DAY_SECONDS = 86_400
DEFAULT_RECONCILIATION_DAYS = 7


class ReconcilingStream(IncrementalStream):
    """A stream whose complete id listings are compared run to run (`IdReconciliation`)."""

    def _reconciliation(self) -> IdReconciliation:
        capacity = int(self.config.get("deletion_sketch_capacity") or DEFAULT_CAPACITY)
        return IdReconciliation(self.stream_state, capacity)

    def _report(self, difference: Difference, listed: int) -> None:
        if not difference.complete:
            self.logger.warning(
                "%s: more ids left than the deletion sketch can name (%d named, %d cells "
                "undecoded); the rest stay unmarked. Raise `deletion_sketch_capacity` "
                "(the sketch grows by itself from the next listing on).",
                self.name,
                len(difference.removed),
                difference.undecoded_cells,
            )
        self.logger.info(
            "%s: %d ids listed, %d gone since the previous listing",
            self.name,
            listed,
            len(difference.removed),
        )

    def _save(self, reconciliation: IdReconciliation) -> None:
        reconciliation.save()
        self.write_state()


class ListingReconciledStream(ReconcilingStream, SortedSearchStream):
    """A searched stream whose deletions a periodic listing of every id reveals."""

    def _search_baseline(self) -> SearchBaseline | None:
        """A `SearchBaseline` when this run needs a first sketch and its search has no
        lower bound (no bookmark, no `start_date`) and is sorted (2.16 on: the baseline
        and its cutoff rely on the order), else None."""
        if (
            not self.sorted_by_updated_at
            or not self._reconciliation_due()
            or self.start_seconds() > 0
        ):
            return None
        reconciliation = self._reconciliation()
        newest = None if reconciliation.has_baseline else self._newest_updated_at()
        if newest is None:
            return None
        # A clock ahead of ours (or a record stamped in the future) must not move the
        # cutoff past what is surely before this run.
        return SearchBaseline(reconciliation, min(newest, int(time.time())))

    def _newest_updated_at(self) -> int | None:
        """The newest `updated_at` the search holds now (None when it says none)."""
        body = {
            "query": {"field": "updated_at", "operator": ">", "value": 0},
            "sort": {"field": "updated_at", "order": "descending"},
            "pagination": {"per_page": 1},
        }
        newest = self.request_json(f"{self.path}/search", body=body).get(self.records_key) or []
        updated = newest[0].get("updated_at") if newest else None
        return updated if isinstance(updated, int) and updated > 0 else None

    def _reconciliation_due(self) -> bool:
        days = self.config.get("contacts_reconciliation_days")
        days = DEFAULT_RECONCILIATION_DAYS if days is None else int(days)
        listed_at = self.stream_state.get(LISTED_AT_KEY)
        return not isinstance(listed_at, int) or time.time() - listed_at >= days * DAY_SECONDS

    def _reconcile(self) -> Iterator[dict[str, Any]]:
        reconciliation = self._reconciliation()
        params = {"per_page": self.page_size}
        for page in self.iter_pages(self.path, params=params, decode_as=IdListPage):
            listed = page.data or []
            ids = [(contact.id, contact.created_at) for contact in listed if contact.id is not None]
            if len(ids) == len(listed):
                reconciliation.add_all(ids)
                continue
            # Drift (rare): the page goes through the same check as every nested list.
            keyed = self.keyed_items(
                [{"id": contact.id, "created_at": contact.created_at} for contact in listed],
                ("id",),
                owner="a contact listing",
                path="data",
                source=f"GET {self.path}",
            )
            reconciliation.add_all((contact["id"], contact["created_at"]) for contact in keyed)
        difference = reconciliation.finish()
        self._report(difference, reconciliation.listed)
        # A listing paged by position can skip a contact while others are deleted: every
        # id missing is asked for, and only a 404 (deleted, or merged on 2.15) or a 410
        # (merged, 2.16) marks it.
        verdicts = self.pacing.map_in_order(self._verdict, [(difference.removed, None)], log=False)
        for results, _ in verdicts:
            for ident, gone_at in results:
                if gone_at is None:
                    reconciliation.keep(ident)
                else:
                    yield deletion_record(ident, gone_at)
        self._save(reconciliation)

    def _verdict(self, ident: str) -> list[tuple[str, float | None]]:
        try:
            self.request_json(f"{self.path}/{ident}")
        except IntercomAPIError as error:
            if error.status in (404, 410):
                return [(ident, time.time())]
            raise
        return [(ident, None)]
