"""The control API: changes, clock, truth, request log; determinism; the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from testbed.intercom import SandboxClient, SandboxOptions, run_sandbox
from tests.sandbox.helpers import api, ids, search_all

CONTRACT_STREAMS = {
    "admins",
    "teams",
    "tags",
    "segments",
    "company_attributes",
    "contact_attributes",
    "conversation_attributes",
    "ticket_types",
    "help_centers",
    "help_center_collections",
    "subscription_types",
    "news_items",
    "newsfeeds",
    "articles",
    "contacts",
    "conversations",
    "tickets",
    "companies",
    "activity_logs",
    "conversation_parts",
    "ticket_parts",
    "company_segments",
    "contact_notes",
    "contact_events",
    "contact_tags",
    "contact_companies",
}
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_truth_covers_every_contract_stream(intercom_sandbox):
    truth = intercom_sandbox.client.truth()
    assert set(truth["streams"]) == CONTRACT_STREAMS
    assert all(truth["streams"][s] for s in CONTRACT_STREAMS), "every stream has records"
    assert len(truth["deleted"]["conversations"]) == 5
    parts = truth["streams"]["conversation_parts"]
    per_conversation: dict[str, int] = {}
    for part in parts:
        per_conversation[part["conversation_id"]] = (
            per_conversation.get(part["conversation_id"], 0) + 1
        )
    assert max(per_conversation.values()) == 500  # big conversations show their newest 500
    for stream, parent in [
        ("ticket_parts", "ticket_id"),
        ("company_segments", "company_id"),
        ("contact_notes", "contact_id"),
        ("contact_events", "contact_id"),
        ("contact_tags", "contact_id"),
        ("contact_companies", "contact_id"),
    ]:
        assert all(record[parent] for record in truth["streams"][stream]), stream


def test_update_changes_stamp_sandbox_now_and_reach_search(intercom_sandbox):
    sb = intercom_sandbox
    sb.client.advance_clock(3600)
    before = {c["id"]: c for c in sb.client.stream_truth("contacts")}
    changed = sb.client.change("contacts", "update", 4)
    now = sb.client.now()
    after = {c["id"]: c for c in sb.client.stream_truth("contacts")}
    assert len(set(changed)) == 4 and set(after) == set(before)
    for ident in changed:
        assert now - 2 <= after[ident]["updated_at"] <= now
        assert after[ident]["name"] != before[ident]["name"]
    recent = {"field": "updated_at", "operator": ">", "value": now - 60}
    found = search_all(sb, "conversations", recent)[0]
    assert found == []  # contacts changed, not conversations
    convs = sb.client.change("conversations", "update", 2)
    assert ids(search_all(sb, "conversations", recent)[0]) == sorted(convs)


def test_add_and_targeted_changes(intercom_sandbox):
    sb = intercom_sandbox
    added = sb.client.change("companies", "add", 3)
    companies = {c["id"]: c for c in sb.client.stream_truth("companies")}
    assert len(companies) == 43 and set(added) <= set(companies)
    target = added[0]
    assert sb.client.change("companies", "update", ids=[target]) == [target]
    assert api(sb).get(f"{sb.url}/companies/{target}", timeout=10).json()["name"].endswith(")")
    with pytest.raises(RuntimeError, match="unknown companies ids"):
        sb.client.change("companies", "update", ids=["nope"])
    with pytest.raises(RuntimeError, match="accept actions"):
        sb.client.change("tickets", "delete", 1)


def test_parts_and_deletions(intercom_sandbox):
    sb = intercom_sandbox
    [conversation] = sb.client.change("conversations", "add_parts", 1)
    session = api(sb)
    before = session.get(f"{sb.url}/conversations/{conversation}", timeout=10).json()
    sb.client.change("conversations", "add_parts", ids=[conversation])
    after = session.get(f"{sb.url}/conversations/{conversation}", timeout=10).json()
    assert (
        after["conversation_parts"]["total_count"]
        == before["conversation_parts"]["total_count"] + 1
    )
    [ticket] = sb.client.change("tickets", "add_parts", 1)
    parts = [p for p in sb.client.stream_truth("ticket_parts") if p["ticket_id"] == ticket]
    assert parts[-1]["created_at"] == max(p["created_at"] for p in parts)
    [gone] = sb.client.change("conversations", "delete", ids=[conversation])
    assert session.get(f"{sb.url}/conversations/{gone}", timeout=10).status_code == 404
    truth = sb.client.truth(["conversations", "conversation_parts"])
    assert gone in truth["deleted"]["conversations"]
    assert gone not in ids(truth["streams"]["conversations"])
    assert all(p["conversation_id"] != gone for p in truth["streams"]["conversation_parts"])


def test_clock_moves_forward_only(intercom_sandbox):
    client = intercom_sandbox.client
    start = client.now()
    assert client.advance_clock(86400) >= start + 86400
    with pytest.raises(RuntimeError, match="forward"):
        client.advance_clock(-5)


def test_request_log_records_api_calls_only(intercom_sandbox):
    sb = intercom_sandbox
    session = api(sb)
    session.get(f"{sb.url}/contacts", params={"per_page": 3}, timeout=10)
    body = {"query": {"field": "role", "operator": "=", "value": "lead"}}
    session.post(f"{sb.url}/contacts/search", json=body, timeout=10)
    requests.get(f"{sb.url}/admins", timeout=10)
    sb.client.truth(["tags"])
    log = sb.client.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/contacts", 200),
        ("POST", "/contacts/search", 200),
        ("GET", "/admins", 401),
    ]
    assert log[0]["query"] == {"per_page": "3"} and log[1]["body"] == body
    assert all(abs(e["time"] - sb.client.now()) < 60 for e in log)
    sb.client.clear_requests()
    assert sb.client.requests() == []


def test_same_seed_same_workspace_other_seed_other_workspace():
    options = {"contacts": 40, "conversations": 20, "companies": 10, "anchor": 1_700_000_000}
    with (
        run_sandbox(SandboxOptions(seed=3, **options)) as first,
        run_sandbox(SandboxOptions(seed=3, **options)) as second,
        run_sandbox(SandboxOptions(seed=4, **options)) as other,
    ):
        streams = ["contacts", "conversations", "conversation_parts", "companies", "contact_notes"]
        truth = first.client.truth(streams)
        assert truth == second.client.truth(streams)
        assert truth["streams"]["contacts"] != other.client.truth(streams)["streams"]["contacts"]
        first.client.change("contacts", "update", 2)
        second.client.change("contacts", "update", 2)
        assert ids(first.client.stream_truth("contacts")) == ids(
            second.client.stream_truth("contacts")
        )


def test_command_line_serves_until_stopped():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "testbed.intercom",
            "--port",
            "0",
            "--contacts",
            "30",
            "--token",
            "cli-token",
            "--latency-ms",
            "1",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        response = requests.get(
            f"{url}/contacts",
            params={"per_page": 2},
            headers={"Authorization": "Bearer cli-token"},
            timeout=10,
        )
        assert response.status_code == 200 and response.json()["total_count"] == 30
        assert SandboxClient(url, timeout=10).faults()["latency_ms"] == 1
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_command_line_refuses_bad_options():
    result = subprocess.run(
        [sys.executable, "-m", "testbed.intercom", "--port", "0", "--error-rate", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "error_rate" in result.stderr


def test_updating_a_contact_leaves_its_notes_and_events_alone(intercom_sandbox):
    client = intercom_sandbox.client
    notes = client.stream_truth("contact_notes")
    owner = notes[0]["contact_id"]
    events_before = [e for e in client.stream_truth("contact_events") if e["contact_id"] == owner]
    client.advance_clock(60)
    client.change("contacts", "update", ids=[owner])
    assert [n for n in client.stream_truth("contact_notes") if n["contact_id"] == owner] == [
        n for n in notes if n["contact_id"] == owner
    ]
    events_after = [e for e in client.stream_truth("contact_events") if e["contact_id"] == owner]
    assert events_after == events_before


def test_truth_records_are_what_the_per_item_endpoints_serve(intercom_sandbox):
    sb = intercom_sandbox
    sb.client.change("conversations", "add_parts", 3)
    sb.client.change("tickets", "update", 3)
    truth = sb.client.truth(
        [
            "conversations",
            "conversation_parts",
            "tickets",
            "ticket_parts",
            "contacts",
            "companies",
            "company_segments",
        ]
    )["streams"]
    session = api(sb)
    for conversation in truth["conversations"][:40]:
        served = session.get(f"{sb.url}/conversations/{conversation['id']}", timeout=10).json()
        parts = served.pop("conversation_parts")["conversation_parts"]
        assert served == conversation
        assert [{**p, "conversation_id": conversation["id"]} for p in parts] == [
            p for p in truth["conversation_parts"] if p["conversation_id"] == conversation["id"]
        ]
    for ticket in truth["tickets"]:
        served = session.get(f"{sb.url}/tickets/{ticket['id']}", timeout=10).json()
        parts = served.pop("ticket_parts")["ticket_parts"]
        assert served == ticket
        assert len(parts) == sum(p["ticket_id"] == ticket["id"] for p in truth["ticket_parts"])
    for contact in truth["contacts"][:40]:
        assert session.get(f"{sb.url}/contacts/{contact['id']}", timeout=10).json() == contact
    for company in truth["companies"]:
        segments = session.get(f"{sb.url}/companies/{company['id']}/segments", timeout=10).json()
        assert [{**s, "company_id": company["id"]} for s in segments["data"]] == [
            s for s in truth["company_segments"] if s["company_id"] == company["id"]
        ]
