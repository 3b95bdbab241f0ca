"""The analytics end models computed in Python from the sandbox's truth, independently of the
SQL in transform/, by the definitions in docs/analytics.md; and the rows dbt built, read back
for comparison.

Truth is in raw API form (UNIX seconds); every timestamp here is UNIX seconds, and so is every
timestamp read from the warehouse (`read_model`), so rows compare as plain values.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import snowflake.connector

Row = dict[str, Any]
Truth = Mapping[str, list[Row]]
CONTACT_AUTHORS = ("user", "lead")
TICKET_STATES = ("submitted", "in_progress", "waiting_on_customer", "resolved")


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def minutes(start: int | None, finish: int | None) -> int | None:
    """Whole minutes elapsed between two UNIX times."""
    if start is None or finish is None:
        return None
    return math.floor((finish - start) / 60)


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _joined(values: Iterable[str | None]) -> str | None:
    """Distinct values, sorted, comma-separated (LISTAGG DISTINCT ... ORDER BY)."""
    distinct = sorted({v for v in values if v is not None})
    return ",".join(distinct) if distinct else None


def _day(at: int) -> date:
    return datetime.fromtimestamp(at, UTC).date()


@dataclass(frozen=True)
class Event:
    """A conversation message: its source message (part_type "source") or a part."""

    part_type: str
    author_type: str | None
    author_id: str | None
    assigned_to_type: str | None
    assigned_to_id: str | None
    created_at: int

    @property
    def is_contact_reply(self) -> bool:
        return self.author_type in CONTACT_AUTHORS

    @property
    def is_admin_response(self) -> bool:
        return self.part_type == "comment" and self.author_type == "admin"

    @property
    def is_close(self) -> bool:
        return self.part_type == "close"

    @property
    def is_admin_close(self) -> bool:
        return self.is_close and self.author_type == "admin"

    @property
    def is_reopen(self) -> bool:
        return self.part_type == "open"

    @property
    def is_assignment(self) -> bool:
        return "assignment" in self.part_type

    @property
    def is_reopening(self) -> bool:
        """Opens a closed conversation again (for the backlog)."""
        return self.part_type in ("open", "assign_and_reopen")


def conversation_events(conversation: Row, parts: list[Row]) -> list[Event]:
    """The source message, then the parts by time and id."""
    author = conversation["source"].get("author") or {}
    events = [
        Event(
            "source",
            author.get("type"),
            _id(author.get("id")),
            None,
            None,
            conversation["created_at"],
        )
    ]
    for part in sorted(parts, key=lambda p: (p["created_at"], int(p["id"]))):
        part_author = part.get("author") or {}
        assigned = part.get("assigned_to") or {}
        events.append(
            Event(
                part["part_type"],
                part_author.get("type"),
                _id(part_author.get("id")),
                assigned.get("type"),
                _id(assigned.get("id")),
                part["created_at"],
            )
        )
    return events


def _first(events: list[Event], test: Callable[[Event], bool]) -> Event | None:
    return next((e for e in events if test(e)), None)


def _last(events: list[Event], test: Callable[[Event], bool]) -> Event | None:
    return next((e for e in reversed(events) if test(e)), None)


def _at(event: Event | None) -> int | None:
    return None if event is None else event.created_at


def _author(event: Event | None) -> str | None:
    return None if event is None else event.author_id


class AnalyticsTruth:
    """Every end model's expected rows for one workspace loaded into `source_relation`."""

    def __init__(
        self, truth: Truth, source_relation: str, notifications: Iterable[Row] = ()
    ) -> None:
        self.truth = truth
        self.source = source_relation
        # Webhook notifications loaded into the workspace's schema, as delivered.
        self.notifications = list(notifications)
        self.teams = {t["id"]: t for t in truth["teams"]}
        self.admins = {a["id"]: a for a in truth["admins"]}
        self.tags = {t["id"]: t for t in truth["tags"]}
        self.companies = {c["id"]: c for c in truth["companies"]}
        self.contacts = {c["id"]: c for c in truth["contacts"]}
        parts: dict[str, list[Row]] = defaultdict(list)
        for part in truth["conversation_parts"]:
            parts[part["conversation_id"]].append(part)
        self.parts = parts
        self.contact_company_names = self._contact_company_names()
        self.enhanced: dict[str, Row] = {}
        self.metrics: dict[str, Row] = {}
        for conversation in truth["conversations"]:
            events = conversation_events(conversation, parts.get(conversation["id"], []))
            enhanced = self._conversation_enhanced(conversation, events)
            self.enhanced[conversation["id"]] = enhanced
            self.metrics[conversation["id"]] = enhanced | self._conversation_figures(
                conversation, events, enhanced
            )

    def _current(self, stream: str) -> list[Row]:
        """Memberships read with the contact's current version."""
        return [
            row
            for row in self.truth[stream]
            if row["contact_id"] in self.contacts
            and row["contact_updated_at"] == self.contacts[row["contact_id"]]["updated_at"]
        ]

    def _contact_company_names(self) -> dict[str, str | None]:
        names: dict[str, list[str]] = defaultdict(list)
        for row in self._current("contact_companies"):
            if row["id"] in self.companies:
                names[row["contact_id"]].append(self.companies[row["id"]]["name"])
        return {contact: _joined(found) for contact, found in names.items()}

    def _team_name(self, team_id: str | None) -> str | None:
        team = self.teams.get(team_id) if team_id is not None else None
        return None if team is None else team["name"]

    # ----- conversations ----------------------------------------------------------------
    def _conversation_enhanced(self, c: Row, events: list[Event]) -> Row:
        parts = events[1:]
        admin_assignee, team_assignee = (
            _id(c.get("admin_assignee_id")),
            _id(c.get("team_assignee_id")),
        )
        rating = c.get("conversation_rating") or {}
        sla = c.get("sla_applied") or {}
        first_contact = _first(events, lambda e: e.is_contact_reply)
        team_events = [e for e in events if e.is_assignment and e.assigned_to_type == "team"]
        first_team = team_events[0].assigned_to_id if team_events else None
        last_team = team_events[-1].assigned_to_id if team_events else None
        return {
            "conversation_id": c["id"],
            "conversation_created_at": c["created_at"],
            "conversation_last_updated_at": c["updated_at"],
            "conversation_type": c["source"].get("type"),
            "all_conversation_tags": _joined(t["name"] for t in c["tags"]["tags"]),
            "conversation_initiated_type": c["source"].get("delivered_as"),
            "conversation_subject": c["source"].get("subject"),
            "conversation_assignee_type": "admin"
            if admin_assignee is not None
            else ("team" if team_assignee is not None else None),
            "conversation_author_type": (c["source"].get("author") or {}).get("type"),
            "first_close_by_admin_id": _author(_first(events, lambda e: e.is_admin_close)),
            "last_close_by_admin_id": _author(_last(events, lambda e: e.is_admin_close)),
            "first_close_by_author_id": _author(_first(events, lambda e: e.is_close)),
            "last_close_by_author_id": _author(_last(events, lambda e: e.is_close)),
            "first_contact_author_id": _author(first_contact),
            "last_contact_author_id": _author(_last(events, lambda e: e.is_contact_reply)),
            "conversation_state": c["state"],
            "is_read": c.get("read"),
            "waiting_since": c.get("waiting_since"),
            "snoozed_until": c.get("snoozed_until"),
            "sla_name": sla.get("sla_name"),
            "sla_status": sla.get("sla_status"),
            "all_conversation_admins": _joined(
                e.author_id for e in parts if e.author_type == "admin"
            ),
            "all_conversation_contacts": _joined(e.author_id for e in parts if e.is_contact_reply),
            "first_admin_close_at": _at(_first(events, lambda e: e.is_admin_close)),
            "last_admin_close_at": _at(_last(events, lambda e: e.is_admin_close)),
            "first_close_at": _at(_first(events, lambda e: e.is_close)),
            "last_close_at": _at(_last(events, lambda e: e.is_close)),
            "all_contact_company_names": self.contact_company_names.get(
                _author(first_contact) or ""
            ),
            "conversation_rating": rating.get("rating"),
            "conversation_remark": rating.get("remark"),
            "first_team_id": first_team,
            "last_team_id": last_team,
            "first_team_name": self._team_name(first_team),
            "last_team_name": self._team_name(last_team),
            "admin_assignee_id": admin_assignee,
            "team_assignee_id": team_assignee,
            "priority": c.get("priority"),
            "source_relation": self.source,
        }

    @staticmethod
    def _conversation_figures(c: Row, events: list[Event], row: Row) -> Row:
        created = c["created_at"]
        first_contact_reply = _at(_first(events, lambda e: e.is_contact_reply))
        first_assignment = _at(_first(events, lambda e: e.is_assignment))
        last_assignment = _at(_last(events, lambda e: e.is_assignment))
        first_response = _at(_first(events, lambda e: e.is_admin_response))
        stats = c.get("statistics") or {}

        def office_minutes(key: str) -> int | None:
            seconds = stats.get(key)
            return None if seconds is None else math.floor(seconds / 60)

        return {
            "count_reopens": sum(e.is_reopen for e in events),
            "count_total_parts": len(events) - 1,
            "count_assignments": sum(e.is_assignment for e in events),
            "first_contact_reply_at": first_contact_reply,
            "first_assignment_at": first_assignment,
            "time_to_first_assignment_minutes": minutes(created, first_assignment),
            "first_admin_response_at": first_response,
            "time_to_first_response_minutes": minutes(created, first_response),
            "time_to_admin_first_close_minutes": minutes(
                first_contact_reply, row["first_admin_close_at"]
            ),
            "time_to_first_close_minutes": minutes(first_contact_reply, row["first_close_at"]),
            "first_reopen_at": _at(_first(events, lambda e: e.is_reopen)),
            "last_assignment_at": last_assignment,
            "time_to_last_assignment_minutes": minutes(created, last_assignment),
            "last_contact_reply_at": _at(_last(events, lambda e: e.is_contact_reply)),
            "last_admin_response_at": _at(_last(events, lambda e: e.is_admin_response)),
            "last_reopen_at": _at(_last(events, lambda e: e.is_reopen)),
            "time_to_admin_last_close_minutes": minutes(
                first_contact_reply, row["last_admin_close_at"]
            ),
            "time_to_last_close_minutes": minutes(first_contact_reply, row["last_close_at"]),
            "time_to_first_assignment_office_hours_minutes": office_minutes("time_to_assignment"),
            "time_to_first_response_office_hours_minutes": office_minutes("time_to_admin_reply"),
            "time_to_first_close_office_hours_minutes": office_minutes("time_to_first_close"),
            "time_to_last_close_office_hours_minutes": office_minutes("time_to_last_close"),
            "median_time_to_reply_office_hours_minutes": office_minutes("median_time_to_reply"),
        }

    def conversation_metrics(self) -> list[Row]:
        return list(self.metrics.values())

    def conversation_enhanced(self) -> list[Row]:
        return list(self.enhanced.values())

    def _closed_summary(self, conversations: list[Row], with_assignments: bool) -> Row:
        summary: Row = {
            "total_conversations_closed": len(conversations),
            "average_conversation_parts": _mean(c["count_total_parts"] for c in conversations),
            "average_conversation_rating": _mean(c["conversation_rating"] for c in conversations),
            "median_conversations_reopened": _median(c["count_reopens"] for c in conversations),
            "median_time_to_first_response_time_minutes": _median(
                c["time_to_first_response_minutes"] for c in conversations
            ),
            "median_time_to_last_close_minutes": _median(
                c["time_to_last_close_minutes"] for c in conversations
            ),
        }
        if with_assignments:
            summary["median_conversation_assignments"] = _median(
                c["count_assignments"] for c in conversations
            )
        return summary

    def admin_metrics(self) -> list[Row]:
        closed: dict[str, list[Row]] = defaultdict(list)
        for c in self.metrics.values():
            if c["conversation_state"] == "closed" and c["last_close_by_admin_id"] is not None:
                closed[c["last_close_by_admin_id"]].append(c)
        rows = []
        for admin in self.truth["admins"]:
            teams = [t for t in self.truth["teams"] if int(admin["id"]) in t["admin_ids"]] or [None]
            for team in teams:
                rows.append(
                    {
                        "admin_id": admin["id"],
                        "admin_name": admin["name"],
                        "team_id": None if team is None else team["id"],
                        "team_name": None if team is None else team["name"],
                        "job_title": admin.get("job_title"),
                        **self._closed_summary(closed.get(admin["id"], []), with_assignments=True),
                        "source_relation": self.source,
                    }
                )
        return rows

    # ----- companies and contacts -------------------------------------------------------
    def company_enhanced(self) -> list[Row]:
        return [
            {
                "company_id": c["id"],
                "company_name": c.get("name"),
                "created_at": c.get("created_at"),
                "updated_at": c.get("updated_at"),
                "all_company_tags": _joined(
                    t["name"] for t in (c.get("tags") or {}).get("tags", [])
                ),
                "website": c.get("website"),
                "industry": c.get("industry"),
                "monthly_spend": c.get("monthly_spend"),
                "user_count": c.get("user_count"),
                "session_count": c.get("session_count"),
                "plan_id": _id((c.get("plan") or {}).get("id")),
                "plan_name": (c.get("plan") or {}).get("name"),
                "company_external_id": c.get("company_id"),
                "source_relation": self.source,
            }
            for c in self.truth["companies"]
        ]

    def company_metrics(self) -> list[Row]:
        companies_of: dict[str, set[str]] = defaultdict(set)
        for row in self._current("contact_companies"):
            if row["id"] in self.companies:
                companies_of[row["contact_id"]].add(row["id"])
        closed: dict[str, list[Row]] = defaultdict(list)
        for c in self.metrics.values():
            if c["conversation_state"] == "closed":
                for company in companies_of.get(c["first_contact_author_id"] or "", ()):
                    closed[company].append(c)
        return [
            row | self._closed_summary(closed.get(row["company_id"], []), with_assignments=False)
            for row in self.company_enhanced()
        ]

    def contact_enhanced(self) -> list[Row]:
        tags: dict[str, list[str]] = defaultdict(list)
        for row in self._current("contact_tags"):
            tags[row["contact_id"]].append(self.tags[row["id"]]["name"])
        return [
            {
                "contact_id": c["id"],
                "contact_name": c.get("name"),
                "admin_id": _id(c.get("owner_id")),
                "created_at": c.get("created_at"),
                "updated_at": c.get("updated_at"),
                "signed_up_at": c.get("signed_up_at"),
                "all_contact_tags": _joined(tags.get(c["id"], [])),
                "contact_role": c.get("role"),
                "contact_email": c.get("email"),
                "last_contacted_at": c.get("last_contacted_at"),
                "last_email_opened_at": c.get("last_email_opened_at"),
                "last_email_clicked_at": c.get("last_email_clicked_at"),
                "last_replied_at": c.get("last_replied_at"),
                "is_unsubscribed_from_emails": c.get("unsubscribed_from_emails"),
                "all_contact_company_names": self.contact_company_names.get(c["id"]),
                "external_id": c.get("external_id"),
                "location_country": (c.get("location") or {}).get("country"),
                "source_relation": self.source,
            }
            for c in self.truth["contacts"]
        ]

    # ----- help center ------------------------------------------------------------------
    def article_enhanced(self) -> list[Row]:
        collections = {c["id"]: c for c in self.truth["help_center_collections"]}
        help_centers = {h["id"]: h for h in self.truth["help_centers"]}
        rows = []
        for a in self.truth["articles"]:
            parent = _id(a.get("parent_id"))
            collection = collections.get(parent) if a.get("parent_type") == "collection" else None
            grandparent = collections.get(_id(collection.get("parent_id"))) if collection else None
            help_center = (
                help_centers.get(_id(collection.get("help_center_id"))) if collection else None
            )
            author = self.admins.get(_id(a.get("author_id")) or "")
            rows.append(
                {
                    "article_id": a["id"],
                    "article_title": a.get("title"),
                    "article_description": a.get("description"),
                    "article_body": a.get("body"),
                    "article_url": a.get("url"),
                    "article_type": a.get("type"),
                    "article_state": a.get("state"),
                    "default_locale": a.get("default_locale"),
                    "workspace_id": a.get("workspace_id"),
                    # The articles list the tap reads carries no statistics.
                    "statistics_views": None,
                    "statistics_conversations": None,
                    "statistics_reactions": None,
                    "statistics_happy_reaction_percentage": None,
                    "statistics_neutral_reaction_percentage": None,
                    "statistics_sad_reaction_percentage": None,
                    "collection_id": collection and collection["id"],
                    "collection_name": collection and collection.get("name"),
                    "collection_url": collection and collection.get("url"),
                    "collection_display_order": collection and collection.get("order"),
                    "parent_collection_id": grandparent and grandparent["id"],
                    "parent_collection_name": grandparent and grandparent.get("name"),
                    "author_id": _id(a.get("author_id")),
                    "author_name": author and author.get("name"),
                    "author_job_title": author and author.get("job_title"),
                    "help_center_id": help_center and help_center["id"],
                    "help_center_name": help_center and help_center.get("display_name"),
                    "is_help_center_website_enabled": help_center
                    and help_center.get("website_turned_on"),
                    "article_created_at": a.get("created_at"),
                    "article_updated_at": a.get("updated_at"),
                    "is_published": a.get("state") == "published",
                    "is_in_nested_section": collection is not None
                    and collection.get("parent_id") is not None,
                    "source_relation": self.source,
                }
            )
        return rows

    # ----- tickets ----------------------------------------------------------------------
    def ticket_metrics(self) -> list[Row]:
        parts: dict[str, list[Row]] = defaultdict(list)
        for part in self.truth["ticket_parts"]:
            parts[part["ticket_id"]].append(part)
        rows = []
        for t in self.truth["tickets"]:
            current = t["ticket_state"]["category"]
            changes = sorted(
                (
                    p
                    for p in parts.get(t["id"], [])
                    if p.get("ticket_state") is not None
                    and p.get("ticket_state") != p.get("previous_ticket_state")
                ),
                key=lambda p: (p["created_at"], int(p["id"])),
            )
            state = changes[0]["previous_ticket_state"] if changes else current
            stays = [(state, t["created_at"])] + [
                (p["ticket_state"], p["created_at"]) for p in changes
            ]
            seconds = dict.fromkeys(TICKET_STATES, 0)
            for (category, entered), (_, left) in itertools.pairwise(stays):
                seconds[category] = seconds.get(category, 0) + left - entered
            resolved_at = (
                max(entered for category, entered in stays if category == "resolved")
                if current == "resolved"
                else None
            )
            # Intercom says "0" for a ticket nobody is assigned to.
            team_id = _id(t.get("team_assignee_id")) if t.get("team_assignee_id") != "0" else None
            contact = (t.get("contacts") or {}).get("contacts") or [{}]
            rows.append(
                {
                    "ticket_id": t["id"],
                    "ticket_number": _id(t.get("ticket_id")),
                    "ticket_type_id": _id(t["ticket_type"]["id"]),
                    "ticket_type_name": t["ticket_type"].get("name"),
                    "ticket_category": t.get("category"),
                    "ticket_state_category": current,
                    "is_open": t.get("open"),
                    "admin_assignee_id": _id(t.get("admin_assignee_id"))
                    if t.get("admin_assignee_id") != "0"
                    else None,
                    "team_assignee_id": team_id,
                    "team_assignee_name": self._team_name(team_id),
                    "contact_id": contact[0].get("id"),
                    "all_contact_company_names": self.contact_company_names.get(
                        contact[0].get("id") or ""
                    ),
                    "created_at": t["created_at"],
                    "updated_at": t["updated_at"],
                    "resolved_at": resolved_at,
                    "time_to_resolution_minutes": minutes(t["created_at"], resolved_at),
                    "current_state_since": stays[-1][1],
                    **{
                        f"minutes_in_{category}": math.floor(seconds[category] / 60)
                        for category in TICKET_STATES
                    },
                    "count_reopens": sum(p["previous_ticket_state"] == "resolved" for p in changes),
                    "source_relation": self.source,
                }
            )
        return rows

    # ----- daily KPIs -------------------------------------------------------------------
    def daily_support_kpis(self) -> list[Row]:
        conversations = {c["id"]: c for c in self.truth["conversations"]}
        changes: dict[tuple[str | None, date], int] = defaultdict(int)
        days: set[date] = set()
        first_day: dict[str | None, date] = {}
        created: dict[tuple[str | None, date], list[Row]] = defaultdict(list)
        closed: dict[tuple[str | None, date], list[Row]] = defaultdict(list)
        rated: dict[tuple[str | None, date], list[int]] = defaultdict(list)

        def change(team: str | None, at: int, delta: int) -> None:
            day = _day(at)
            changes[team, day] += delta
            days.add(day)
            first_day[team] = min(first_day.get(team, day), day)

        for cid, m in self.metrics.items():
            c = conversations[cid]
            team = m["team_assignee_id"]
            change(team, c["created_at"], 1)
            for event in conversation_events(c, self.parts.get(cid, [])):
                if event.is_close or event.is_reopening:
                    change(team, event.created_at, -1 if event.is_close else 1)
            created[team, _day(c["created_at"])].append(m)
            if m["conversation_state"] == "closed" and m["last_close_at"] is not None:
                closed[team, _day(m["last_close_at"])].append(m)
            rating = c.get("conversation_rating") or {}
            if rating.get("rating") is not None:
                rated[team, _day(rating["created_at"])].append(rating["rating"])
                days.add(_day(rating["created_at"]))
        rows = []
        for team, since in first_day.items():
            backlog = 0
            for day in sorted(d for d in days if d >= since):
                backlog += changes.get((team, day), 0)
                ratings = rated.get((team, day), [])
                rows.append(
                    {
                        "date_day": day,
                        "team_id": team,
                        "team_name": self._team_name(team) if team is not None else "no team",
                        "conversations_created": len(created.get((team, day), [])),
                        "conversations_closed": len(closed.get((team, day), [])),
                        "median_time_to_first_response_minutes": _median(
                            m["time_to_first_response_minutes"]
                            for m in created.get((team, day), [])
                        ),
                        "median_time_to_close_minutes": _median(
                            m["time_to_last_close_minutes"] for m in closed.get((team, day), [])
                        ),
                        "rated_conversations": len(ratings),
                        "average_rating": _mean(ratings),
                        "share_rated_4_or_5": _mean(1 if r >= 4 else 0 for r in ratings),
                        "open_backlog": backlog,
                        "source_relation": self.source,
                    }
                )
        return rows

    def conversations_live(self) -> list[Row]:
        """Each conversation as polled, or as the newest webhook notification about it says
        when that item is newer than the poll."""
        newest: dict[str, Row] = {}
        for notification in self.notifications:
            item = notification["data"]["item"]
            if item.get("type") == "conversation" and (
                item["id"] not in newest or item["updated_at"] >= newest[item["id"]]["updated_at"]
            ):
                newest[item["id"]] = item
        rows = []
        for m in self.metrics.values():
            item = newest.get(m["conversation_id"])
            if item is None or item["updated_at"] <= m["conversation_last_updated_at"]:
                rows.append(
                    {
                        "conversation_id": m["conversation_id"],
                        "as_of": m["conversation_last_updated_at"],
                        "freshness_source": "poll",
                        "conversation_state": m["conversation_state"],
                        "admin_assignee_id": m["admin_assignee_id"],
                        "team_assignee_id": m["team_assignee_id"],
                        "last_contact_reply_at": m["last_contact_reply_at"],
                        "last_admin_response_at": m["last_admin_response_at"],
                        "source_relation": self.source,
                    }
                )
                continue
            stats = item.get("statistics") or {}
            rows.append(
                {
                    "conversation_id": m["conversation_id"],
                    "as_of": item["updated_at"],
                    "freshness_source": "webhook",
                    "conversation_state": item.get("state"),
                    "admin_assignee_id": _id(item.get("admin_assignee_id")),
                    "team_assignee_id": _id(item.get("team_assignee_id")),
                    "last_contact_reply_at": _newest(
                        stats.get("last_contact_reply_at"), m["last_contact_reply_at"]
                    ),
                    "last_admin_response_at": _newest(
                        stats.get("last_admin_reply_at"), m["last_admin_response_at"]
                    ),
                    "source_relation": self.source,
                }
            )
        return rows


def _newest(*times: int | None) -> int | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


# End model -> (its key columns, the method giving its expected rows).
END_MODELS: dict[str, tuple[tuple[str, ...], Callable[[AnalyticsTruth], list[Row]]]] = {
    "intercom__conversation_enhanced": (("conversation_id",), AnalyticsTruth.conversation_enhanced),
    "intercom__conversation_metrics": (("conversation_id",), AnalyticsTruth.conversation_metrics),
    "intercom__admin_metrics": (("admin_id", "team_id"), AnalyticsTruth.admin_metrics),
    "intercom__company_enhanced": (("company_id",), AnalyticsTruth.company_enhanced),
    "intercom__company_metrics": (("company_id",), AnalyticsTruth.company_metrics),
    "intercom__contact_enhanced": (("contact_id",), AnalyticsTruth.contact_enhanced),
    "intercom__article_enhanced": (("article_id",), AnalyticsTruth.article_enhanced),
    "intercom__ticket_metrics": (("ticket_id",), AnalyticsTruth.ticket_metrics),
    "intercom__daily_support_kpis": (("date_day", "team_id"), AnalyticsTruth.daily_support_kpis),
    "intercom__conversations_live": (("conversation_id",), AnalyticsTruth.conversations_live),
}


def read_model(conn: snowflake.connector.SnowflakeConnection, schema: str, model: str) -> list[Row]:
    """A model's rows, column names lower-cased; timestamps as UNIX seconds (read as epoch
    numbers in SQL: the local Snowflake returns a NULL timestamp as 1970-01-01)."""
    cur = conn.cursor()
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, model.upper()),
    )
    columns = cur.fetchall()
    assert columns, f"{schema}.{model} does not exist"
    select = ", ".join(
        f'DATE_PART(EPOCH_SECOND, "{name}") AS "{name}"'
        if data_type.startswith("TIMESTAMP")
        else f'"{name}"'
        for name, data_type in columns
    )
    cur.execute(f'SELECT {select} FROM "{schema}"."{model.upper()}"')
    names = [d[0].lower() for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected) == bool(actual) and type(expected) is type(actual)
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return math.isclose(float(expected), float(actual), rel_tol=1e-6, abs_tol=1e-6)
    return expected == actual


def model_differences(expected: list[Row], actual: list[Row], keys: tuple[str, ...]) -> list[str]:
    """Rows missing or extra, and every column (of the expected ones) that differs."""

    def key(row: Row) -> tuple[Any, ...]:
        return (row["source_relation"], *(row[k] for k in keys))

    wanted = {key(r): r for r in expected}
    got = {key(r): r for r in actual}
    problems = [f"missing row {k}" for k in wanted.keys() - got.keys()]
    problems += [f"unexpected row {k}" for k in got.keys() - wanted.keys()]
    for k in wanted.keys() & got.keys():
        for column, value in wanted[k].items():
            if column not in got[k]:
                problems.append(f"{k}: no column {column}")
            elif not _same(value, got[k][column]):
                problems.append(f"{k}: {column} expected {value!r}, got {got[k][column]!r}")
    return sorted(problems)
