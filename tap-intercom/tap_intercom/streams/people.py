"""Contacts and companies, what hangs off them (tags, companies, notes, events, segments),
and their deletions (emitted as records carrying `_sdc_deleted_at`, see
docs/deletions.md): companies archived since the previous scroll and contacts gone
since the previous listing (`tap_intercom.reconciliation`), and on 2.16 the leads
merged into a changed user, which come with it (`merge_history`, at no extra
request).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_intercom.client import version_tuple
from tap_intercom.companies_scroll import CompanyScroll
from tap_intercom.deletions import (
    IdReconciliation,
    SearchBaseline,
    deletion_record,
)
from tap_intercom.idsketch import Difference
from tap_intercom.incremental import Batch, ChildStream
from tap_intercom.readahead import read_ahead
from tap_intercom.reconciliation import ListingReconciledStream, ReconcilingStream

#: `merge_history` on contacts exists from this version on.
MERGE_HISTORY_VERSION = (2, 16)


class ContactsStream(ListingReconciledStream):
    """Contacts (users and leads), from `POST /contacts/search`, and their deletions."""

    name = "contacts"
    path = "/contacts"

    def search_params(self) -> dict[str, Any]:
        """On 2.16, each user comes with the leads merged into it."""
        if version_tuple(self.intercom_version) >= MERGE_HISTORY_VERSION:
            return {"include_merge_history": "true"}
        return {}

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Changed contacts, then (when due) the deletions a full id listing reveals; a
        first run whose search reads every contact keeps its ids as the first sketch."""
        start = self.start_seconds()
        baseline = self._search_baseline()
        yield from self.emit_batches(start, self._batches_with_merges(start, baseline))
        if baseline is not None:
            baseline.finish()
            self._report(Difference(), baseline.reconciliation.listed)
            self._save(baseline.reconciliation)
        elif self._reconciliation_due():
            yield from self._reconcile()

    def _batches_with_merges(self, start: int, baseline: SearchBaseline | None) -> Iterator[Batch]:
        """The search's batches (each page also added to `baseline`), each followed by
        deletions of the leads merged into its users (a merge updates the user, so it
        is in the search). Children list contacts with `iter_batches`, without these."""
        for records, checkpoint in self.iter_batches(start):
            if baseline is not None:
                baseline.add_page(records)
            merged = [
                deletion_record(entry["source_contact_id"], entry.get("merged_at") or time.time())
                for record in records
                for entry in self.keyed_items(
                    record.get("merge_history"),
                    ("source_contact_id",),
                    owner=f"contact {record.get('id')}",
                    path="merge_history",
                )
            ]
            yield records + merged, checkpoint


class CompaniesStream(ReconcilingStream):
    """Companies, from the scroll API; incremental by filtering on `updated_at`.

    The scroll cannot start in the middle, so every run scrolls through all companies
    and the bookmark moves once, at the end. The scroll is read ahead in a thread of
    its own (queued on disk): a slow downstream never leaves it idle long enough for
    Intercom to expire it. `company_segments` replays this run's
    listing rather than opening a second scroll, which Intercom would refuse
    (`scroll_exists`) until the first expired. Ids that a complete scroll no longer
    lists were archived (deleted): they are emitted as deletions at the end.
    """

    name = "companies"
    path = "/companies/scroll"

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Changed companies, then the ones archived since the previous run."""
        start = self.start_seconds()
        reconciliation = self._reconciliation()
        yield from self.emit_batches(start, self._scroll(start, reconciliation))
        difference = reconciliation.finish()
        self._report(difference, reconciliation.listed)
        now = time.time()
        yield from (deletion_record(ident, now) for ident in difference.removed)
        self._save(reconciliation)

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """One batch per scroll page of companies changed since `start`."""
        return self._scroll(start, None)

    def _scroll(self, start: int, listing: IdReconciliation | None) -> Iterator[Batch]:
        """The scroll's pages, filtered to companies changed since `start`; every
        company listed also goes into `listing` (the run's complete id listing)."""
        scroll = CompanyScroll(self._fetch_scroll_page, self.logger)
        newest = start
        for listed in read_ahead(scroll.pages()):
            page = self.keyed_items(listed, ("id",), owner="a scroll page", path="data")
            if listing is not None:
                listing.add_all((company["id"], company.get("created_at")) for company in page)
            batch = [company for company in page if (company.get("updated_at") or 0) >= start]
            newest = max([newest, *(company.get("updated_at") or 0 for company in batch)])
            yield batch, None
        yield [], newest

    def _fetch_scroll_page(self, params: dict[str, str]) -> dict[str, Any]:
        # Only 429s are retried in place: any other failure may have moved the scroll.
        return self.request_json(self.path, params=params, retry_only_rate_limits=True)


class CompanySegmentsStream(ChildStream):
    """The segments each changed company belongs to (`GET /companies/{id}/segments`)."""

    name = "company_segments"
    parent_stream = "companies"
    path = "/companies/{id}/segments"
    parent_key = "company_id"
    primary_keys = ("company_id", "id")
    selected_by_default = False

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """The company's segments."""
        return self.data_list(self.path.format(id=parent["id"]), f"company {parent['id']}")


class _ContactMembershipStream(ChildStream):
    """One row per (contact, member) of a list a contact embeds (at most 10 items, with
    `has_more` and a `url` to the full list). Only contacts whose embedded list is cut
    short cost a request; the others' rows come from the embedded list.

    Each row carries the contact's `updated_at` as `contact_updated_at`: a row is current
    when it equals the contact's `updated_at` (removals leave older rows behind).
    """

    parent_stream = "contacts"
    parent_key = "contact_id"
    primary_keys = ("contact_id", "id")
    replication_key = "contact_updated_at"
    #: The contact's embedded list, and the field of its full list's answer.
    embedded: str

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """The embedded list when complete, else the full list."""
        contact_id = parent["id"]
        listed = parent.get(self.embedded)
        if isinstance(listed, dict) and not listed.get("has_more"):
            items = self.keyed_items(
                listed.get("data"),
                self.key_fields,
                owner=f"contact {contact_id}",
                path=f"{self.embedded}.data",
            )
        else:
            items = self.fetch_full_list(contact_id)
        return [{**item, "contact_updated_at": parent.get("updated_at")} for item in items]

    def fetch_full_list(self, contact_id: str) -> list[dict[str, Any]]:
        """Every item of the contact's list (`GET /contacts/{id}/<embedded>`) that has
        its key."""
        raise NotImplementedError


class ContactTagsStream(_ContactMembershipStream):
    """The tags of each changed contact, beyond the 10 a contact embeds.

    Rows read from the full list (`GET /contacts/{id}/tags`) also carry the tag's name,
    `applied_at` and `applied_by`; rows from the embedded list carry its `url`.
    """

    name = "contact_tags"
    path = "/contacts/{id}/tags"
    embedded = "tags"
    parent_fields = ("tags",)

    def fetch_full_list(self, contact_id: str) -> list[dict[str, Any]]:
        """`GET /contacts/{id}/tags` (one unpaged list)."""
        return self.data_list(self.path.format(id=contact_id), f"contact {contact_id}")


class ContactCompaniesStream(_ContactMembershipStream):
    """The companies of each changed contact, beyond the 10 a contact embeds (`id` and
    `type`: the companies themselves are in `companies`)."""

    name = "contact_companies"
    path = "/contacts/{id}/companies"
    embedded = "companies"
    parent_fields = ("companies",)

    def fetch_full_list(self, contact_id: str) -> list[dict[str, Any]]:
        """Every page of `GET /contacts/{id}/companies`. The description names the list
        `companies` in its schema and `data` in its example: either is read."""
        companies: list[dict[str, Any]] = []
        path = self.path.format(id=contact_id)
        for payload in self.iter_pages(path, params={"per_page": self.page_size}):
            field = "companies" if payload.get("companies") is not None else "data"
            keyed = self.keyed_items(
                payload.get(field),
                self.key_fields,
                owner=f"contact {contact_id}",
                path=field,
                source=f"GET {path}",
            )
            companies += [{"type": company.get("type"), "id": company["id"]} for company in keyed]
        return companies


class ContactNotesStream(ChildStream):
    """Notes on each changed contact (`GET /contacts/{id}/notes`), all pages; contacts
    whose embedded notes say there are none cost no request."""

    name = "contact_notes"
    path = "/contacts/{id}/notes"
    parent_stream = "contacts"
    parent_key = "contact_id"
    replication_key = "created_at"
    selected_by_default = False
    parent_fields = ("notes",)

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """All pages of the contact's notes."""
        embedded = parent.get("notes")
        if isinstance(embedded, dict) and embedded.get("total_count") == 0:
            return []
        path = self.path.format(id=parent["id"])
        return self.keyed_pages(
            path, {"per_page": self.page_size}, "data", f"contact {parent['id']}"
        )


class ContactEventsStream(ChildStream):
    """Data events of each changed contact, last 90 days (`GET /events?type=user`)."""

    name = "contact_events"
    path = "/events"
    parent_stream = "contacts"
    parent_key = "contact_id"
    primary_keys = ("contact_id", "event_name", "created_at")
    replication_key = "created_at"
    selected_by_default = False

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """All pages of the contact's events."""
        params = {"type": "user", "intercom_user_id": parent["id"], "per_page": self.page_size}
        return self.keyed_pages(self.path, params, "events", f"contact {parent['id']}")
