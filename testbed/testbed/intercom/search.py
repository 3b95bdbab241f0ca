"""Intercom's search query language: validation, evaluation and the index-friendly plan.

Contacts compare dates by calendar day (UTC workspace): `=` is the day, `>` starts at the
next day, `<` ends before the day, other operators on dates are errors. Conversations and
tickets compare timestamps to the second and, as the 2.15 description documents, their `>`
and `<` include the given second ("Greater (or equal) than").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testbed.intercom.det import stable_hash
from testbed.intercom.records import (
    CONTACT_CUSTOM_ATTRIBUTES,
    CONVERSATION_CUSTOM_ATTRIBUTES,
    DAY,
)

MAX_NESTING = 2  # "a limit of max 2 nested filters"
MAX_GROUP_FILTERS = 15  # "max 15 filters for each AND or OR group"
OPERATORS = {"=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"}
STRING_OPERATORS = {"~", "!~", "^", "$"}


class SearchError(ValueError):
    """A query Intercom would refuse; `code` is the error.list code."""

    def __init__(self, message: str, code: str = "parameter_invalid") -> None:
        super().__init__(message)
        self.code = code


Getter = Callable[[dict[str, Any]], Any]


def _path(dotted: str) -> Getter:
    keys = dotted.split(".")

    def get(record: dict[str, Any]) -> Any:
        value: Any = record
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


def _ids(container: str, items: str, key: str = "id") -> Getter:
    return lambda record: [item[key] for item in (record.get(container) or {}).get(items, [])]


def _words(dotted: str) -> Getter:
    get = _path(dotted)
    return lambda record: re.findall(
        r"[a-z0-9']+", re.sub(r"<[^>]+>", " ", get(record) or "").lower()
    )


def contact_segment_ids(seed: int, segment_ids: list[str], contact_id: str) -> list[str]:
    """Which person segments a contact belongs to (a deterministic third of them each)."""
    return [s for s in segment_ids if stable_hash(seed, "member", s, contact_id) % 3 == 0]


@dataclass(frozen=True)
class Field:
    type: str  # string | integer | float | date | boolean
    get: Getter
    tokens: bool = False  # source.body: `=` matches any word of the value


def contact_fields(seed: int, segment_ids: list[str]) -> dict[str, Field]:
    fields = {
        name: Field("string", _path(name))
        for name in [
            "id",
            "role",
            "name",
            "email",
            "email_domain",
            "phone",
            "external_id",
            "language_override",
            "browser",
            "browser_language",
            "os",
            "location.country",
            "location.region",
            "location.city",
            "ios_app_version",
            "ios_device",
            "ios_app_device",
            "ios_os_version",
            "ios_app_name",
            "ios_sdk_version",
            "android_app_version",
            "android_device",
            "android_app_name",
            "andoid_sdk_version",
        ]
    }
    fields["avatar"] = Field("string", _path("avatar.image_url"))
    fields["owner_id"] = Field("integer", _path("owner_id"))
    for name in [
        "created_at",
        "signed_up_at",
        "updated_at",
        "last_seen_at",
        "last_contacted_at",
        "last_replied_at",
        "last_email_opened_at",
        "last_email_clicked_at",
        "ios_last_seen_at",
        "android_last_seen_at",
    ]:
        fields[name] = Field("date", _path(name))
    for name in ["unsubscribed_from_emails", "marked_email_as_spam", "has_hard_bounced"]:
        fields[name] = Field("boolean", _path(name))
    fields["tag_id"] = Field("string", lambda r: [t["id"] for t in r["tags"]["data"]])
    fields["segment_id"] = Field(
        "string", lambda r: contact_segment_ids(seed, segment_ids, r["id"])
    )
    for name, data_type in CONTACT_CUSTOM_ATTRIBUTES:
        fields[f"custom_attributes.{name}"] = Field(data_type, _path(f"custom_attributes.{name}"))
    return fields


def conversation_fields() -> dict[str, Field]:
    fields = {
        name: Field("string", _path(name))
        for name in [
            "id",
            "source.type",
            "source.id",
            "source.delivered_as",
            "source.subject",
            "source.author.id",
            "source.author.type",
            "source.author.name",
            "source.author.email",
            "source.url",
            "state",
            "priority",
            "statistics.last_closed_by_id",
            "conversation_rating.remark",
            "ai_agent.resolution_state",
            "ai_agent.last_answer_type",
            "ai_agent.rating_remark",
            "ai_agent.source_type",
            "ai_agent.source_title",
        ]
    }
    fields["source.body"] = Field("string", _words("source.body"), tokens=True)
    fields["channel_initiated"] = Field("string", _path("source.delivered_as"))
    fields["contact_ids"] = Field("string", _ids("contacts", "contacts"))
    fields["teammate_ids"] = Field("string", _ids("teammates", "teammates"))
    fields["tag_ids"] = Field("string", _ids("tags", "tags"))
    fields["conversation_rating.contact_id"] = Field(
        "string", _path("conversation_rating.contact.id")
    )
    fields["conversation_rating.admin_d"] = Field(
        "string", _path("conversation_rating.teammate.id")
    )
    for name in [
        "created_at",
        "updated_at",
        "waiting_since",
        "snoozed_until",
        "conversation_rating.requested_at",
        "conversation_rating.replied_at",
    ]:
        fields[name] = Field("date", _path(name))
    for name in [
        "admin_assignee_id",
        "team_assignee_id",
        "conversation_rating.score",
        "ai_agent.rating",
    ]:
        fields[name] = Field("integer", _path(name))
    for name in ["open", "read", "ai_agent_participated"]:
        fields[name] = Field("boolean", _path(name))
    for name in [
        "time_to_assignment",
        "time_to_admin_reply",
        "time_to_first_close",
        "time_to_last_close",
        "median_time_to_reply",
        "count_reopens",
        "count_assignments",
        "count_conversation_parts",
    ]:
        fields[f"statistics.{name}"] = Field("integer", _path(f"statistics.{name}"))
    for name in [
        "first_contact_reply_at",
        "first_assignment_at",
        "first_admin_reply_at",
        "first_close_at",
        "last_assignment_at",
        "last_assignment_admin_reply_at",
        "last_contact_reply_at",
        "last_admin_reply_at",
        "last_close_at",
    ]:
        fields[f"statistics.{name}"] = Field("date", _path(f"statistics.{name}"))
    for name, data_type in CONVERSATION_CUSTOM_ATTRIBUTES:
        fields[f"custom_attributes.{name}"] = Field(data_type, _path(f"custom_attributes.{name}"))
    return fields


# Ticket categories are searched by these terms, not by their display names.
TICKET_CATEGORY_TERMS = {"Customer": "request", "Back-office": "task", "Tracker": "tracker"}


def ticket_fields() -> dict[str, Field]:
    fields = {
        "id": Field("string", _path("id")),
        "title": Field("string", _path("ticket_attributes._default_title_")),
        "description": Field("string", _path("ticket_attributes._default_description_")),
        "category": Field("string", lambda r: TICKET_CATEGORY_TERMS[r["category"]]),
        "ticket_type_id": Field("string", _path("ticket_type.id")),
        "contact_ids": Field("string", _ids("contacts", "contacts")),
        "teammate_ids": Field("string", lambda r: [r["admin_assignee_id"]]),
        "admin_assignee_id": Field("string", _path("admin_assignee_id")),
        "team_assignee_id": Field("string", _path("team_assignee_id")),
        "open": Field("boolean", _path("open")),
        "state": Field("string", _path("ticket_state.category")),
        "created_at": Field("date", _path("created_at")),
        "updated_at": Field("date", _path("updated_at")),
        "snoozed_until": Field("date", _path("snoozed_until")),
    }
    for name in ["_default_title_", "_default_description_"]:
        fields[f"ticket_attribute.{name}"] = Field("string", _path(f"ticket_attributes.{name}"))
    return fields


Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Plan:
    """A compiled query: the predicate plus the updated_at window an index can serve."""

    predicate: Predicate
    low: int | None = None  # updated_at >= low
    high: int | None = None  # updated_at < high
    window_only: bool = False  # the predicate is exactly the window (count from the index)


class QueryCompiler:
    """Turns one kind's search query into a Plan, refusing what Intercom refuses."""

    def __init__(self, kind: str, fields: dict[str, Field]) -> None:
        self.kind = kind
        self.fields = fields
        self.day_dates = kind == "contacts"

    def compile(self, query: Any) -> Plan:
        if not isinstance(query, dict):
            raise SearchError("query must be an object")
        predicate = self._node(query, depth=0)
        plan = Plan(predicate)
        if "field" in query:
            filters = [query]
        elif query.get("operator") == "AND":
            filters = [f for f in query["value"] if "field" in f]
        else:
            return plan  # an OR at the top: no window narrows it
        windows = [
            f
            for f in filters
            if f["field"] == "updated_at"
            and f["value"] is not None
            and f["operator"] in ("=", ">", "<", ">=", "<=")
        ]
        for f in windows:
            low, high = self._window(f["operator"], f["value"])
            if low is not None:
                plan.low = low if plan.low is None else max(plan.low, low)
            if high is not None:
                plan.high = high if plan.high is None else min(plan.high, high)
        # Counts come straight from the index when the window is the whole query.
        top = [query] if "field" in query else query["value"]
        plan.window_only = len(windows) == len(top)
        return plan

    def _window(self, operator: str, value: Any) -> tuple[int | None, int | None]:
        """The [low, high) updated_at seconds a filter admits, where the index can use it."""
        ts = int(value)
        if self.day_dates:
            day = ts - ts % DAY
            return {"=": (day, day + DAY), ">": (day + DAY, None), "<": (None, day)}[operator]
        return {
            "=": (ts, ts + 1),
            ">": (ts, None),
            "<": (None, ts + 1),
            ">=": (ts, None),
            "<=": (None, ts + 1),
        }[operator]

    def _node(self, node: Any, depth: int) -> Predicate:
        if not isinstance(node, dict):
            raise SearchError("each filter must be an object")
        if "field" in node:
            return self._filter(node)
        operator = node.get("operator")
        if operator not in ("AND", "OR"):
            raise SearchError(f"operator {operator!r} is not a group operator (AND, OR)")
        children = node.get("value")
        if not isinstance(children, list) or not children:
            raise SearchError(f"the value of an {operator} group must be a non-empty array")
        if depth >= MAX_NESTING:
            raise SearchError(f"filters can be nested at most {MAX_NESTING} levels deep")
        if len(children) > MAX_GROUP_FILTERS:
            raise SearchError(f"an {operator} group can hold at most {MAX_GROUP_FILTERS} filters")
        parts = [self._node(child, depth + 1) for child in children]
        if operator == "AND":
            return lambda record: all(p(record) for p in parts)
        return lambda record: any(p(record) for p in parts)

    def _filter(self, node: dict[str, Any]) -> Predicate:
        name, operator, value = node.get("field"), node.get("operator"), node.get("value")
        field = self.fields.get(name) if isinstance(name, str) else None
        if field is None or not isinstance(name, str):
            raise SearchError(f"{name!r} is not a searchable {self.kind} field", "field_not_found")
        if operator not in OPERATORS:
            raise SearchError(f"operator {operator!r} is not supported")
        self._check_operator(name, field, operator)
        if operator in ("IN", "NIN"):
            if not isinstance(value, list):
                raise SearchError(f"{operator} on {name} needs an array value")
            wanted = [self._coerce(name, field, v) for v in value]
        else:
            if isinstance(value, list | dict):
                raise SearchError(f"{operator} on {name} needs a single value")
            wanted = [self._coerce(name, field, value)]
        test = self._test(field, operator, wanted)
        get = field.get

        def predicate(record: dict[str, Any]) -> bool:
            actual = get(record)
            values = actual if isinstance(actual, list) else [actual]
            if operator in ("!=", "NIN", "!~"):  # negations hold when no value matches
                return not any(test(v) for v in values)
            return any(test(v) for v in values)

        return predicate

    def _check_operator(self, name: str, field: Field, operator: str) -> None:
        kind_type = field.type
        if operator in STRING_OPERATORS and kind_type != "string":
            raise SearchError(f"operator {operator} only applies to string fields, not {name}")
        if self.kind == "contacts":
            if kind_type == "date" and operator not in ("=", ">", "<"):
                raise SearchError(f"operator {operator} is not supported on the date field {name}")
            if name == "tag_id" and operator not in ("=", "!="):
                raise SearchError("tag_id supports only the = and != operators")
            if operator in (">", "<", ">=", "<=") and kind_type not in ("integer", "float", "date"):
                raise SearchError(f"operator {operator} needs an integer or date field, not {name}")
            return
        if operator in (">=", "<="):
            if not (self.kind == "tickets" and name == "created_at"):
                raise SearchError(f"operator {operator} is not supported on {name}")
        elif operator in (">", "<") and kind_type not in ("integer", "float", "date"):
            raise SearchError(f"operator {operator} needs an integer or date field, not {name}")

    def _coerce(self, name: str, field: Field, value: Any) -> Any:
        if value is None:
            return None
        if field.type in ("integer", "date"):
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))
            ):
                raise SearchError(f"{name} accepts a {field.type} value, not {value!r}")
            return int(value)
        if field.type == "float":
            try:
                return float(value)
            except (TypeError, ValueError):
                raise SearchError(f"{name} accepts a number, not {value!r}") from None
        if field.type == "boolean":
            if isinstance(value, bool):
                return value
            if value in ("true", "false"):
                return value == "true"
            raise SearchError(f"{name} accepts true or false, not {value!r}")
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise SearchError(f"{name} accepts a string value, not {value!r}")
        return str(value).lower() if field.tokens else str(value)

    def _test(self, field: Field, operator: str, wanted: list[Any]) -> Callable[[Any], bool]:
        target = wanted[0]
        if field.type == "date" and self.day_dates and target is not None:
            day = target - target % DAY
            if operator == "=":
                return lambda v: v is not None and day <= v < day + DAY
            if operator == ">":
                return lambda v: v is not None and v >= day + DAY
            return lambda v: v is not None and v < day  # "<"
        if operator in ("=", "!="):
            return lambda v: v == target
        if operator in ("IN", "NIN"):
            members = set(wanted)
            return lambda v: v in members
        if operator in (">", ">=", "<", "<="):
            if target is None:
                raise SearchError(f"operator {operator} needs a value")
            # Conversations and tickets document `>`/`<` as "greater/lower (or equal) than".
            inclusive = operator in (">=", "<=") or not self.day_dates
            if operator[0] == ">":
                return (
                    (lambda v: v is not None and v >= target)
                    if inclusive
                    else (lambda v: v is not None and v > target)
                )
            return (
                (lambda v: v is not None and v <= target)
                if inclusive
                else (lambda v: v is not None and v < target)
            )
        if target is None:
            raise SearchError(f"operator {operator} needs a string value")
        if operator in ("~", "!~"):
            return lambda v: isinstance(v, str) and target in v
        if operator == "^":
            return lambda v: isinstance(v, str) and v.startswith(target)
        return lambda v: isinstance(v, str) and v.endswith(target)  # "$"
