"""Benchmark: requests per run for complete contact tags/companies and deletion detection.

Run: .venv/bin/python -m bench.tap_requests [--contacts N] [--companies N]
A drifting sandbox (contacts with more than 10 tags or companies, merged and deleted
contacts, archived companies, deleted conversations in no order) of N contacts, version
2.16. Three runs of contacts, contact_tags, contact_companies, companies and
conversations: the first (no state), an incremental one after 1% of the contacts
changed and some contacts, companies and conversations were deleted, merged or archived
(contacts reconciliation not due), and the same incremental run with the contacts
reconciliation due. Prints the requests of each run by purpose and what was marked
deleted; writes bench/results/tap_requests.md. Request counts are deterministic for a
seed; the wall times are not (a shared machine).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from typing import Any

from bench.tap_common import Sandbox, print_table, run_tap, sandbox

STREAMS = ["contacts", "contact_tags", "contact_companies", "companies", "conversations"]
PURPOSES = [
    ("contacts search", r"POST /contacts/search"),
    ("contact tags (cut lists)", r"GET /contacts/[^/]+/tags"),
    ("contact companies (cut lists)", r"GET /contacts/[^/]+/companies"),
    ("contacts id listing", r"GET /contacts$"),
    ("contact confirmations (404/410)", r"GET /contacts/[^/]+$"),
    ("companies scroll", r"GET /companies/scroll"),
    ("deleted conversations", r"GET /conversations/deleted"),
    ("conversations search", r"POST /conversations/search"),
]


def _by_purpose(box: Sandbox) -> Counter[str]:
    counts: Counter[str] = Counter()
    for entry in box.client.requests():
        request = f"{entry['method']} {entry['path']}"
        purpose = next((name for name, rx in PURPOSES if re.fullmatch(rx, request)), "other")
        counts[purpose] += 1
    return counts


def _run(box: Sandbox, state: dict[str, Any] | None, **config: Any) -> tuple[Any, ...]:
    run = run_tap(box, STREAMS, state=state, intercom_version="2.16", **config)
    return run, _by_purpose(box)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=5_000)
    args = parser.parse_args()
    sizes = {"contacts": args.contacts, "companies": args.companies}
    with sandbox(**sizes, conversations=2_000, tickets=10, big_conversations=0, drift=True) as box:
        box.client.set_faults(rate_limit=1_000_000)
        first, first_requests = _run(box, None)
        box.client.advance_clock(3600)
        box.client.change("contacts", "update", args.contacts // 100)
        changes = {
            "contacts deleted": len(box.client.change("contacts", "delete", 100)),
            "leads merged": len(box.client.change("contacts", "merge", 100)),
            "companies archived": len(box.client.change("companies", "archive", 20)),
            "conversations deleted": len(box.client.change("conversations", "delete", 20)),
        }
        later, later_requests = _run(box, first.final_state)
        due, due_requests = _run(box, first.final_state, contacts_reconciliation_days=0)
    runs = {"first": first_requests, "incremental": later_requests, "reconciling": due_requests}
    rows = [(f"changes before the incremental runs: {k}", f"{v:,}") for k, v in changes.items()]
    for purpose in [name for name, _ in PURPOSES] + ["other"]:
        counts = " / ".join(f"{runs[run][purpose]:,}" for run in runs)
        rows.append((f"requests (first / incremental / reconciling): {purpose}", counts))
    totals = " / ".join(f"{sum(c.values()):,}" for c in runs.values())
    rows.append(("requests (first / incremental / reconciling): total", totals))
    for name, run in (("first", first), ("incremental", later), ("reconciling", due)):
        marked = {s: run.deleted.get(s, 0) for s in ("contacts", "companies", "conversations")}
        listed = ", ".join(f"{stream} {n:,}" for stream, n in marked.items())
        rows.append((f"{name}: deletion records", listed))
        rows.append((f"{name}: wall s", f"{run.wall:.1f}"))
    state_bytes = len(json.dumps(later.final_state))
    rows.append(("state size after the incremental run, bytes", f"{state_bytes:,}"))
    print_table(
        f"tap-intercom: requests per run, {args.contacts:,} contacts (drift, 2.16)",
        rows,
        "tap_requests.md",
    )


if __name__ == "__main__":
    main()
