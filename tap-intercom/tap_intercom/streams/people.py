"""Contacts and companies, and what hangs off them (notes, events, segments)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tap_intercom.incremental import Batch, ChildStream, IncrementalStream
from tap_intercom.pagination import CompanyScroll
from tap_intercom.search import SortedSearchStream


class ContactsStream(SortedSearchStream):
    """Contacts (users and leads), from `POST /contacts/search`."""

    name = "contacts"
    path = "/contacts"


class CompaniesStream(IncrementalStream):
    """Companies, from the scroll API; incremental by filtering on `updated_at`.

    The scroll cannot start in the middle, so every run scrolls through all companies
    and the bookmark moves once, at the end. `company_segments` replays this run's
    listing rather than opening a second scroll, which Intercom would refuse
    (`scroll_exists`) until the first expired.
    """

    name = "companies"
    path = "/companies/scroll"

    def iter_batches(self, start: int) -> Iterator[Batch]:
        """One batch per scroll page of companies changed since `start`."""
        scroll = CompanyScroll(self._fetch_scroll_page, self.logger)
        newest = start
        for page in scroll.pages():
            batch = [company for company in page if (company.get("updated_at") or 0) >= start]
            newest = max([newest, *(company["updated_at"] for company in batch)])
            yield batch, None
        yield [], newest

    def _fetch_scroll_page(self, params: dict[str, str]) -> dict[str, Any]:
        # Only 429s are retried in place: any other failure may have moved the scroll.
        return self.request_json(self.path, params=params, retry_only_rate_limits=True)


class CompanySegmentsStream(ChildStream):
    """The segments each changed company belongs to (`GET /companies/{id}/segments`)."""

    name = "company_segments"
    parent_stream = "companies"
    parent_key = "company_id"
    primary_keys = ("company_id", "id")
    selected_by_default = False

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """The company's segments."""
        payload = self.request_json(f"/companies/{parent['id']}/segments")
        return payload.get("data") or []


class ContactNotesStream(ChildStream):
    """Notes on each changed contact (`GET /contacts/{id}/notes`)."""

    name = "contact_notes"
    parent_stream = "contacts"
    parent_key = "contact_id"
    replication_key = "created_at"
    selected_by_default = False

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """All pages of the contact's notes."""
        notes: list[dict[str, Any]] = []
        for payload in self.iter_pages(
            f"/contacts/{parent['id']}/notes", params={"per_page": self.page_size}
        ):
            notes.extend(payload.get("data") or ())
        return notes


class ContactEventsStream(ChildStream):
    """Data events of each changed contact, last 90 days (`GET /events?type=user`)."""

    name = "contact_events"
    parent_stream = "contacts"
    parent_key = "contact_id"
    primary_keys = ("contact_id", "event_name", "created_at")
    replication_key = "created_at"
    selected_by_default = False

    def fetch_children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        """All pages of the contact's events."""
        events: list[dict[str, Any]] = []
        params = {"type": "user", "intercom_user_id": parent["id"], "per_page": self.page_size}
        for payload in self.iter_pages("/events", params=params):
            events.extend(payload.get("events") or ())
        return events
