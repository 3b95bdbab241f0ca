"""`--drift`: the sandbox serves what real workspaces send, not only what the description
promises (the differences users of other extractors reported, e.g. Intercom-OpenAPI
issue 115 and airbyte issue 35729, and more of the same kinds).

One switch, `SandboxOptions.drift` (CLI `--drift`, control API `POST /_sandbox/drift`).
Everything that depends on it reads `options.drift`; a new kind of messiness adds its
own code behind the same flag and, when it changes values, reports them as sites here.

Value-level drift (this module) is applied to the big kinds' records as they are built
(`store.Kind.record`), deterministically per record, so the API and the truth agree:

- numbers where strings are declared and strings where numbers are, at several depths
  (`statistics.last_closed_by_id` as a number, attachment `width`/`height` as strings);
- values no type conversion can save (a word where a number is declared, an object
  where a string is);
- fields the description does not list, at the top level and nested (also in arrays);
- custom attribute names with spaces, dots, capitals and non-ASCII characters;
- a nested list item without the key a client reads of it: in about half of the
  contacts' full company lists (`GET /contacts/{id}/companies`, served when a contact's
  embedded list is cut short) the first company has no `id` (`unkeyed_item`), as one
  project's fixtures serve it. The truth leaves that item out of `contact_companies`.

`sites(stream, record)` lists every drifted value of a record, with what a lossless
pipeline must keep: GET /_sandbox/truth returns them as "drifted" so a test can count
them and find each in the warehouse.

Refusals: under `--drift` some endpoints answer as for a token without a permission or a
plan without the feature (`DRIFT_REFUSALS`); `SandboxOptions.refusals` (CLI `--refuse`,
control API) sets any endpoint's refusal, with or without drift.
"""

from __future__ import annotations

from typing import Any

from testbed.intercom.det import rng

# What a lossless pipeline does with each kind of drifted value.
CONVERTED = "converted"  # the declared type holds it without loss: `expected` is that value
UNCONVERTIBLE = "unconvertible"  # kept aside, under its JSON path (`sent` as sent)
NEW_FIELD = "new_field"  # a top-level field nobody listed: a column of its own
NESTED_FIELD = "nested_field"  # an unlisted field inside an object: kept in place
FREE_NAME = "free_name"  # a custom attribute named freely: kept under its exact name

# Errors Intercom answers refused requests with: code -> (status, message).
REFUSAL_ERRORS = {
    "token_unauthorized": (403, "Not authorized to access resource"),
    "api_plan_restricted": (403, "Active subscription needed."),
    "not_found": (404, "Resource Not Found"),
    "unauthorized": (401, "Access Token Invalid"),
}
# Under --drift: activity logs need a plan this workspace lacks; the token was created
# without the news permission.
DRIFT_REFUSALS = {
    "/admins/activity_logs": "api_plan_restricted",
    "/news": "token_unauthorized",
}
# Custom attributes with names real workspaces have, beside the generator's own.
FREE_NAMED_ATTRIBUTES = {
    "Plan Name": "pro",
    "billing.cycle": "annual",
    "NPS Score": 9,
    "Ünïcødé ✓": "ja",
}

Site = dict[str, Any]


def unkeyed_item(seed: int, contact_id: str) -> int | None:
    """The position, in the contact's full company list, of the company served without
    its `id` (None: every company has one)."""
    return 0 if rng(seed, "drift", "unkeyed_item", contact_id).random() < 0.5 else None


def refusal(refusals: dict[str, str], path: str) -> tuple[int, str, str] | None:
    """(status, code, message) when `path` is under a refused endpoint."""
    for prefix, code in refusals.items():
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            status, message = REFUSAL_ERRORS[code]
            return status, code, message
    return None


def check_refusals(refusals: Any) -> dict[str, str | None]:
    """`refusals` validated: {path: code}, every code one Intercom answers (None: no
    refusal, for the control API to lift one)."""
    if not isinstance(refusals, dict):
        raise ValueError("refusals must be an object of path -> error code")
    for path, code in refusals.items():
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"refusal path {path!r} must start with /")
        if code is not None and code not in REFUSAL_ERRORS:
            raise ValueError(f"refusal code {code!r} unknown; known: {sorted(REFUSAL_ERRORS)}")
    return dict(refusals)


def _site(
    stream: str, key: str, steps: list[Any], sent: Any, kind: str, expected: Any = None
) -> Site:
    return {
        "stream": stream,
        "id": key,
        "path": steps,
        "json_path": _json_path(steps),
        "sent": sent,
        "kind": kind,
        "expected": sent if kind != CONVERTED else expected,
    }


def _json_path(steps: list[Any]) -> str:
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _set(record: dict[str, Any], steps: list[Any], value: Any) -> None:
    node: Any = record
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value


def apply(stream: str, record: dict[str, Any], seed: int) -> list[Site]:
    """Drift about half of the records of `stream` (of conversations: of the closed
    ones) in place; the sites drifted."""
    key = str(record["id"])
    if rng(seed, "drift", stream, key).random() >= 0.5:
        return []
    drifts: list[tuple[list[Any], Any, str, Any]] = []  # (steps, sent, kind, expected)
    if stream == "conversations":
        # Drifted conversations send their closer's id as a number: only closed ones
        # (a conversation never closed has none) drift.
        closer = record["statistics"].get("last_closed_by_id")
        if closer is None:
            return []
        drifts += [
            (["statistics", "last_closed_by_id"], int(closer), CONVERTED, closer),
            (["statistics", "median_time_to_reply"], "n/a", UNCONVERTIBLE, None),
            (["statistics", "first_ai_reply_ms"], 1234, NESTED_FIELD, None),
            (["title"], 404, CONVERTED, "404"),
            (["ai_topic"], "billing", NEW_FIELD, None),
        ]
        record["source"]["attachments"] = [
            {"type": "upload", "name": "screenshot.png", "url": "https://files.example.com/1"}
        ]
        drifts += [
            (["source", "attachments", 0, "width"], "640", CONVERTED, 640),
            (["source", "attachments", 0, "height"], "480", CONVERTED, 480),
        ]
    elif stream == "contacts":
        drifts += [
            (["has_hard_bounced"], "false", CONVERTED, False),
            (["owner_id"], "1234", CONVERTED, 1234),
            (["browser_version"], {"major": 120, "minor": 0}, UNCONVERTIBLE, None),
            (["location", "country_code"], 353, NESTED_FIELD, None),
            (["enrichment"], {"Company Size": "51-200", "seniority.level": "sr"}, NEW_FIELD, None),
        ]
        drifts += [
            (["custom_attributes", name], value, FREE_NAME, None)
            for name, value in FREE_NAMED_ATTRIBUTES.items()
        ]
    elif stream == "companies":
        drifts += [
            (["user_count"], str(record["user_count"]), CONVERTED, record["user_count"]),
            (["monthly_spend"], "1,200.50", UNCONVERTIBLE, None),
            (["plan", "tier"], "gold", NESTED_FIELD, None),
            (["industry_code"], 5411, NEW_FIELD, None),
        ]
    elif stream == "tickets":
        drifts += [(["ticket_id"], int(record["ticket_id"]), CONVERTED, record["ticket_id"])]
    sites = []
    for steps, sent, kind, expected in drifts:
        _set(record, steps, sent)
        sites.append(_site(stream, key, steps, sent, kind, expected))
    if stream == "conversations":
        sites += _drift_parts(record, seed)
    return sites


def _drift_parts(conversation: dict[str, Any], seed: int) -> list[Site]:
    """Attachment sizes as strings and an unlisted author field, in some parts."""
    listing = conversation.get("conversation_parts") or {}
    sites = []
    for part in listing.get("conversation_parts") or ():
        key = str(part["id"])
        if rng(seed, "drift", "conversation_parts", key).random() >= 0.3:
            continue
        part["attachments"] = [
            {"type": "upload", "name": "photo.jpg", "width": "1024", "height": "768"}
        ]
        part["author"]["ai_confidence"] = 0.75
        sites += [
            _site("conversation_parts", key, ["attachments", 0, "width"], "1024", CONVERTED, 1024),
            _site("conversation_parts", key, ["attachments", 0, "height"], "768", CONVERTED, 768),
            _site("conversation_parts", key, ["author", "ai_confidence"], 0.75, NESTED_FIELD),
        ]
    return sites
