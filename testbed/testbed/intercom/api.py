"""The Intercom endpoints: routing, pagination and the response envelopes of 2.15 (and 2.16)."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from testbed.intercom.det import stable_hash
from testbed.intercom.drift import unkeyed_item
from testbed.intercom.records import EVENTS_LISTED
from testbed.intercom.search import (
    Field,
    Plan,
    QueryCompiler,
    SearchError,
    contact_fields,
    conversation_fields,
    ticket_fields,
)
from testbed.intercom.store import Key, Kind, Workspace

MAX_PER_PAGE = 150
SCROLL_PAGE_SIZE = 50
COUNT_SCAN_LIMIT = 20_000  # search total_count is exact up to this many candidates
COUNT_SAMPLE = 2_000  # and estimated from this many beyond
DEFAULT_VERSION = "2.15"
# The enum of the description's `intercom_version` schema (2.15), plus 2.16 from its own file.
ACCEPTED_VERSIONS = [f"1.{n}" for n in range(5)] + [f"2.{n}" for n in range(17)]


# The small catalogs: (path, list type, items key, Generator attribute, name for 404s,
# default per_page when the list is page-numbered); those with a name also serve {path}/{id}.
CATALOGS = [
    ("/admins", "admin.list", "admins", "admins", "Admin", None),
    ("/teams", "team.list", "teams", "teams", "Team", None),
    ("/tags", "list", "data", "tags", "Tag", None),
    ("/ticket_types", "list", "data", "ticket_types", "Ticket type", None),
    ("/help_center/help_centers", "list", "data", "help_centers", "Help center", None),
    ("/help_center/collections", "list", "data", "collections", "Collection", 20),
    ("/articles", "list", "data", "articles", "Article", 25),
    ("/news/news_items", "list", "data", "news_items", "News item", 10),
    ("/news/newsfeeds", "list", "data", "newsfeeds", "Newsfeed", 10),
    ("/subscription_types", "list", "data", "subscription_types", None, None),
]


# The contacts search request lists `sort` from this version on.
SORT_VERSION = (2, 16)


def version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


class ApiError(Exception):
    """An answer in Intercom's error.list form."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "type": "error.list",
            "request_id": str(uuid.uuid4()),
            "errors": [{"code": self.code, "message": self.message}],
        }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    version: str
    base_url: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_arg(self, name: str, default: int, maximum: int | None = None) -> int:
        raw = self.arg(name)
        if raw is None:
            return default
        return checked_int(name, raw, maximum)


def checked_int(name: str, raw: Any, maximum: int | None) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "parameter_invalid", f"{name} must be an integer") from None
    if isinstance(raw, bool) or value < 1:
        raise ApiError(400, "parameter_invalid", f"{name} must be a positive integer")
    if maximum is not None and value > maximum:
        raise ApiError(400, "parameter_invalid", f"{name} must be at most {maximum}")
    return value


def encode_cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_cursor(cursor: Any) -> tuple[int, Any]:
    """(page number, position) from a cursor made by encode_cursor([page, position])."""
    invalid = ApiError(400, "parameter_invalid", "starting_after is not a valid cursor")
    if not isinstance(cursor, str):
        raise invalid
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], int)):
        raise invalid
    return decoded[0], decoded[1]


def cursor_pages(page: int, per_page: int, total: int, next_cursor: str | None) -> dict[str, Any]:
    """Cursor paging: `next` carries `starting_after` whenever the page came back full."""
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": math.ceil(total / per_page),
    }
    if next_cursor is not None:
        pages["next"] = {"per_page": per_page, "starting_after": next_cursor}
    return pages


def offset_page(
    request: Request, total: int, fetch: Callable[[int, int], list[Any]]
) -> tuple[list[Any], dict[str, Any]]:
    """Cursor paging over a stable sequence (`per_page`, `starting_after` query parameters):
    the opaque cursor holds the next page number and offset."""
    per_page = request.int_arg("per_page", 50, MAX_PER_PAGE)
    cursor = request.arg("starting_after")
    page, start = decode_cursor(cursor) if cursor else (1, 0)
    if not isinstance(start, int) or start < 0:
        raise ApiError(400, "parameter_invalid", "starting_after is not a valid cursor")
    data = fetch(start, min(start + per_page, total))
    following = encode_cursor([page + 1, start + per_page]) if len(data) == per_page else None
    return data, cursor_pages(page, per_page, total, following)


def numbered_page(
    request: Request, items: list[Any], default_per_page: int, maximum: int = MAX_PER_PAGE
) -> tuple[list[Any], dict[str, Any]]:
    """page/per_page paging: clients walk `page` up to `total_pages`."""
    per_page = request.int_arg("per_page", default_per_page, maximum)
    page = request.int_arg("page", 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    return chunk, {
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": math.ceil(len(items) / per_page),
    }


def numbered_list(request: Request, items: list[Any], default_per_page: int) -> dict[str, Any]:
    """The envelope of the page-numbered catalogs (articles, collections, news)."""
    data, pages = numbered_page(request, items, default_per_page)
    return {"type": "list", "data": data, "total_count": len(items), "pages": pages}


@dataclass
class Scroll:
    param: str
    position: int = 0
    pages: int = 0
    last_used: float = 0.0


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., dict[str, Any]]
    min_version: str | None = None


@dataclass
class Api:
    """Answers API requests against one Workspace."""

    ws: Workspace
    scroll: Scroll | None = None
    scroll_500_fired: bool = False
    routes: list[Route] = field(default_factory=list)
    _count_cache: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        segment_ids = [s["id"] for s in self.ws.gen.segments]
        self.compilers = {
            "contacts": QueryCompiler("contacts", contact_fields(self.ws.gen.seed, segment_ids)),
            "conversations": QueryCompiler("conversations", conversation_fields()),
            "tickets": QueryCompiler("tickets", ticket_fields()),
        }
        table: list[tuple[str, str, Callable[..., dict[str, Any]], str | None]] = [
            ("GET", r"/me", self.me, None),
            ("GET", r"/admins/activity_logs", self.activity_logs, None),
            ("GET", r"/segments", self.segments, None),
            ("GET", r"/segments/(?P<ident>[^/]+)", self.segment, None),
            ("GET", r"/data_attributes", self.data_attributes, None),
            ("GET", r"/contacts", self.contacts, None),
            ("POST", r"/contacts/search", self.search, None),
            ("GET", r"/contacts/(?P<ident>[^/]+)", self.contact, None),
            ("GET", r"/contacts/(?P<ident>[^/]+)/notes", self.notes, None),
            ("GET", r"/contacts/(?P<ident>[^/]+)/tags", self.contact_tags, None),
            ("GET", r"/contacts/(?P<ident>[^/]+)/companies", self.contact_companies, None),
            ("GET", r"/contacts/(?P<ident>[^/]+)/merge_history", self.merge_history, "2.16"),
            ("GET", r"/conversations", self.conversations, None),
            ("POST", r"/conversations/search", self.search, None),
            ("GET", r"/conversations/deleted", self.deleted_conversations, "2.16"),
            ("GET", r"/conversations/attributes", self.conversation_attributes, "2.16"),
            ("GET", r"/conversations/(?P<ident>[^/]+)", self.conversation, None),
            ("POST", r"/tickets/search", self.search, None),
            ("GET", r"/tickets/(?P<ident>[^/]+)", self.ticket, None),
            ("GET", r"/companies", self.companies, None),
            ("POST", r"/companies/list", self.companies, None),
            ("GET", r"/companies/scroll", self.companies_scroll, None),
            ("GET", r"/companies/(?P<ident>[^/]+)", self.company, None),
            ("GET", r"/companies/(?P<ident>[^/]+)/segments", self.company_segments, None),
            ("GET", r"/events", self.events, None),
        ]
        for path, list_type, key, attribute, what, per_page in CATALOGS:
            listing = self._catalog_list(list_type, key, attribute, per_page)
            table.append(("GET", path, listing, None))
            if what is not None:
                item = self._catalog_item(attribute, what)
                table.append(("GET", path + r"/(?P<ident>[^/]+)", item, None))
        self.routes = [Route(m, re.compile(p + r"/?"), h, v) for m, p, h, v in table]

    def handle(self, request: Request) -> dict[str, Any]:
        """The JSON body of a 200 answer; raises ApiError for everything else."""
        path_matched = False
        for route in self.routes:
            match = route.pattern.fullmatch(request.path)
            if not match:
                continue
            path_matched = True
            if route.method != request.method:
                continue
            if route.min_version and version_tuple(request.version) < version_tuple(
                route.min_version
            ):
                raise ApiError(
                    400,
                    "intercom_version_invalid",
                    "Requested resource is not available in current API version.",
                )
            body = route.handler(request, **match.groupdict())
            if version_tuple(request.version) >= (2, 16):
                as_of_2_16(body)
            return body
        if path_matched:
            raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here")
        raise ApiError(404, "not_found", "Resource Not Found")

    # ----- small catalogs -------------------------------------------------------------------
    def me(self, request: Request) -> dict[str, Any]:
        admin = self.ws.gen.admins[0]
        return {
            **{
                k: v
                for k, v in admin.items()
                if k not in ("away_status_reason_id", "team_priority_level")
            },
            "avatar": {"type": "avatar", "image_url": None},
            "email_verified": True,
            "app": {
                "type": "app",
                "id_code": self.ws.gen.workspace_id,
                "name": "Sandbox",
                "region": "US",
                "timezone": "UTC",
                "created_at": self.ws.gen.start,
                "identity_verification": False,
            },
        }

    def _find(self, items: list[dict[str, Any]], ident: str, what: str) -> dict[str, Any]:
        for item in items:
            if str(item["id"]) == ident:
                return item
        raise ApiError(404, "not_found", f"{what} Not Found")

    def _catalog_list(
        self, list_type: str, key: str, attribute: str, per_page: int | None
    ) -> Callable[[Request], dict[str, Any]]:
        def handler(request: Request) -> dict[str, Any]:
            # Copies: an answer is turned into 2.16's shape in place.
            items = [dict(item) for item in getattr(self.ws.gen, attribute)]
            if per_page is not None:
                return numbered_list(request, items, per_page)
            return {"type": list_type, key: items}

        return handler

    def _catalog_item(self, attribute: str, what: str) -> Callable[..., dict[str, Any]]:
        return lambda request, ident: dict(self._find(getattr(self.ws.gen, attribute), ident, what))

    def all_segments(self, include_count: bool = False) -> list[dict[str, Any]]:
        segments = self.ws.gen.segments + self.ws.gen.company_segment_list
        if include_count:
            counts = self.ws.segment_counts()
            return [{**s, "count": counts[s["id"]]} for s in segments]
        return segments

    def segments(self, request: Request) -> dict[str, Any]:
        include_count = request.arg("include_count") == "true"
        return {"type": "segment.list", "segments": self.all_segments(include_count)}

    def segment(self, request: Request, ident: str) -> dict[str, Any]:
        return self._find(self.all_segments(), ident, "Segment")

    def data_attributes(self, request: Request) -> dict[str, Any]:
        model = request.arg("model")
        if model is not None and model not in ("contact", "company", "conversation"):
            raise ApiError(
                400, "parameter_invalid", "model must be contact, company or conversation"
            )
        from_2_16 = version_tuple(request.version) >= (2, 16)
        if model == "conversation" and from_2_16:
            raise ApiError(
                422,
                "parameter_invalid",
                "model=conversation is no longer supported. "
                "Use GET /conversations/attributes instead",
            )
        include_archived = request.arg("include_archived") == "true"
        return {
            "type": "list",
            "data": [
                a
                for a in self.ws.gen.data_attributes
                if (model is None or a["model"] == model)
                and not (from_2_16 and a["model"] == "conversation")
                and (include_archived or not a["archived"])
            ],
        }

    def conversation_attributes(self, request: Request) -> dict[str, Any]:
        """GET /conversations/attributes (2.16): the conversation data attributes in
        their 2.16 shape."""
        include_archived = request.arg("include_archived") == "true"
        return {
            "type": "list",
            "data": [
                conversation_attribute(a)
                for a in self.ws.gen.data_attributes
                if a["model"] == "conversation" and (include_archived or not a["archived"])
            ],
        }

    def activity_logs(self, request: Request) -> dict[str, Any]:
        after_raw, before_raw = request.arg("created_at_after"), request.arg("created_at_before")
        if after_raw is None:
            raise ApiError(400, "parameter_not_found", "created_at_after is required")
        try:
            after = int(after_raw)
            before = int(before_raw) if before_raw is not None else None
        except ValueError:
            raise ApiError(
                400,
                "parameter_invalid",
                "created_at_after and created_at_before must be UNIX timestamps",
            ) from None
        logs = [
            log
            for log in self.ws.gen.activity_logs
            if log["created_at"] >= after and (before is None or log["created_at"] <= before)
        ]
        data, pages = numbered_page(request, logs, 20)
        return {"type": "activity_log.list", "pages": pages, "activity_logs": data}

    # ----- contacts -------------------------------------------------------------------------
    def _record_or_404(self, kind: str, ident: str, what: str) -> tuple[Kind, int]:
        store = self.ws.kinds[kind]
        i = store.lookup(ident)
        if i is None:
            raise ApiError(404, "not_found", f"{what} Not Found")
        return store, i

    def contacts(self, request: Request) -> dict[str, Any]:
        """GET /contacts: every live contact in creation order, cursor paged (positions
        among the live ones: a deletion during a listing shifts later pages)."""
        with self.ws.lock:
            store = self.ws.kinds["contacts"]
            total = store.live_count()
            data, pages = offset_page(
                request,
                total,
                lambda a, b: [
                    self._contact_as_asked(request, i, store.record(i))
                    for i in store.live_slice(a, b)
                ],
            )
            return {"type": "list", "data": data, "total_count": total, "pages": pages}

    def contact(self, request: Request, ident: str) -> dict[str, Any]:
        with self.ws.lock:
            store, i = self._record_or_404("contacts", ident, "User")
            return self._contact_as_asked(request, i, store.record(i))

    def _contact_as_asked(self, request: Request, i: int, record: dict[str, Any]) -> dict[str, Any]:
        """2.16 adds `merge_history` to users when asked (`include_merge_history=true`)."""
        if (
            version_tuple(request.version) < (2, 16)
            or request.arg("include_merge_history") != "true"
            or record.get("role") != "user"
        ):
            return record
        return {**record, "merge_history": merge_history_of(self.ws, i)}

    def merge_history(self, request: Request, ident: str) -> dict[str, Any]:
        """GET /contacts/{id}/merge_history (2.16): users only, cursor paged."""
        per_page = request.int_arg("per_page", 50, MAX_PER_PAGE)
        order = request.arg("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "parameter_invalid", "order must be asc or desc")
        with self.ws.lock:
            store, i = self._record_or_404("contacts", ident, "Contact")
            if self.ws.gen.contact_role(i) != "user":
                raise ApiError(404, "not_found", "Contact not found")
            history = merge_history_of(self.ws, i)
        if order == "asc":
            history.reverse()
        cursor = request.arg("cursor")
        start = decode_cursor(cursor)[1] if cursor else 0
        if not isinstance(start, int) or start < 0:
            raise ApiError(400, "parameter_invalid", "cursor is not valid")
        more = start + per_page < len(history)
        body: dict[str, Any] = {
            "type": "list",
            "data": history[start : start + per_page],
            "has_more": more,
        }
        if more:
            body["next_cursor"] = encode_cursor([0, start + per_page])
        return body

    def _memberships(self, ident: str) -> tuple[int, dict[str, Any], list[int], list[int]]:
        with self.ws.lock:
            store, i = self._record_or_404("contacts", ident, "User")
            created, updated = store.times(i)
        return i, *self.ws.gen.contact_with_memberships(i, created, updated)

    def contact_tags(self, request: Request, ident: str) -> dict[str, Any]:
        """GET /contacts/{id}/tags: every tag of the contact, in one unpaged list."""
        i, contact, _, tag_ids = self._memberships(ident)
        return {"type": "list", "data": self.ws.gen.contact_tags(i, tag_ids, contact["created_at"])}

    def contact_companies(self, request: Request, ident: str) -> dict[str, Any]:
        """GET /contacts/{id}/companies: every company of the contact, page-numbered with a
        `next` URL. The description's schema names the list `companies`, its example
        `data`: with drift the sandbox serves `data`."""
        _, _, company_ids, _ = self._memberships(ident)
        with self.ws.lock:
            store = self.ws.kinds["companies"]
            companies = [store.record(c) for c in company_ids]
        unkeyed = unkeyed_item(self.ws.gen.seed, ident) if self.ws.options.drift else None
        if unkeyed is not None and unkeyed < len(companies):
            companies[unkeyed].pop("id")
        data, pages = numbered_page(request, companies, 50)
        more = pages["page"] < pages["total_pages"]
        query = {"per_page": pages["per_page"], "page": pages["page"] + 1}
        pages["next"] = (
            f"{request.base_url}/contacts/{ident}/companies?{urlencode(query)}" if more else None
        )
        key = "data" if self.ws.options.drift else "companies"
        return {"type": "list", key: data, "total_count": len(companies), "pages": pages}

    def notes(self, request: Request, ident: str) -> dict[str, Any]:
        with self.ws.lock:
            store, i = self._record_or_404("contacts", ident, "User")
            notes = self.ws.gen.notes(i, store.record(i))
        data, pages = offset_page(request, len(notes), lambda a, b: notes[a:b])
        return {"type": "list", "data": data, "total_count": len(notes), "pages": pages}

    def events(self, request: Request) -> dict[str, Any]:
        if request.arg("type") != "user":
            raise ApiError(400, "parameter_invalid", "type must be user")
        per_page = request.int_arg("per_page", 50, MAX_PER_PAGE)
        with self.ws.lock:
            i = self._event_owner(request)
            store = self.ws.kinds["contacts"]
            contact = store.record(i)
            now = self.ws.now()
        events = self.ws.gen.events(i, contact)
        if request.arg("summary") == "true":
            return self._event_summary(contact, events)
        listed = [e for e in events if e["created_at"] >= now - EVENTS_LISTED]
        token = request.arg("next_token")
        offset = decode_cursor(token)[1] if token else 0
        if not isinstance(offset, int):
            raise ApiError(400, "parameter_invalid", "next_token is not valid")
        data = listed[offset : offset + per_page]
        pages: dict[str, Any] = {}
        if offset + per_page < len(listed):
            query = {
                "type": "user",
                "intercom_user_id": contact["id"],
                "per_page": per_page,
                "next_token": encode_cursor([0, offset + per_page]),
            }
            pages["next"] = f"{request.base_url}/events?{urlencode(query)}"
        return {
            "type": "event.list",
            "events": data,
            "pages": pages,
            "email": contact["email"],
            "intercom_user_id": contact["id"],
            "user_id": contact["external_id"] or "",
        }

    def _event_owner(self, request: Request) -> int:
        store = self.ws.kinds["contacts"]
        if request.arg("intercom_user_id"):
            i = store.lookup(request.arg("intercom_user_id") or "")
        elif request.arg("user_id"):
            match = re.fullmatch(r"user-(\d+)", request.arg("user_id") or "")
            i = int(match.group(1)) if match else None
        elif request.arg("email"):
            match = re.search(r"\.(\d+)@", request.arg("email") or "")
            i = int(match.group(1)) if match else None
        else:
            raise ApiError(
                400, "parameter_not_found", "one of intercom_user_id, user_id or email is required"
            )
        if i is None or not store.exists(i):
            raise ApiError(404, "not_found", "User Not Found")
        record = store.record(i)
        if request.arg("user_id") and record["external_id"] != request.arg("user_id"):
            raise ApiError(404, "not_found", "User Not Found")
        if request.arg("email") and record["email"] != request.arg("email"):
            raise ApiError(404, "not_found", "User Not Found")
        return i

    def _event_summary(
        self, contact: dict[str, Any], events: list[dict[str, Any]]
    ) -> dict[str, Any]:
        summary: dict[str, dict[str, Any]] = {}
        for event in sorted(events, key=lambda e: e["created_at"]):
            item = summary.setdefault(
                event["event_name"],
                {
                    "name": event["event_name"],
                    "first": event["created_at"],
                    "count": 0,
                    "description": "",
                },
            )
            item["last"] = event["created_at"]
            item["count"] += 1
        items = [
            {**v, "first": _iso(v["first"]), "last": _iso(v["last"])} for v in summary.values()
        ]
        return {
            "type": "event.summary",
            "email": contact["email"],
            "intercom_user_id": contact["id"],
            "user_id": contact["external_id"] or "",
            "events": items,
        }

    # ----- conversations and tickets ----------------------------------------------------------
    def conversations(self, request: Request) -> dict[str, Any]:
        """GET /conversations: newest updated first, cursor paged."""
        per_page = request.int_arg("per_page", 20, MAX_PER_PAGE)
        cursor = request.arg("starting_after")
        page, after = decode_cursor(cursor) if cursor else (1, None)
        with self.ws.lock:
            store = self.ws.kinds["conversations"]
            keys = _take(store.index.iterate(None, None, True, _index_key(after)), per_page)
            data = [store.record(i) for _, i in keys]
            total = store.index.count(None, None)
        more = len(keys) == per_page
        return {
            "type": "conversation.list",
            "conversations": data,
            "total_count": total,
            "pages": cursor_pages(
                page, per_page, total, encode_cursor([page + 1, list(keys[-1])]) if more else None
            ),
        }

    def conversation(self, request: Request, ident: str) -> dict[str, Any]:
        with self.ws.lock:
            store, i = self._record_or_404("conversations", ident, "Conversation")
            return store.record(i, full=True)

    def ticket(self, request: Request, ident: str) -> dict[str, Any]:
        with self.ws.lock:
            store, i = self._record_or_404("tickets", ident, "Ticket")
            return store.record(i, full=True)

    def deleted_conversations(self, request: Request) -> dict[str, Any]:
        per_page = request.int_arg("per_page", 20, 60)
        order = request.arg("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "parameter_invalid", "order must be asc or desc")
        with self.ws.lock:
            store = self.ws.kinds["conversations"]
            deleted = sorted(
                ((at, store.codec.encode(i)) for i, at in store.deleted.items()),
                reverse=order == "desc",
            )
        if self.ws.options.drift:
            # The description says id order, its example deleted_at order: serve neither.
            deleted.sort(key=lambda item: stable_hash(self.ws.gen.seed, item[1]))
        items = [
            {"type": "conversation", "id": ident, "metrics_retained": False, "deleted_at": at}
            for at, ident in deleted
        ]
        data, pages = numbered_page(request, items, 20, 60)
        more = pages["page"] < pages["total_pages"]
        query = {"per_page": per_page, "order": order, "page": pages["page"] + 1}
        pages["next"] = (
            f"{request.base_url}/conversations/deleted?{urlencode(query)}" if more else None
        )
        return {
            "type": "conversations.list",
            "conversations": data,
            "total_count": len(items),
            "pages": pages,
        }

    def search(self, request: Request) -> dict[str, Any]:
        kind = request.path.strip("/").split("/")[0]
        body = request.body
        if not isinstance(body, dict) or "query" not in body:
            raise ApiError(400, "parameter_not_found", "query is required in the request body")
        pagination = body.get("pagination")
        pagination = {} if pagination is None else pagination
        if not isinstance(pagination, dict):
            raise ApiError(400, "parameter_invalid", "pagination must be an object")
        per_page = checked_int(
            "per_page", pagination.get("per_page", 50 if kind == "contacts" else 20), MAX_PER_PAGE
        )
        cursor = pagination.get("starting_after")
        page, after = decode_cursor(cursor) if cursor else (1, None)
        try:
            plan = self.compilers[kind].compile(body["query"])
        except SearchError as error:
            raise ApiError(400, error.code, str(error)) from None
        sort_field, descending = self._sort(kind, body.get("sort"), request.version)
        with self.ws.lock:
            store = self.ws.kinds[kind]
            now = self.ws.now()
            if sort_field == "updated_at":
                matches = self._index_matches(store, plan, descending, _index_key(after), now)
                keys = _take(matches, per_page)
                data = [self._contact_as_asked(request, k[1], r) for k, r in keys]
                last_key: list[Any] | None = list(keys[-1][0]) if keys else None
            else:
                ordered = self._sorted_matches(store, plan, sort_field, descending, now)
                if after is not None and not (isinstance(after, list) and len(after) == 3):
                    raise ApiError(400, "parameter_invalid", "starting_after is not a valid cursor")
                start = _position_after(ordered, after, descending)
                chunk = ordered[start : start + per_page]
                data = [
                    self._contact_as_asked(request, store.codec.decode(r["id"]) or 0, r)
                    for _, r in chunk
                ]
                last_key = list(chunk[-1][0]) if chunk else None
            total = self._total(store, plan, body, now)
        more = len(data) == per_page
        pages = cursor_pages(
            page, per_page, total, encode_cursor([page + 1, last_key]) if more else None
        )
        listed = {
            "contacts": "list",
            "conversations": "conversation.list",
            "tickets": "ticket.list",
        }
        items = "data" if kind == "contacts" else kind
        return {"type": listed[kind], items: data, "total_count": total, "pages": pages}

    def _sort(self, kind: str, sort: Any, version: str) -> tuple[str, bool]:
        """(field, descending). Contacts honour `sort` from 2.16, whose request schema
        (`contact_search_request`) lists it; 2.15's (`search_request`) does not, so there
        it is ignored like any unlisted key, unchecked. Conversations and tickets ignore
        it. Without a sort: newest updated first."""
        if kind != "contacts" or sort is None or version_tuple(version) < SORT_VERSION:
            return "updated_at", True
        if not isinstance(sort, dict):
            raise ApiError(400, "parameter_invalid", "sort must be an object with field and order")
        field_name, order = sort.get("field"), sort.get("order", "descending")
        if field_name not in self.compilers["contacts"].fields:
            raise ApiError(400, "parameter_invalid", f"cannot sort by {field_name!r}")
        if order not in ("ascending", "descending"):
            raise ApiError(
                400,
                "invalid_sort_order",
                f"Invalid sort order {str(order)[:40]!r}. Must be one of: ascending, descending",
            )
        return field_name, order == "descending"

    def _index_matches(
        self, store: Kind, plan: Plan, descending: bool, after: Key | None, now: int
    ) -> Iterator[tuple[Key, dict[str, Any]]]:
        for key in store.index.iterate(plan.low, plan.high, descending, after):
            if not self.ws.visible_in_search(store.name, key[1], now):
                continue
            record = store.record(key[1])
            if plan.predicate(record):
                yield key, record

    def _sorted_matches(
        self, store: Kind, plan: Plan, sort_field: str, descending: bool, now: int
    ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        """Sorting by anything but updated_at needs every match: a scan of the window."""
        getter: Field = self.compilers[store.name].fields[sort_field]
        matches = []
        for _, record in self._index_matches(store, plan, False, None, now):
            value = getter.get(record)
            value = value[0] if isinstance(value, list) and value else value
            present = value is not None and value != []
            key = (1 if present else 0, value if present else 0, record["id"])
            matches.append((key, record))
        matches.sort(key=lambda m: m[0], reverse=descending)
        return matches

    def _total(self, store: Kind, plan: Plan, body: dict[str, Any], now: int) -> int:
        lag_applies = store.name == "contacts" and self.ws.options.faults.search_lag_seconds
        if plan.window_only and not lag_applies:
            return store.index.count(plan.low, plan.high)
        cache_key = (
            store.name,
            json.dumps(body["query"], sort_keys=True),
            self.ws.version,
            now // 10 if lag_applies else 0,
        )
        if cache_key not in self._count_cache:
            if len(self._count_cache) > 256:
                self._count_cache.clear()
            self._count_cache[cache_key] = self._count_matches(store, plan, now)
        return self._count_cache[cache_key]

    def _count_matches(self, store: Kind, plan: Plan, now: int) -> int:
        """Exact up to COUNT_SCAN_LIMIT candidates; beyond, scaled from an even sample, so a
        count never costs a scan of a million records."""
        window = store.index.count(plan.low, plan.high)
        if window <= COUNT_SCAN_LIMIT:
            return sum(1 for _ in self._index_matches(store, plan, False, None, now))
        sampled = store.index.sample(plan.low, plan.high, COUNT_SAMPLE)
        hits = sum(1 for i in sampled if plan.predicate(store.record(i)))
        return round(window * hits / len(sampled))

    # ----- companies --------------------------------------------------------------------------
    def companies(self, request: Request) -> dict[str, Any]:
        """GET /companies (or POST /companies/list): by name/company_id a list of that one
        company (as the description's example shows), else a
        page-numbered list, most recently updated first unless order=asc (deep pages cost
        more, as at Intercom)."""
        store = self.ws.kinds["companies"]
        for key in ("name", "company_id"):
            wanted = request.arg(key)
            if wanted is not None and request.method == "GET":
                with self.ws.lock:
                    found = store.record(self._company_by(key, wanted))
                pages = {"type": "pages", "next": None, "page": 1, "per_page": 15, "total_pages": 1}
                return {"type": "list", "data": [found], "pages": pages, "total_count": 1}
        per_page = request.int_arg("per_page", 15, MAX_PER_PAGE)
        page = request.int_arg("page", 1)
        order = request.arg("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "parameter_invalid", "order must be asc or desc")
        tag_id, segment_id = request.arg("tag_id"), request.arg("segment_id")
        with self.ws.lock:
            keys = store.index.iterate(None, None, order == "desc", None)
            records: Iterator[dict[str, Any]] = (store.record(i) for _, i in keys)
            if tag_id or segment_id:
                records = (
                    r
                    for r in records
                    if (not tag_id or tag_id in [t["id"] for t in r["tags"]["tags"]])
                    and (
                        not segment_id or segment_id in [s["id"] for s in r["segments"]["segments"]]
                    )
                )
                matching = list(records)
                total, data = len(matching), matching[(page - 1) * per_page : page * per_page]
            else:
                total = store.index.count(None, None)
                data = _take(_skip(records, (page - 1) * per_page), per_page)
        return {
            "type": "list",
            "data": data,
            "total_count": total,
            "pages": {
                "type": "pages",
                "page": page,
                "per_page": per_page,
                "total_pages": math.ceil(total / per_page),
            },
        }

    def _company_by(self, key: str, wanted: str) -> int:
        store = self.ws.kinds["companies"]
        match = (
            re.fullmatch(r"company-(\d+)", wanted)
            if key == "company_id"
            else re.search(r" (\d+)$", wanted)
        )
        i = int(match.group(1)) if match else None
        if i is None or not store.exists(i) or store.record(i)[key] != wanted:
            raise ApiError(404, "company_not_found", "Company Not Found")
        return i

    def company(self, request: Request, ident: str) -> dict[str, Any]:
        with self.ws.lock:
            store, i = self._record_or_404("companies", ident, "Company")
            return store.record(i)

    def company_segments(self, request: Request, ident: str) -> dict[str, Any]:
        with self.ws.lock:
            _, i = self._record_or_404("companies", ident, "Company")
        return {"type": "list", "data": self.ws.gen.company_segments_of(i)}

    def companies_scroll(self, request: Request) -> dict[str, Any]:
        """One scroll per workspace, idle expiry, the same scroll_param on every page, an
        empty page at the end, and optionally one 500 that forces a restart."""
        param = request.arg("scroll_param")
        faults = self.ws.options.faults
        with self.ws.lock:
            now = self.ws.now()
            scroll = self.scroll
            if scroll and now - scroll.last_used > faults.scroll_idle_seconds:
                scroll = self.scroll = None
            if param is None:
                if scroll is not None:
                    raise ApiError(
                        400,
                        "scroll_exists",
                        "scroll already exists for this workspace. Please ensure to "
                        "use the scroll parameter from the previous response",
                    )
                scroll = self.scroll = Scroll(param=str(uuid.uuid4()))
            elif scroll is None or scroll.param != param:
                raise ApiError(404, "not_found", "scroll parameter not found or expired")
            if (
                faults.scroll_500_after_pages is not None
                and not self.scroll_500_fired
                and scroll.pages >= faults.scroll_500_after_pages
            ):
                self.scroll_500_fired = True
                self.scroll = None
                raise ApiError(
                    500,
                    "server_error",
                    "Request failed due to an internal network "
                    "error. Please restart the scroll operation.",
                )
            store = self.ws.kinds["companies"]
            # Archived companies leave the scroll; the position walks all indexes, so an
            # archive during a scroll shifts nothing.
            indexes: list[int] = []
            while len(indexes) < SCROLL_PAGE_SIZE and scroll.position < store.count:
                if store.exists(scroll.position):
                    indexes.append(scroll.position)
                scroll.position += 1
            data = [store.record(i) for i in indexes]
            scroll.last_used = now
            scroll.pages += 1
            if not data:
                self.scroll = None  # the end: the scroll parameter expires
        return {
            "type": "list",
            "data": data,
            "pages": None,
            "total_count": None,
            "scroll_param": scroll.param,
        }


def merge_history_of(ws: Workspace, i: int) -> list[dict[str, Any]]:
    """The leads merged into contact i, newest first (2.16's `merge_history`)."""
    store = ws.kinds["contacts"]
    return [
        {
            "type": "merge_history",
            "source_contact_id": store.codec.encode(source),
            "source_contact_role": ws.gen.contact_role(source),
            "merged_at": at,
        }
        for source, at in reversed(store.merged_into.get(i, []))
    ]


# 2.16's conversation priorities for 2.15's two.
PRIORITIES_2_16 = {"priority": "high", "not_priority": "none"}


def as_of_2_16(value: Any) -> None:
    """Turn an answer built in 2.15's shape into 2.16's, in place: contact owner ids are
    strings, ticket assignee ids integers, conversation priorities one of five levels
    and an unassigned admin or team 0; articles name their parents only in `parent_ids`
    and carry 2.16's new fields."""
    if isinstance(value, list):
        for item in value:
            as_of_2_16(item)
        return
    if not isinstance(value, dict):
        return
    kind = value.get("type")
    if kind == "contact" and isinstance(value.get("owner_id"), int):
        value["owner_id"] = str(value["owner_id"])
    elif kind == "ticket":
        for key in ("admin_assignee_id", "team_assignee_id"):
            if isinstance(value.get(key), str):
                value[key] = int(value[key])
    elif kind == "article":
        article_as_of_2_16(value)
    elif kind == "conversation" and "priority" in value:
        value["priority"] = PRIORITIES_2_16.get(value["priority"], value["priority"])
        for key in ("admin_assignee_id", "team_assignee_id"):
            if value.get(key) is None:
                value[key] = 0
    for item in value.values():
        if isinstance(item, dict | list):
            as_of_2_16(item)


def article_as_of_2_16(article: dict[str, Any]) -> None:
    """2.16's `article_list_item`: no `parent_id`/`parent_type` (the parents are in
    `parent_ids`, as in 2.15), plus the markdown body, the staged-draft flags, the AI
    availabilities and who created and last updated it."""
    article.pop("parent_id", None)
    article.pop("parent_type", None)
    body = article.get("body") or ""
    article.update(
        body_markdown=re.sub(r"<[^>]+>", "", body) if body else None,
        has_unpublished_changes=False,
        draft_updated_at=None,
        ai_chatbot_availability=True,
        ai_copilot_availability=True,
        ai_sales_agent_availability=False,
        created_by_id=article.get("author_id"),
        updated_by_id=article.get("author_id"),
    )


# 2.15 data types -> 2.16 conversation attribute data types.
CONVERSATION_ATTRIBUTE_TYPES = {"float": "decimal", "date": "datetime"}


def conversation_attribute(attribute: dict[str, Any]) -> dict[str, Any]:
    """A conversation data attribute as 2.16's GET /conversations/attributes lists it."""
    data_type = attribute["data_type"]
    converted = {
        "type": "conversation_attribute",
        "id": attribute["id"],
        "name": attribute["name"],
        "description": attribute["description"],
        "data_type": CONVERSATION_ATTRIBUTE_TYPES.get(data_type, data_type),
        "required": False,
        "visible_to_team_ids": [],
        "archived": attribute["archived"],
        "created_at": attribute["created_at"],
        "updated_at": attribute["updated_at"],
        "admin_id": attribute["admin_id"],
    }
    if converted["data_type"] == "string":
        converted["multiline"] = False
    return converted


def _index_key(position: Any) -> Key | None:
    """The (updated_at, index) a cursor points after, refusing anything else."""
    if position is None:
        return None
    if not (
        isinstance(position, list)
        and len(position) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in position)
    ):
        raise ApiError(400, "parameter_invalid", "starting_after is not a valid cursor")
    return position[0], position[1]


def _take(items: Iterator[Any], n: int) -> list[Any]:
    out = []
    for item in items:
        out.append(item)
        if len(out) >= n:
            break
    return out


def _skip(items: Iterator[Any], n: int) -> Iterator[Any]:
    for _ in range(n):
        if next(items, None) is None:
            break
    return items


def _position_after(
    ordered: list[tuple[tuple[Any, ...], Any]], after: Any, descending: bool
) -> int:
    if after is None:
        return 0
    cursor = tuple(after)
    for position, (key, _) in enumerate(ordered):
        if (key < cursor) if descending else (key > cursor):
            return position
    return len(ordered)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
