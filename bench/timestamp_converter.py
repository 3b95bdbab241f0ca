"""Micro benchmark: tap_intercom.schemas.timestamp_converter on contact and conversation records.

Run: .venv/bin/python -m bench.timestamp_converter [--records N] [--repeats R]
Prints µs per record (median of R runs) for the compiled converter and, for scale, for a
per-record schema walk (the test normaliser) and for json.loads of the same record.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from tap_intercom.schemas import load_schema, timestamp_converter

from tests.tap.records import expected_record

BASE_TS = 1_700_000_000


def contact(index: int) -> dict[str, Any]:
    """A contact shaped like a /contacts/search item, with all ten timestamps set."""
    ts = BASE_TS + index
    return {
        "type": "contact",
        "id": f"6762f0d01bb69f9f2193{index:04x}",
        "workspace_id": "ecahpwf5",
        "external_id": str(index),
        "role": "user",
        "email": f"user{index}@example.com",
        "email_domain": "example.com",
        "phone": None,
        "name": f"User {index}",
        "owner_id": None,
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": False,
        "created_at": ts - 86400,
        "updated_at": ts,
        "signed_up_at": ts - 86400,
        "last_seen_at": ts - 3600,
        "last_replied_at": ts - 7200,
        "last_contacted_at": ts - 7300,
        "last_email_opened_at": None,
        "last_email_clicked_at": None,
        "language_override": None,
        "browser": "chrome",
        "browser_version": "120.0",
        "browser_language": "en",
        "os": "OS X 14",
        "android_app_name": None,
        "android_app_version": None,
        "android_device": None,
        "android_os_version": None,
        "android_sdk_version": None,
        "android_last_seen_at": None,
        "ios_app_name": None,
        "ios_app_version": None,
        "ios_device": None,
        "ios_os_version": None,
        "ios_sdk_version": None,
        "ios_last_seen_at": ts - 600,
        "custom_attributes": {"plan": "pro", "seats": 5},
        "avatar": {"type": "avatar", "image_url": None},
        "tags": {
            "type": "list",
            "data": [],
            "url": "/contacts/x/tags",
            "total_count": 0,
            "has_more": False,
        },
        "notes": {
            "type": "list",
            "data": [],
            "url": "/contacts/x/notes",
            "total_count": 0,
            "has_more": False,
        },
        "companies": {
            "type": "list",
            "data": [],
            "url": "/contacts/x/companies",
            "total_count": 0,
            "has_more": False,
        },
        "location": {
            "type": "location",
            "country": "Ireland",
            "region": "Dublin",
            "city": "Dublin",
        },
        "social_profiles": {"type": "list", "data": []},
    }


def conversation(index: int) -> dict[str, Any]:
    """A conversation shaped like a /conversations/search item."""
    ts = BASE_TS + index
    return {
        "type": "conversation",
        "id": str(index),
        "created_at": ts - 500,
        "updated_at": ts,
        "waiting_since": None,
        "snoozed_until": None,
        "open": True,
        "state": "open",
        "read": False,
        "priority": "not_priority",
        "admin_assignee_id": None,
        "team_assignee_id": None,
        "tags": {
            "type": "tag.list",
            "tags": [{"type": "tag", "id": "1", "name": "vip", "applied_at": ts - 100}],
        },
        "conversation_rating": None,
        "source": {
            "type": "conversation",
            "id": "403918334",
            "delivered_as": "customer_initiated",
            "subject": "",
            "body": "<p>Hi</p>",
            "author": {"type": "user", "id": "x"},
            "attachments": [],
            "url": None,
            "redacted": False,
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": "c"}]},
        "teammates": {"type": "admin.list", "teammates": []},
        "custom_attributes": {},
        "first_contact_reply": {"created_at": ts - 500, "type": "conversation", "url": None},
        "sla_applied": None,
        "statistics": {
            "type": "conversation_statistics",
            "first_contact_reply_at": ts - 500,
            "first_assignment_at": None,
            "first_admin_reply_at": ts - 400,
            "first_close_at": None,
            "last_assignment_at": None,
            "last_assignment_admin_reply_at": None,
            "last_contact_reply_at": ts - 50,
            "last_admin_reply_at": ts - 40,
            "last_close_at": None,
            "count_reopens": 0,
            "count_assignments": 0,
            "count_conversation_parts": 3,
        },
        "linked_objects": {"type": "list", "total_count": 0, "has_more": False, "data": []},
        "ai_agent_participated": False,
    }


def per_record_us(
    records: list[dict[str, Any]], work: Callable[[dict[str, Any]], Any], repeats: int
) -> float:
    """Median µs per record of `work` over fresh copies of `records`."""
    timings = []
    for _ in range(repeats):
        batch = copy.deepcopy(records)
        start = time.perf_counter()
        for record in batch:
            work(record)
        timings.append((time.perf_counter() - start) / len(batch) * 1e6)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows = []
    for stream, make in (("contacts", contact), ("conversations", conversation)):
        records = [make(i) for i in range(args.records)]
        texts = [json.dumps(r) for r in records]
        convert = timestamp_converter(load_schema(stream))
        compiled = per_record_us(records, convert, args.repeats)
        walk = per_record_us(records, lambda r, s=stream: expected_record(s, r), args.repeats)
        start = time.perf_counter()
        for text in texts:
            json.loads(text)
        parse = (time.perf_counter() - start) / len(texts) * 1e6
        rows.append((stream, compiled, walk, parse))

    print(f"{args.records} records per run, median of {args.repeats} runs")
    print(
        f"{'stream':<14} {'converter µs':>13} {'schema walk µs':>15} {'json.loads µs':>14}"
        f" {'walk/converter':>15}"
    )
    for stream, compiled, walk, parse in rows:
        print(
            f"{stream:<14} {compiled:>13.2f} {walk:>15.2f} {parse:>14.2f}"
            f" {walk / compiled:>14.1f}x"
        )


if __name__ == "__main__":
    main()
