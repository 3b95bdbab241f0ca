"""Conversations, parts, tickets and ratings hang together as Intercom's do.

Everything here is computed from the sandbox's truth (the API's shapes) by the rules of
docs/sandbox.md ("Conversation lifecycles and statistics"), written again from the
documentation: nothing is imported from testbed.intercom.lifecycle, so a mistake there
shows up as a disagreement here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from testbed.intercom import RunningSandbox, SandboxOptions, run_sandbox

DAY = 86400
PARTS_SHOWN = 500
CONTACT_TYPES = {"user", "lead"}
ASSIGNMENTS = {"assignment", "default_assignment", "assign_and_reopen"}
REOPENS = {"open", "assign_and_reopen"}
SLA_TARGETS = {"VIP 15 minutes": 900, "Priority 1 hour": 3600, "Standard 4 hours": 14400}
TICKET_STATES = ["submitted", "in_progress", "waiting_on_customer", "resolved"]
# A ticket `update` is an admin moving the ticket on (a resolved one is reopened).
TICKET_UPDATE = {
    "submitted": "in_progress",
    "in_progress": "waiting_on_customer",
    "waiting_on_customer": "resolved",
    "resolved": "in_progress",
}
# State after a part, by part type, from the state before it (None: any).
STATE_CHANGES = {
    "close": ({"open", "snoozed"}, "closed"),
    "open": ({"closed"}, "open"),
    "assign_and_reopen": ({"closed"}, "open"),
    "snoozed": ({"open"}, "snoozed"),
    "unsnoozed": ({"snoozed"}, "open"),
    "timer_unsnooze": ({"snoozed"}, "open"),
}
OPTIONS = {"contacts": 300, "conversations": 400, "tickets": 120, "big_conversations": 3}


# ----- an independent reading of the rules ---------------------------------------------------
def office_seconds(start: int, end: int) -> int:
    """Seconds of Monday-Friday 09:00-17:00 UTC between two times, day by day."""
    total = 0
    day = datetime.fromtimestamp(start, UTC).replace(hour=0, minute=0, second=0)
    while day.timestamp() < end:
        if day.weekday() < 5:
            opens = int((day + timedelta(hours=9)).timestamp())
            closes = int((day + timedelta(hours=17)).timestamp())
            total += max(min(end, closes) - max(start, opens), 0)
        day += timedelta(days=1)
    return total


def by_contact(conversation: dict[str, Any]) -> bool:
    return conversation["source"]["author"]["type"] in CONTACT_TYPES


def from_contact(part: dict[str, Any]) -> bool:
    return part["author"]["type"] in CONTACT_TYPES


def admin_reply(part: dict[str, Any]) -> bool:
    return part["part_type"] == "comment" and part["author"]["type"] == "admin"


def expected_statistics(conversation: dict[str, Any], parts: list[dict]) -> dict[str, Any]:
    """Intercom's statistics from all of a conversation's parts (None: no value)."""
    created = conversation["created_at"]
    contact_positions = [k for k, p in enumerate(parts) if from_contact(p)]
    if by_contact(conversation):
        start: int | None = -1  # the source message is the first contact reply
        first_contact: int | None = created
    elif contact_positions:
        start = contact_positions[0]
        first_contact = parts[start]["created_at"]
    else:
        start = first_contact = None
    after = parts[start + 1 :] if start is not None else []
    replies = [k for k, p in enumerate(after) if admin_reply(p)]
    assignments = [k for k, p in enumerate(after) if p["part_type"] in ASSIGNMENTS]
    closes = [p for p in after if p["part_type"] == "close"]
    all_closes = [p for p in parts if p["part_type"] == "close"]
    first_reply = after[replies[0]]["created_at"] if replies else None
    before_reply = [k for k in assignments if not replies or k < replies[0]]
    since_assignment = [k for k in replies if assignments and k > assignments[-1]]
    first_close = closes[0]["created_at"] if closes else None
    last_close = all_closes[-1]["created_at"] if all_closes else None
    first_assignment = after[assignments[0]]["created_at"] if assignments else None

    def since_first_contact(end: int | None) -> int | None:
        return None if end is None or first_contact is None else office_seconds(first_contact, end)

    waits = []
    waiting = created if by_contact(conversation) else None
    for part in parts:
        if from_contact(part) and waiting is None:
            waiting = part["created_at"]
        elif admin_reply(part):
            if waiting is not None:
                waits.append(office_seconds(waiting, part["created_at"]))
            waiting = None
        elif part["part_type"] == "close":
            waiting = None
    waits.sort()
    half = len(waits) // 2
    median = None
    if waits:
        median = waits[half] if len(waits) % 2 else (waits[half - 1] + waits[half]) // 2
    contact_times = [parts[k]["created_at"] for k in contact_positions]
    admin_replies = [p["created_at"] for p in parts if admin_reply(p)]
    return {
        "time_to_assignment": since_first_contact(
            after[before_reply[-1]]["created_at"] if before_reply else None
        ),
        "time_to_admin_reply": since_first_contact(first_reply),
        "time_to_first_close": since_first_contact(first_close),
        "time_to_last_close": since_first_contact(last_close if first_close else None),
        "median_time_to_reply": median,
        "first_contact_reply_at": first_contact,
        "first_assignment_at": first_assignment,
        "first_admin_reply_at": first_reply,
        "first_close_at": first_close,
        "last_assignment_at": after[assignments[-1]]["created_at"] if assignments else None,
        "last_assignment_admin_reply_at": after[since_assignment[0]]["created_at"]
        if since_assignment
        else None,
        "last_contact_reply_at": contact_times[-1]
        if contact_times
        else (created if by_contact(conversation) else None),
        "last_admin_reply_at": admin_replies[-1] if admin_replies else None,
        "last_close_at": last_close,
        "last_closed_by_id": all_closes[-1]["author"]["id"] if all_closes else None,
        "count_reopens": sum(p["part_type"] in REOPENS for p in after),
        "count_assignments": len(assignments),
        "count_conversation_parts": len(parts),
        "handling_time": last_close - first_assignment
        if last_close is not None
        and first_assignment is not None
        and last_close >= first_assignment
        else None,
        "waiting_since": waiting if parts and parts[-1]["state"] != "closed" else None,
    }


def fold_assignees(parts: list[dict]) -> tuple[str | None, str | None]:
    """(admin id, team id) as the assignments leave them: a team assignment leaves the
    conversation unassigned within the team; an admin assignment keeps the team."""
    admin = team = None
    for part in parts:
        target = part["assigned_to"]
        if target is None:
            continue
        if target["type"] == "team":
            admin, team = None, target["id"]
        else:
            admin = target["id"]
    return admin, team


# ----- the workspace -------------------------------------------------------------------------
class Workspace:
    """One truth read: conversations and tickets with their parts, by id."""

    def __init__(self, sb: RunningSandbox) -> None:
        truth = sb.client.truth(["conversations", "conversation_parts", "tickets", "ticket_parts"])
        streams = truth["streams"]
        self.conversations = streams["conversations"]
        self.tickets = streams["tickets"]
        self.parts: dict[str, list[dict]] = defaultdict(list)
        for part in streams["conversation_parts"]:
            self.parts[part["conversation_id"]].append(part)
        self.ticket_parts: dict[str, list[dict]] = defaultdict(list)
        for part in streams["ticket_parts"]:
            self.ticket_parts[part["ticket_id"]].append(part)

    def complete(self) -> Iterator[tuple[dict, list[dict]]]:
        """Conversations whose parts the API shows in full (at most 500)."""
        for conversation in self.conversations:
            if conversation["statistics"]["count_conversation_parts"] <= PARTS_SHOWN:
                yield conversation, self.parts[conversation["id"]]


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    with run_sandbox(SandboxOptions(**OPTIONS)) as sb:
        yield Workspace(sb)


@pytest.fixture(scope="module")
def changed() -> Iterator[tuple[Workspace, Workspace, dict[str, list[str]]]]:
    """A workspace before and after rounds of changes: parts appended to conversations
    (closed ones among them), conversation updates, ticket updates and new ticket parts."""
    with run_sandbox(SandboxOptions(**OPTIONS)) as sb:
        before = Workspace(sb)
        closed = [c["id"] for c in before.conversations if c["state"] == "closed"][:120]
        changes: dict[str, list[str]] = defaultdict(list)
        for _ in range(3):
            changes["add_parts"] += sb.client.change("conversations", "add_parts", ids=closed)
            changes["add_parts"] += sb.client.change("conversations", "add_parts", 40)
            changes["update"] += sb.client.change("conversations", "update", 20)
            changes["ticket_update"] += sb.client.change("tickets", "update", 30)
            changes["ticket_parts"] += sb.client.change("tickets", "add_parts", 20)
            sb.client.advance_clock(3 * 3600)
        yield before, Workspace(sb), changes


# ----- the checks, on any workspace ---------------------------------------------------------
def check_states(ws: Workspace) -> int:
    """Each part's state follows from the one before it and its type; the conversation's
    state, open, snoozed_until and waiting_since from its parts. Returns the parts seen."""
    seen = 0
    for conversation in ws.conversations:
        parts = ws.parts[conversation["id"]]
        total = conversation["statistics"]["count_conversation_parts"]
        assert len(parts) == min(total, PARTS_SHOWN)
        state = "open" if total <= PARTS_SHOWN else parts[0]["state"]
        for part in parts[0 if total <= PARTS_SHOWN else 1 :]:
            allowed, after = STATE_CHANGES.get(part["part_type"], (None, None))
            where = f"{conversation['id']} part {part['id']} {part['part_type']}"
            if after is None:
                assert part["state"] == state, where
            else:
                assert allowed is not None and state in allowed and part["state"] == after, where
            if part["part_type"] == "open" and from_contact(part):
                assert part["body"], f"{where}: a contact's reopening reply carries its message"
            state = part["state"]
            seen += 1
        assert conversation["state"] == state, conversation["id"]
        assert conversation["open"] == (state != "closed")
        snoozes = [p for p in parts if p["part_type"] == "snoozed"]
        if state == "snoozed":
            assert conversation["snoozed_until"] > snoozes[-1]["created_at"]
        else:
            assert conversation["snoozed_until"] is None
        if state == "closed":
            assert conversation["waiting_since"] is None
    return seen


def check_assignees(ws: Workspace) -> int:
    """Assignees from the last assignments; teammates = admins who wrote a part (or the
    source). Returns the conversations with an assignee."""
    assigned = 0
    for conversation, parts in ws.complete():
        admin, team = fold_assignees(parts)
        assert conversation["admin_assignee_id"] == (int(admin) if admin else None)
        assert conversation["team_assignee_id"] == (int(team) if team else None)
        assigned += admin is not None or team is not None
        writers = [p["author"]["id"] for p in parts if p["author"]["type"] == "admin"]
        source = conversation["source"]["author"]
        if source["type"] == "admin":
            writers.insert(0, source["id"])
        teammates = [t["id"] for t in conversation["teammates"]["teammates"]]
        assert teammates == list(dict.fromkeys(writers)), conversation["id"]
    return assigned


def check_statistics(ws: Workspace) -> int:
    compared = 0
    for conversation, parts in ws.complete():
        expected = expected_statistics(conversation, parts)
        assert conversation["waiting_since"] == expected.pop("waiting_since"), conversation["id"]
        served = {k: v for k, v in conversation["statistics"].items() if k in expected}
        assert served == {k: v for k, v in expected.items() if v is not None}, conversation["id"]
        first = conversation["first_contact_reply"]
        assert (first and first["created_at"]) == expected["first_contact_reply_at"]
        compared += 1
    return compared


def check_ratings(ws: Workspace) -> int:
    rated = 0
    for conversation in ws.conversations:
        rating = conversation["conversation_rating"]
        if rating is None:
            continue
        rated += 1
        statistics = conversation["statistics"]
        assert "first_close_at" in statistics, "rated but never closed"
        assert rating["created_at"] == statistics["first_close_at"]
        assert rating["created_at"] <= rating["updated_at"] <= conversation["updated_at"]
        assert 1 <= rating["rating"] <= 5
        contacts = [c["id"] for c in conversation["contacts"]["contacts"]]
        assert rating["contact"]["id"] == contacts[0]
        assert rating["teammate"]["type"] == "admin"
    return rated


def check_slas(ws: Workspace) -> Counter:
    statuses: Counter = Counter()
    for conversation, parts in ws.complete():
        sla = conversation["sla_applied"]
        if sla is None:
            continue
        assert sla["type"] == "conversation_sla_summary" and by_contact(conversation)
        first_reply = next((k for k, p in enumerate(parts) if admin_reply(p)), None)
        first_close = next((k for k, p in enumerate(parts) if p["part_type"] == "close"), None)
        if first_close is not None and (first_reply is None or first_close < first_reply):
            status = "cancelled"
        elif first_reply is None:
            status = "active"
        else:
            took = office_seconds(conversation["created_at"], parts[first_reply]["created_at"])
            status = "hit" if took <= SLA_TARGETS[sla["sla_name"]] else "missed"
        assert sla["sla_status"] == status, conversation["id"]
        statuses[status] += 1
    return statuses


def check_tickets(ws: Workspace) -> Counter:
    """Each ticket's parts chain its states from submitted to the ticket's state; state
    updates change it, nothing else does; assignees from the assignments ("0": none)."""
    changes: Counter = Counter()
    for ticket in ws.tickets:
        parts = ws.ticket_parts[ticket["id"]]
        state = "submitted"
        for part in parts:
            assert part["previous_ticket_state"] == state, ticket["id"]
            if part["part_type"] == "ticket_state_updated_by_admin":
                assert part["ticket_state"] != state, ticket["id"]
                changes[(state, part["ticket_state"])] += 1
            else:
                assert part["ticket_state"] == state, ticket["id"]
            assert part["author"]["type"] in {"admin", "bot", "user"}
            state = part["ticket_state"]
        assert ticket["ticket_state"]["category"] == state
        assert ticket["open"] == (state != "resolved")
        admin, team = fold_assignees(parts)
        assert (ticket["admin_assignee_id"], ticket["team_assignee_id"]) == (
            admin or "0",
            team or "0",
        )
    return changes


# ----- tests ---------------------------------------------------------------------------------
def test_office_hours_of_the_independent_reading():
    friday_4pm = int(datetime(2024, 5, 3, 16, tzinfo=UTC).timestamp())
    monday_10am = int(datetime(2024, 5, 6, 10, tzinfo=UTC).timestamp())
    assert office_seconds(friday_4pm, monday_10am) == 2 * 3600
    assert office_seconds(friday_4pm + 3600, friday_4pm + 2 * DAY) == 0
    assert office_seconds(monday_10am, monday_10am + 7 * DAY) == 5 * 8 * 3600


def test_each_part_state_follows_the_one_before(workspace):
    assert check_states(workspace) > 1000


def test_assignees_and_teammates_follow_the_parts(workspace):
    assert check_assignees(workspace) > 100


def test_statistics_equal_an_independent_walk_of_the_parts(workspace):
    assert check_statistics(workspace) > 300


def test_ratings_only_after_a_close(workspace):
    assert check_ratings(workspace) > 30
    remarks = [
        c["conversation_rating"]["remark"]
        for c in workspace.conversations
        if c["conversation_rating"]
    ]
    assert any(remarks) and not all(remarks)


def test_sla_statuses_follow_the_first_admin_reply(workspace):
    statuses = check_slas(workspace)
    assert set(statuses) == {"hit", "missed", "cancelled", "active"}, statuses


def test_ticket_states_chain_from_submitted(workspace):
    changes = check_tickets(workspace)
    assert changes[("resolved", "in_progress")] > 0, "no ticket was reopened"
    categories = Counter(t["ticket_state"]["category"] for t in workspace.tickets)
    assert set(categories) == set(TICKET_STATES), categories


def test_big_conversations_count_every_part(workspace):
    big = [c for c in workspace.conversations if c["statistics"]["count_conversation_parts"] > 500]
    assert len(big) == OPTIONS["big_conversations"]
    earlier = 0
    for conversation in big:
        parts = workspace.parts[conversation["id"]]
        statistics = conversation["statistics"]
        assert statistics["count_conversation_parts"] > len(parts) == PARTS_SHOWN
        # The earliest figures come from parts the API no longer shows (the first
        # conversation of the history has all its parts in one second).
        assert statistics["first_contact_reply_at"] <= parts[0]["created_at"]
        earlier += statistics["first_contact_reply_at"] < parts[0]["created_at"]
    assert earlier


def test_the_workspace_has_every_kind_of_lifecycle(workspace):
    parts = [p for ps in workspace.parts.values() for p in ps]
    types = Counter(p["part_type"] for p in parts)
    for part_type in [
        "comment",
        "note",
        "assignment",
        "default_assignment",
        "assign_and_reopen",
        "close",
        "open",
        "snoozed",
        "unsnoozed",
        "timer_unsnooze",
    ]:
        assert types[part_type] > 0, part_type
    authors = Counter((p["part_type"], p["author"]["type"]) for p in parts)
    for pair in [
        ("comment", "user"),
        ("comment", "lead"),
        ("comment", "admin"),
        ("comment", "bot"),
        ("note", "admin"),
        ("close", "admin"),
        ("close", "bot"),
        ("open", "user"),
        ("open", "admin"),
    ]:
        assert authors[pair] > 0, pair
    conversations = workspace.conversations
    states = Counter(c["state"] for c in conversations)
    assert min(states["open"], states["snoozed"], states["closed"]) > 0, states
    assert any(c["statistics"]["count_reopens"] > 1 for c in conversations)
    assert any("first_admin_reply_at" not in c["statistics"] for c in conversations)
    initiated = Counter(c["source"]["delivered_as"] for c in conversations)
    assert 0 < initiated["admin_initiated"] < initiated["customer_initiated"]
    team_then_admin = 0
    for conversation, conversation_parts in workspace.complete():
        targets = [p["assigned_to"]["type"] for p in conversation_parts if p["assigned_to"]]
        team_then_admin += targets[:1] == ["team"] and "admin" in targets
        authors_of = {p["author"]["id"] for p in conversation_parts if from_contact(p)}
        if len(authors_of) > 1:
            assert len(conversation["contacts"]["contacts"]) == 2
    assert team_then_admin > 10
    assert any(
        len({p["author"]["id"] for p in ps if from_contact(p)}) > 1
        for ps in workspace.parts.values()
    )
    assert any(c["ai_agent_participated"] for c in conversations)


def test_changes_keep_every_rule(changed):
    before, after, changes = changed
    assert check_states(after) and check_assignees(after) and check_statistics(after)
    check_ratings(after)
    check_slas(after)
    check_tickets(after)
    # Appending never changes the parts before.
    for conversation_id, parts in before.parts.items():
        if len(parts) < PARTS_SHOWN:
            assert after.parts[conversation_id][: len(parts)] == parts


def test_a_contact_reply_reopens_a_closed_conversation(changed):
    before, after, changes = changed
    was = {c["id"]: c for c in before.conversations}
    reopened = 0
    for conversation, parts in after.complete():
        old = was[conversation["id"]]
        added = parts[old["statistics"]["count_conversation_parts"] :]
        if old["state"] != "closed" or not added or not from_contact(added[0]):
            continue
        assert added[0]["part_type"] == "open" and added[0]["state"] == "open"
        # Reopens count after the first contact reply (which this may be).
        if "first_contact_reply_at" in old["statistics"]:
            reopens = conversation["statistics"]["count_reopens"]
            assert reopens > old["statistics"]["count_reopens"]
        reopened += 1
    assert reopened > 5


def test_ticket_updates_are_admin_state_updates(changed):
    before, after, changes = changed
    was = {t["id"]: t for t in before.tickets}
    updated = Counter(changes["ticket_update"])
    appended = Counter(changes["ticket_parts"])
    checked = 0
    for ticket in after.tickets:
        old_parts = before.ticket_parts[ticket["id"]]
        parts = after.ticket_parts[ticket["id"]]
        assert parts[: len(old_parts)] == old_parts
        added = parts[len(old_parts) :]
        assert len(added) == updated[ticket["id"]] + appended[ticket["id"]]
        if updated[ticket["id"]] and not appended[ticket["id"]]:
            state = was[ticket["id"]]["ticket_state"]["category"]
            for part in added:
                assert part["part_type"] == "ticket_state_updated_by_admin"
                assert part["author"]["type"] == "admin"
                state = TICKET_UPDATE[state]
                assert part["ticket_state"] == state
            checked += 1
    assert checked > 20
