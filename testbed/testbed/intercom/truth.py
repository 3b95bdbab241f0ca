"""Ground truth: what a correct full extraction of every stream yields, in raw API form.

Computed straight from the workspace's records (every index, minus deletions), never through
the paginated, searched or scrolled endpoints, so it can judge what a client got from them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testbed.intercom.api import (
    as_of_2_16,
    conversation_attribute,
    merge_history_of,
    version_tuple,
)
from testbed.intercom.drift import unkeyed_item
from testbed.intercom.records import EVENTS_LISTED
from testbed.intercom.store import Workspace


def _attributes(ws: Workspace, model: str) -> list[dict[str, Any]]:
    # Archived attributes count too: a full extraction asks with include_archived=true.
    return [a for a in ws.gen.data_attributes if a["model"] == model]


def _live(ws: Workspace, kind: str, full: bool = False) -> list[dict[str, Any]]:
    store = ws.kinds[kind]
    return [store.record(i, full) for i in store.live_indexes()]


def _conversation_parts(ws: Workspace) -> list[dict[str, Any]]:
    parts = []
    for conversation in _live(ws, "conversations", full=True):
        shown = conversation["conversation_parts"]["conversation_parts"]  # the newest 500
        parts += [{**part, "conversation_id": conversation["id"]} for part in shown]
    return parts


def _ticket_parts(ws: Workspace) -> list[dict[str, Any]]:
    return [
        {**part, "ticket_id": ticket["id"]}
        for ticket in _live(ws, "tickets", full=True)
        for part in ticket["ticket_parts"]["ticket_parts"]
    ]


def _company_segments(ws: Workspace) -> list[dict[str, Any]]:
    store = ws.kinds["companies"]
    return [
        {**segment, "company_id": store.codec.encode(i)}
        for i in store.live_indexes()
        for segment in ws.gen.company_segments_of(i)
    ]


def _contact_notes(ws: Workspace) -> list[dict[str, Any]]:
    store = ws.kinds["contacts"]
    notes = []
    for i in store.live_indexes():
        contact = store.record(i)
        notes += [{**note, "contact_id": contact["id"]} for note in ws.gen.notes(i, contact)]
    return notes


def _contact_events(ws: Workspace) -> list[dict[str, Any]]:
    store = ws.kinds["contacts"]
    since = ws.now() - EVENTS_LISTED
    events = []
    for i in store.live_indexes():
        contact = store.record(i)
        events += [
            {**event, "contact_id": contact["id"]}
            for event in ws.gen.events(i, contact)
            if event["created_at"] >= since
        ]
    return events


def _contact_memberships(ws: Workspace, what: str) -> list[dict[str, Any]]:
    """contact_tags / contact_companies: the embedded list when it is complete, else the
    full list (`GET /contacts/{id}/tags|companies`), reduced to what the tap keeps."""
    store = ws.kinds["contacts"]
    rows = []
    for i in store.live_indexes():
        created, updated = store.times(i)
        contact, company_ids, tag_ids = ws.gen.contact_with_memberships(i, created, updated)
        embedded = contact[what]
        if not embedded["has_more"]:
            items = embedded["data"]
        elif what == "tags":
            items = ws.gen.contact_tags(i, tag_ids, created)
        else:
            items = [
                {"type": "company", "id": ws.kinds["companies"].codec.encode(c)}
                for c in company_ids
            ]
            unkeyed = unkeyed_item(ws.gen.seed, contact["id"]) if ws.options.drift else None
            if unkeyed is not None:
                del items[unkeyed]  # served without its id: no row (the contact keeps it)
        rows += [
            {**item, "contact_id": contact["id"], "contact_updated_at": updated} for item in items
        ]
    return rows


STREAMS: dict[str, Callable[[Workspace], list[dict[str, Any]]]] = {
    "admins": lambda ws: list(ws.gen.admins),
    "teams": lambda ws: list(ws.gen.teams),
    "tags": lambda ws: list(ws.gen.tags),
    "segments": lambda ws: [
        {**s, "count": ws.segment_counts()[s["id"]]}
        for s in ws.gen.segments + ws.gen.company_segment_list
    ],
    "company_attributes": lambda ws: _attributes(ws, "company"),
    "contact_attributes": lambda ws: _attributes(ws, "contact"),
    "conversation_attributes": lambda ws: _attributes(ws, "conversation"),
    "ticket_types": lambda ws: list(ws.gen.ticket_types),
    "help_centers": lambda ws: list(ws.gen.help_centers),
    "help_center_collections": lambda ws: list(ws.gen.collections),
    "subscription_types": lambda ws: list(ws.gen.subscription_types),
    "news_items": lambda ws: list(ws.gen.news_items),
    "newsfeeds": lambda ws: list(ws.gen.newsfeeds),
    "articles": lambda ws: list(ws.gen.articles),
    "contacts": lambda ws: _live(ws, "contacts"),
    "companies": lambda ws: _live(ws, "companies"),
    "conversations": lambda ws: _live(ws, "conversations"),
    "tickets": lambda ws: _live(ws, "tickets"),
    "activity_logs": lambda ws: list(ws.gen.activity_logs),
    "conversation_parts": _conversation_parts,
    "ticket_parts": _ticket_parts,
    "company_segments": _company_segments,
    "contact_notes": _contact_notes,
    "contact_events": _contact_events,
    "contact_tags": lambda ws: _contact_memberships(ws, "tags"),
    "contact_companies": lambda ws: _contact_memberships(ws, "companies"),
}


def stream_truth(ws: Workspace, stream: str, version: str = "2.15") -> list[dict[str, Any]]:
    """The stream's records as the API answers with `version` (2.15 or 2.16 shapes)."""
    if stream not in STREAMS:
        raise KeyError(stream)
    with ws.lock:
        records = STREAMS[stream](ws)
    if version_tuple(version) < (2, 16):
        return records
    records = [dict(record) for record in records]  # turned into 2.16's shape in place
    if stream == "conversation_attributes":
        records = [{"model": "conversation", **conversation_attribute(a)} for a in records]
    if stream == "contacts":  # a full extraction on 2.16 asks for the merge history
        store = ws.kinds["contacts"]
        with ws.lock:
            for record in records:
                if record.get("role") == "user":
                    i = store.lookup(record["id"])
                    assert i is not None, record["id"]  # the record comes from the store
                    record["merge_history"] = merge_history_of(ws, i)
    as_of_2_16(records)
    return records


def drifted_truth(ws: Workspace) -> list[dict[str, Any]]:
    """Every value `--drift` changed in live records (see `testbed.intercom.drift`)."""
    with ws.lock:
        return [
            site
            for store in ws.kinds.values()
            for i in store.live_indexes()
            for site in store.drift_sites(i)
        ]


def deleted_truth(ws: Workspace) -> dict[str, list[str]]:
    """Ids of the records deleted (contacts: merged too; companies: archived)."""
    with ws.lock:
        return {
            kind: sorted(ws.kinds[kind].codec.encode(i) for i in ws.kinds[kind].deleted)
            for kind in ("contacts", "companies", "conversations")
        }
