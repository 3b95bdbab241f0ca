"""Conversation and ticket lifecycles: parts walked through Intercom's states, and what the
records derive from them (state, assignees, statistics, rating, SLA, ticket state).

A walk is a pure function of (seed, record index, the part times the store owns): part n
is chosen from the state the parts before it left and from draws keyed by (seed, index, n),
so appending parts (the control API's `add_parts` and ticket `update`) never changes the
parts before them. Each record has a plan drawn once from (seed, index): who the contact
is, who started the conversation, how it is routed, and the outcome its base parts head
for; the last base part is steered to that outcome, parts appended later follow the state
machine freely. The rules are documented in docs/sandbox.md ("Conversation lifecycles and
statistics"); tests/sandbox/test_lifecycles.py checks them with a walk of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from testbed.intercom.det import mix64, stable_hash

DAY = 86400
T = TypeVar("T")
UNIT = 2.0**-64

# The workspace's office hours: Monday to Friday, 09:00-17:00 UTC, no holidays.
OFFICE_OPENS = 9 * 3600
OFFICE_CLOSES = 17 * 3600
OFFICE_DAY = OFFICE_CLOSES - OFFICE_OPENS
WORKDAYS = 5
# 1970-01-01 was a Thursday: days since the epoch + 3 count from Monday 1969-12-29, of
# which Monday to Wednesday (3 workdays) come before the epoch.
EPOCH_WEEKDAY = 3

# Conversation part types by role (Intercom's names).
ASSIGNMENT_TYPES = frozenset({"assignment", "default_assignment", "assign_and_reopen"})
REOPEN_TYPES = frozenset({"open", "assign_and_reopen"})
# SLAs the workspace applies to customer-initiated conversations: name -> first-response
# target in office-hours seconds.
SLAS = {"VIP 15 minutes": 900, "Priority 1 hour": 3600, "Standard 4 hours": 4 * 3600}
SNOOZE_DELAYS = [3600, 4 * 3600, DAY, 3 * DAY, 7 * DAY]
# A conversation or ticket whose last base part is this close to the anchor is "recent":
# its outcome may still be open or snoozed (older ones are mostly settled).
RECENT = 21 * DAY
REMARKS = ["", "", "", "Quick and helpful, thanks!", "Took a while.", "Solved it.", "Meh."]

# Conversation outcomes the base parts head for.
RESOLVED = "resolved"  # closed by an admin
BOT_RESOLVED = "bot_resolved"  # answered and closed by the bot, no admin reply
WAITING = "waiting"  # still open
UNANSWERED = "unanswered"  # still open, no admin reply
SNOOZED = "snoozed"  # snoozed until after the anchor

TICKET_FLOW = ["submitted", "in_progress", "waiting_on_customer", "resolved"]
# Where an admin's state update moves a ticket (ticket `update` appends one).
TICKET_ADVANCE = {
    "submitted": "in_progress",
    "in_progress": "waiting_on_customer",
    "waiting_on_customer": "resolved",
    "resolved": "in_progress",
}


def _office_before(t: int) -> int:
    """Office seconds from the epoch to t."""
    days, second = divmod(t, DAY)
    weeks, weekday = divmod(days + EPOCH_WEEKDAY, 7)
    workdays = weeks * WORKDAYS + min(weekday, WORKDAYS) - EPOCH_WEEKDAY
    today = min(max(second - OFFICE_OPENS, 0), OFFICE_DAY) if weekday < WORKDAYS else 0
    return workdays * OFFICE_DAY + today


def office_seconds(start: int, end: int) -> int:
    """Office-hours seconds between two times (0 when end is not after start)."""
    return max(_office_before(end) - _office_before(start), 0)


class Draws:
    """Uniform draws from one 64-bit key: a record's walk makes several per part, and a
    seeded random.Random costs several times more to set up."""

    __slots__ = ("_x",)

    def __init__(self, key: int) -> None:
        self._x = key

    def unit(self) -> float:
        self._x = x = mix64(self._x)
        return x * UNIT

    def below(self, n: int) -> int:
        return min(int(self.unit() * n), n - 1)

    def chance(self, p: float) -> bool:
        return self.unit() < p

    def pick(self, options: Sequence[tuple[float, T]]) -> T:
        """One of the options, by weight."""
        x = self.unit() * sum(weight for weight, _ in options)
        for weight, name in options:
            if x < weight:
                return name
            x -= weight
        return next(name for weight, name in reversed(options) if weight > 0)  # rounding


class PartClock:
    """A record's parts as the store keeps them: `base` parts between its creation and
    `last` (the last of them then), and the times of those appended since. The times are
    worked out only for a walk (a memoised walk needs the number of parts alone)."""

    __slots__ = ("base", "count", "created", "extra", "i", "kind", "last", "seed")

    def __init__(
        self, seed: int, kind: str, i: int, created: int, last: int, base: int, extra: list[int]
    ) -> None:
        self.seed, self.kind, self.i = seed, kind, i
        self.created, self.last, self.base, self.extra = created, last, base, extra
        self.count = base + len(extra)

    def times(self) -> list[int]:
        """The parts' times: the base ones with uneven gaps (mostly short, a few long)."""
        key = stable_hash(self.seed, "part-gaps", self.kind, self.i)
        cumulative = []
        total = 0.0
        for n in range(self.base):
            total += 0.2 + 8 * (mix64(key ^ n) * UNIT) ** 6  # a few gaps are far longer
            cumulative.append(total)
        span = self.last - self.created
        base = [self.created + int(span * c / total) for c in cumulative[:-1]] + [self.last]
        return base + self.extra


# ----- conversations ---------------------------------------------------------------------------
class Part(NamedTuple):
    """One conversation part as walked: `author` is "contact", "admin" or "bot" and `who`
    the contact or admin index (0 for the bot); `assigned` is ("admin"|"team", index)."""

    at: int
    part_type: str
    author: str
    who: int
    state: str  # the conversation's state after the part
    assigned: tuple[str, int] | None
    body: bool


class Plan(NamedTuple):
    """What a conversation is about to be, drawn once from (seed, index)."""

    contact: int | None
    second_contact: int | None
    admin_initiated: bool
    admin: int  # the admin who starts an admin-initiated one; the usual assignee
    team: int
    routing: str  # "bot" (the bot answers first), "team" (team, then an admin) or "direct"
    outcome: str
    rated: bool
    rating: int
    remark: str
    rating_delay: int  # seconds from the rating's request to the contact's answer
    sla: str | None


# Outcomes by weight, by (recent, admin-initiated): recent conversations may still be
# open or snoozed, older ones are mostly settled; when an admin wrote first, nobody waits
# on a bot or on no one.
OUTCOMES = {
    (True, False): [
        (35, RESOLVED),
        (25, WAITING),
        (25, SNOOZED),
        (8, UNANSWERED),
        (7, BOT_RESOLVED),
    ],
    (False, False): [(75, RESOLVED), (6, WAITING), (9, UNANSWERED), (10, BOT_RESOLVED)],
    (True, True): [(35, RESOLVED), (25, WAITING), (25, SNOOZED)],
    (False, True): [(75, RESOLVED), (6, WAITING)],
}
RATINGS = [(5, 1), (5, 2), (10, 3), (30, 4), (50, 5)]
SLA_NAMES = sorted(SLAS)


def conversation_plan(
    seed: int, i: int, contacts: int, team_members: list[list[int]], recent: bool
) -> Plan:
    d = Draws(stable_hash(seed, "lifecycle", i))
    contact = d.below(contacts) if contacts else None
    second = d.below(contacts) if contacts > 1 and d.chance(0.06) else None
    admin_initiated = contact is None or d.chance(0.08)
    team = d.below(len(team_members))
    members = team_members[team]
    admin = members[d.below(len(members))] if members else d.below(sum(map(len, team_members)))
    routing = "direct" if admin_initiated else ("bot", "team", "team", "direct")[d.below(4)]
    outcome = d.pick(OUTCOMES[recent, admin_initiated])
    sla = SLA_NAMES[d.below(len(SLA_NAMES))] if not admin_initiated and d.chance(0.35) else None
    return Plan(
        contact=contact,
        second_contact=second if second != contact else None,
        admin_initiated=admin_initiated,
        admin=admin,
        team=team,
        routing="bot" if outcome == BOT_RESOLVED else routing,
        outcome=outcome,
        rated=d.chance(0.4),
        rating=d.pick(RATINGS),
        remark=REMARKS[d.below(len(REMARKS))],
        rating_delay=60 + d.below(2 * DAY),
        sla=sla,
    )


class ConversationWalk:
    """The state machine: `step` adds the next part given the state the others left."""

    def __init__(
        self, plan: Plan, team_members: list[list[int]], base_count: int, anchor: int
    ) -> None:
        self.plan = plan
        self.members = team_members
        self.admins = sum(len(m) for m in team_members)
        self.base_count = base_count
        self.anchor = anchor
        self.state = "open"
        self.admin: int | None = None
        self.team: int | None = None
        self.bot_active = plan.routing == "bot"
        self.waiting_on = "contact" if plan.admin_initiated else "admin"
        self.until = 0  # snoozed until, while snoozed
        self.parts: list[Part] = []

    def step(self, n: int, at: int, d: Draws) -> None:
        action = self._choose(n, at, d)
        ACTIONS[action](self, n, at, d)

    # ----- choosing ------------------------------------------------------------------------
    def _choose(self, n: int, at: int, d: Draws) -> str:
        left = self.base_count - n  # base parts from this one on
        options = self._options(at, no_admin_replies=left > 0 and self.plan.outcome in _SILENT)
        if left == 1:
            return self._steer(at, d, options)
        if self.plan.outcome == RESOLVED and self.state == "open":
            # A resolved conversation's admin replies before closing: the bot hands over
            # two or three parts before the end, the admin answers in the one before the
            # close.
            if left in (2, 3) and self.bot_active:
                return "assign"
            if left == 2 and not self.bot_active and self.waiting_on == "admin":
                return "reply"
        return d.pick(options)

    def _options(self, at: int, no_admin_replies: bool) -> list[tuple[float, str]]:
        has_contact = 1.0 if self.plan.contact is not None else 0.0
        reply = 0.0 if no_admin_replies else 1.0
        if self.state == "snoozed":
            if at >= self.until:
                return [(1, "timer")]
            return [(6, "unsnooze"), (3, "note")]
        if self.state == "closed":
            return [(7 * has_contact, "contact"), (2, "reopen"), (2, "note")]
        if self.bot_active:
            if self.waiting_on == "admin":
                return [(5, "bot_reply"), (3, "assign"), (1.5, "bot_close")]
            return [(6 * has_contact, "contact"), (2, "assign"), (2, "bot_close")]
        if self.waiting_on == "admin":
            unassigned = self.admin is None
            if unassigned and self.team is None and self.plan.routing != "direct":
                assign = 5.0
            else:
                assign = 3.0 if unassigned and self.plan.routing == "team" else 0.6
            replies = 2.0 if unassigned and self.plan.routing == "team" else 5.0
            return [
                (assign, "assign"),
                (replies * reply, "reply"),
                (1.2, "note"),
                (1.2 * has_contact, "contact"),
                (0.3, "close"),
                (0.25, "snooze"),
            ]
        return [
            (5 * has_contact, "contact"),
            (3.5, "close"),
            (0.3, "bot_close"),
            (0.8 * reply, "reply"),
            (0.8, "note"),
            (0.8, "snooze"),
            (0.3, "assign"),
        ]

    def _steer(self, at: int, d: Draws, options: list[tuple[float, str]]) -> str:
        """The last base part: towards the plan's outcome, where one step can reach it."""
        outcome = self.plan.outcome
        if outcome in (RESOLVED, BOT_RESOLVED):
            if self.state == "closed":
                return "note"
            return "bot_close" if outcome == BOT_RESOLVED else "close"
        if outcome == SNOOZED and self.state == "open":
            return "snooze"
        if self.state == "closed":
            reopen = outcome == SNOOZED or self.plan.contact is None
            return "reopen" if reopen else "contact"
        if self.state == "snoozed":
            # An earlier snooze is not left to run out unseen: the conversation wakes.
            return "timer" if at >= self.until else "unsnooze"
        settling = ("close", "bot_close", "snooze")
        return d.pick([(w, a) for w, a in options if a not in settling])

    # ----- acting --------------------------------------------------------------------------
    def _add(
        self,
        at: int,
        part_type: str,
        author: str,
        who: int,
        assigned: tuple[str, int] | None = None,
        body: bool = False,
    ) -> None:
        self.parts.append(Part(at, part_type, author, who, self.state, assigned, body))

    def _responder(self, d: Draws) -> int:
        """The admin who acts: mostly the assignee, else someone of the team, else the
        plan's admin."""
        if self.admin is not None and d.chance(0.85):
            return self.admin
        members = self.members[self.team] if self.team is not None else []
        if members:
            return members[d.below(len(members))]
        return self.plan.admin if d.chance(0.8) else d.below(self.admins)

    def _do_contact(self, n: int, at: int, d: Draws) -> None:
        plan = self.plan
        assert plan.contact is not None  # chosen only with a contact
        who = plan.contact
        if plan.second_contact is not None and d.chance(0.35):
            who = plan.second_contact
        reopens = self.state == "closed"
        self.state = "open"
        self.waiting_on = "admin"
        # A contact's reply to a closed conversation reopens it: one `open` part with the
        # message as its body, as Intercom shows it.
        self._add(at, "open" if reopens else "comment", "contact", who, body=True)

    def _do_reply(self, n: int, at: int, d: Draws) -> None:
        self.waiting_on = "contact"
        self._add(at, "comment", "admin", self._responder(d), body=True)

    def _do_note(self, n: int, at: int, d: Draws) -> None:
        self._add(at, "note", "admin", self._responder(d), body=True)

    def _do_bot_reply(self, n: int, at: int, d: Draws) -> None:
        self.waiting_on = "contact"
        self._add(at, "comment", "bot", 0, body=True)

    def _do_assign(self, n: int, at: int, d: Draws) -> None:
        plan = self.plan
        if self.bot_active:  # the bot hands over to the team, or to an admin
            self.bot_active = False
            target = ("team", plan.team) if d.chance(0.7) else ("admin", plan.admin)
            self._assign(at, "default_assignment", "bot", 0, target)
        elif self.admin is None and self.team is None:
            if plan.routing == "team":
                if d.chance(0.6):
                    self._assign(at, "default_assignment", "bot", 0, ("team", plan.team))
                else:
                    self._assign(at, "assignment", "admin", plan.admin, ("team", plan.team))
            elif d.chance(0.3):
                self._assign(at, "default_assignment", "bot", 0, ("admin", plan.admin))
            else:
                self._assign(at, "assignment", "admin", plan.admin, ("admin", plan.admin))
        elif self.admin is None:  # in a team's inbox: someone of the team takes it
            assert self.team is not None
            members = self.members[self.team] or [plan.admin]
            taker = members[d.below(len(members))]
            self._assign(at, "assignment", "admin", taker, ("admin", taker))
        else:  # handed on: to another admin, or to another team's inbox
            others = [a for a in range(self.admins) if a != self.admin]
            if others and d.chance(0.65):
                team = self.members[self.team] if self.team is not None else []
                peers = [a for a in team if a != self.admin]
                pool = peers or others
                target = ("admin", pool[d.below(len(pool))])
            else:
                teams = [t for t in range(len(self.members)) if t != self.team] or [plan.team]
                target = ("team", teams[d.below(len(teams))])
            self._assign(at, "assignment", "admin", self.admin, target)

    def _assign(
        self, at: int, part_type: str, author: str, who: int, target: tuple[str, int]
    ) -> None:
        # Assigning to a team leaves the conversation unassigned within that team;
        # assigning to an admin keeps the team.
        if target[0] == "team":
            self.team, self.admin = target[1], None
        else:
            self.admin = target[1]
        self._add(at, part_type, author, who, target)

    def _do_close(self, n: int, at: int, d: Draws) -> None:
        who = self.admin if self.admin is not None else self._responder(d)
        self.state = "closed"
        self._add(at, "close", "admin", who, body=d.chance(0.3))

    def _do_bot_close(self, n: int, at: int, d: Draws) -> None:
        self.state = "closed"
        self._add(at, "close", "bot", 0, body=True)

    def _do_snooze(self, n: int, at: int, d: Draws) -> None:
        delay = SNOOZE_DELAYS[d.below(len(SNOOZE_DELAYS))]
        # The snooze that ends the base parts lasts beyond the anchor: a conversation is
        # never left snoozed until a time that has passed with no unsnooze part.
        start = max(at, self.anchor) if n == self.base_count - 1 else at
        self.until = start + delay
        self.state = "snoozed"
        self._add(at, "snoozed", "admin", self._responder(d))

    def _do_reopen(self, n: int, at: int, d: Draws) -> None:
        who = self._responder(d)
        self.state = "open"
        if d.chance(0.3):
            self._assign(at, "assign_and_reopen", "admin", who, ("admin", who))
        else:
            self._add(at, "open", "admin", who)

    def _do_unsnooze(self, n: int, at: int, d: Draws) -> None:
        self.state = "open"
        self._add(at, "unsnoozed", "admin", self._responder(d))

    def _do_timer(self, n: int, at: int, d: Draws) -> None:
        self.state = "open"
        self._add(at, "timer_unsnooze", "bot", 0)


_SILENT = (UNANSWERED, BOT_RESOLVED)
ACTIONS: dict[str, Callable[[ConversationWalk, int, int, Draws], None]] = {
    name.removeprefix("_do_"): method
    for name, method in vars(ConversationWalk).items()
    if name.startswith("_do_")
}


@dataclass
class Conversation:
    """A walked conversation and what its record derives from the parts."""

    plan: Plan
    parts: list[Part]
    state: str
    snoozed_until: int | None
    admin: int | None  # assignees, as the last assignments left them
    team: int | None
    teammates: list[int]  # admins who wrote the source or a part, by first appearance
    statistics: dict[str, Any]  # Intercom's statistics, None where there is no value
    last_close: Part | None
    waiting_since: int | None
    rating_teammate: int | None  # the admin assigned at the first close (or its closer)
    ai_agent_participated: bool
    sla_status: str | None


def walk_conversation(
    seed: int,
    i: int,
    created_at: int,
    clock: PartClock,
    contacts: int,
    team_members: list[list[int]],
    anchor: int,
) -> Conversation:
    times = clock.times()
    base_count = clock.base
    recent = times[base_count - 1] >= anchor - RECENT
    plan = conversation_plan(seed, i, contacts, team_members, recent)
    walk = ConversationWalk(plan, team_members, base_count, anchor)
    key = stable_hash(seed, "conversation-part", i)
    for n, at in enumerate(times):
        walk.step(n, at, Draws(mix64(key ^ n)))
    return derive(plan, created_at, walk)


def derive(plan: Plan, created_at: int, walk: ConversationWalk) -> Conversation:
    """The conversation's fields from its parts, by the rules of docs/sandbox.md."""
    by_contact = not plan.admin_initiated
    first_contact = created_at if by_contact else None  # the source is the first reply
    last_contact = first_contact
    waiting = first_contact  # start of the contact's current wait for an admin
    waits: list[int] = []  # office seconds from each wait's start to its admin reply
    first_assignment = last_assignment = assignment_before_reply = None
    first_reply = last_reply = reply_since_assignment = None
    first_close = last_close_at = None
    last_close: Part | None = None
    closed_before_reply = False
    rating_teammate = assignee = None
    reopens = assignments = 0
    teammates: dict[int, None] = {} if by_contact else {plan.admin: None}
    bot_answered = False
    for part in walk.parts:
        after = first_contact is not None  # the part comes after the first contact reply
        if part.author == "contact":
            first_contact = part.at if first_contact is None else first_contact
            last_contact = part.at
            waiting = part.at if waiting is None else waiting
        elif part.author == "admin":
            teammates[part.who] = None
        admin_reply = part.part_type == "comment" and part.author == "admin"
        bot_answered = bot_answered or (part.part_type == "comment" and part.author == "bot")
        if part.assigned is not None:
            kind, target = part.assigned
            assignee = target if kind == "admin" else None
        if admin_reply:
            last_reply = part.at
            if waiting is not None:
                waits.append(office_seconds(waiting, part.at))
            waiting = None
        if part.part_type == "close":
            last_close_at, last_close = part.at, part
            waiting = None  # a close ends the wait, answered or not
        if not after:
            continue
        if part.part_type in ASSIGNMENT_TYPES:
            assignments += 1
            first_assignment = part.at if first_assignment is None else first_assignment
            last_assignment = part.at
            reply_since_assignment = None
            if first_reply is None:
                assignment_before_reply = part.at
        if part.part_type in REOPEN_TYPES:
            reopens += 1
        if admin_reply:
            first_reply = part.at if first_reply is None else first_reply
            if last_assignment is not None and reply_since_assignment is None:
                reply_since_assignment = part.at
        if part.part_type == "close" and first_close is None:
            first_close = part.at
            closed_before_reply = first_reply is None
            rating_teammate = assignee if assignee is not None else _admin_who(part)
    state = walk.parts[-1].state if walk.parts else "open"

    def since_first_contact(end: int | None) -> int | None:
        if first_contact is None or end is None:
            return None
        return office_seconds(first_contact, end)

    handled = (
        last_close_at - first_assignment
        if last_close_at is not None
        and first_assignment is not None
        and last_close_at >= first_assignment
        else None
    )
    statistics = {
        "time_to_assignment": since_first_contact(assignment_before_reply),
        "time_to_admin_reply": since_first_contact(first_reply),
        "time_to_first_close": since_first_contact(first_close),
        "time_to_last_close": since_first_contact(
            last_close_at if first_close is not None else None
        ),
        "median_time_to_reply": _median(waits),
        "first_contact_reply_at": first_contact,
        "first_assignment_at": first_assignment,
        "first_admin_reply_at": first_reply,
        "first_close_at": first_close,
        "last_assignment_at": last_assignment,
        "last_assignment_admin_reply_at": reply_since_assignment,
        "last_contact_reply_at": last_contact,
        "last_admin_reply_at": last_reply,
        "last_close_at": last_close_at,
        "count_reopens": reopens,
        "count_assignments": assignments,
        "count_conversation_parts": len(walk.parts),
        "handling_time": handled,
    }
    return Conversation(
        plan=plan,
        parts=walk.parts,
        state=state,
        snoozed_until=walk.until if state == "snoozed" else None,
        admin=walk.admin,
        team=walk.team,
        teammates=list(teammates),
        statistics=statistics,
        last_close=last_close,
        waiting_since=waiting if state != "closed" else None,
        rating_teammate=rating_teammate,
        ai_agent_participated=bot_answered,
        sla_status=_sla_status(plan, first_contact, first_reply, closed_before_reply),
    )


def _admin_who(part: Part) -> int | None:
    return part.who if part.author == "admin" else None


def _median(values: list[int]) -> int | None:
    """The middle value; for an even count the mean of the two middle ones, rounded down."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def _sla_status(
    plan: Plan, first_contact: int | None, first_reply: int | None, closed_before_reply: bool
) -> str | None:
    """cancelled when the conversation was closed before any admin reply; else hit or
    missed by the first admin reply against the target (office seconds from the first
    contact reply); active while there is no admin reply yet."""
    if plan.sla is None or first_contact is None:
        return None
    if closed_before_reply:
        return "cancelled"
    if first_reply is None:
        return "active"
    return "hit" if office_seconds(first_contact, first_reply) <= SLAS[plan.sla] else "missed"


# ----- tickets ---------------------------------------------------------------------------------
class TicketPart(NamedTuple):
    at: int
    part_type: str
    author: str  # "contact", "admin" or "bot"
    who: int
    previous: str  # the state category before the part
    category: str  # and after it
    assigned: tuple[str, int] | None
    body: bool


@dataclass
class Ticket:
    ticket_type: int
    contact: int | None
    parts: list[TicketPart]
    category: str
    admin: int | None
    team: int | None


UNREACHABLE = 1 << 20


def _path(start: str, goal: str) -> list[str] | None:
    """The categories an admin moves a ticket through from start to goal (None: never;
    no ticket goes back to submitted)."""
    if start == goal:
        return []
    if goal == "submitted":
        return None
    if start in ("submitted", "resolved"):
        rest = _path("in_progress", goal)
        return None if rest is None else ["in_progress", *rest]
    return [goal]


def _distance(start: str, stops: list[str]) -> int:
    """State updates needed to pass through `stops` in turn from `start`."""
    steps = 0
    for stop in stops:
        path = _path(start, stop)
        if path is None:
            return UNREACHABLE
        steps += len(path)
        start = stop
    return steps


def walk_ticket(
    seed: int,
    i: int,
    clock: PartClock,
    updates: frozenset[int],
    contacts: int,
    admins: int,
    teams: int,
    ticket_types: int,
    anchor: int,
) -> Ticket:
    """A ticket's parts from `submitted`: state updates, comments, notes and assignments.
    The base parts pass through the plan's stops (resolved, reopened and resolved again
    for some) and end at its final category; the parts at `updates` are admins' state
    updates (`TICKET_ADVANCE`); parts appended otherwise move freely."""
    times = clock.times()
    base_count = clock.base
    plan = Draws(stable_hash(seed, "ticket-lifecycle", i))
    ticket_type = plan.below(ticket_types)
    contact = plan.below(contacts) if contacts else None
    home_admin, home_team = plan.below(admins), plan.below(teams)
    recent = times[base_count - 1] >= anchor - RECENT
    weights = [15, 30, 20, 35] if recent else [5, 8, 7, 80]
    final = plan.pick(list(zip(weights, TICKET_FLOW, strict=True)))
    stops = ["resolved", "in_progress", final] if plan.chance(0.25) else [final]
    key = stable_hash(seed, "ticket-part", i)
    category, admin, team = "submitted", None, None
    parts: list[TicketPart] = []
    for n, at in enumerate(times):
        d = Draws(mix64(key ^ n))
        base = n < base_count
        while len(stops) > 1 and category == stops[0]:
            stops = stops[1:]
        left = base_count - n - 1  # base parts after this one
        if n in updates:
            action = "advance"
        elif base and left < _distance(category, stops) < UNREACHABLE:
            action = "toward"
        else:
            action = d.pick(_ticket_options(category, admin is None, contact is not None))
        previous = category
        author, who, assigned, part_type, body = "admin", home_admin, None, "comment", True
        if action == "move":
            moved = _move(category, d)
            # A base part moves only where the rest of the base parts can still reach
            # the plan's stops.
            if base and _distance(moved, stops) > left:
                action = "note"
            else:
                category = moved
        if action in ("advance", "toward", "move"):
            if action == "advance":
                category = TICKET_ADVANCE[category]
            elif action == "toward":
                path = _path(category, stops[0])
                assert path  # forced only towards a reachable stop not yet reached
                category = path[0]
            part_type, body = "ticket_state_updated_by_admin", False
            if action != "advance" and d.chance(0.15):
                author, who = "bot", 0  # workflows (Fin) update states too
            elif admin is not None:
                who = admin
        elif action == "contact":
            assert contact is not None  # chosen only with a contact
            author, who = "contact", contact
        elif action == "assign":
            part_type, body = "assignment", False
            if team is None and d.chance(0.4):
                assigned = ("team", home_team)
                team, admin = home_team, None
            else:
                taker = home_admin if admin is None else d.below(admins)
                assigned = ("admin", taker)
                admin = taker
        else:  # an admin's comment or note
            part_type = action
            who = admin if admin is not None else home_admin
        parts.append(TicketPart(at, part_type, author, who, previous, category, assigned, body))
    return Ticket(ticket_type, contact, parts, category, admin, team)


def _ticket_options(category: str, unassigned: bool, has_contact: bool) -> list[tuple[float, str]]:
    contact = 1.0 if has_contact else 0.0
    if category == "resolved":
        return [(1, "move"), (1.5, "note")]
    if category == "submitted":
        return [
            (4, "move"),
            (2.5 if unassigned else 0.3, "assign"),
            (1.5 * contact, "contact"),
            (1, "comment"),
            (0.8, "note"),
        ]
    if category == "waiting_on_customer":
        return [(3 * contact, "contact"), (2, "move"), (0.8, "note")]
    return [
        (2, "move"),
        (2.5, "comment"),
        (2 * contact, "contact"),
        (1, "note"),
        (1.5 if unassigned else 0.5, "assign"),
    ]


def _move(category: str, d: Draws) -> str:
    """An admin's state update from `category` (a resolved ticket is reopened)."""
    if category == "in_progress":
        return "waiting_on_customer" if d.chance(0.4) else "resolved"
    if category == "waiting_on_customer":
        return "in_progress" if d.chance(0.5) else "resolved"
    return "in_progress"
