"""Benchmark-sized workspaces start at once and answer without scanning everything."""

from __future__ import annotations

import time

from testbed.intercom import SandboxOptions, run_sandbox
from tests.sandbox.helpers import api


def test_a_million_contacts_start_fast_and_page_fast():
    started = time.monotonic()
    options = SandboxOptions(contacts=1_000_000, conversations=100_000, companies=50_000)
    with run_sandbox(options) as sb:
        assert time.monotonic() - started < 5
        session = api(sb)
        query = {"field": "updated_at", "operator": ">", "value": 0}
        body = {
            "query": query,
            "pagination": {"per_page": 150},
            "sort": {"field": "updated_at", "order": "ascending"},
        }
        timings = []
        for _ in range(3):
            started = time.monotonic()
            page = session.post(f"{sb.url}/contacts/search", json=body, timeout=30).json()
            timings.append(time.monotonic() - started)
            body["pagination"]["starting_after"] = page["pages"]["next"]["starting_after"]
        assert page["total_count"] == 1_000_000 and len(page["data"]) == 150
        assert max(timings) < 2, timings
        leads = {
            "operator": "AND",
            "value": [query, {"field": "role", "operator": "=", "value": "lead"}],
        }
        started = time.monotonic()
        counted = session.post(
            f"{sb.url}/contacts/search", json={"query": leads}, timeout=30
        ).json()["total_count"]
        assert time.monotonic() - started < 5  # sampled, not a scan of a million records
        assert 150_000 < counted < 250_000  # about a fifth of the contacts are leads
        conversations = session.post(
            f"{sb.url}/conversations/search",
            timeout=30,
            json={"query": query, "pagination": {"per_page": 150}},
        )
        assert conversations.json()["total_count"] == 100_000 - options.deleted_conversations


def test_company_list_pages_in_both_orders(sandbox_factory):
    sb = sandbox_factory(companies=35)
    session = api(sb)
    for order in ("desc", "asc"):
        pages = [
            session.post(
                f"{sb.url}/companies/list",
                timeout=30,
                params={"per_page": 15, "page": n, "order": order},
            ).json()
            for n in (1, 2, 3)
        ]
        assert [len(p["data"]) for p in pages] == [15, 15, 5]
        stamps = [c["updated_at"] for p in pages for c in p["data"]]
        assert stamps == sorted(stamps, reverse=order == "desc")
