"""Pagination as Intercom does it: cursors, page numbers, URL-valued next, the scroll."""

from __future__ import annotations

from tests.sandbox.helpers import api, ids, search_all


def test_contacts_list_cursor_walks_every_contact_once(sandbox_factory):
    sb = sandbox_factory(contacts=120)
    session = api(sb)
    seen, params, pages = [], {"per_page": 50}, 0
    while True:
        page = session.get(f"{sb.url}/contacts", params=params, timeout=30).json()
        pages += 1
        assert page["total_count"] == 120 and page["pages"]["total_pages"] == 3
        seen += page["data"]
        if "next" not in page["pages"]:
            break
        params = {"per_page": 50, "starting_after": page["pages"]["next"]["starting_after"]}
    assert pages == 3
    assert ids(seen) == ids(sb.client.stream_truth("contacts"))


def test_exact_multiple_ends_with_an_empty_page(sandbox_factory):
    sb = sandbox_factory(contacts=100)
    session = api(sb)
    first = session.get(f"{sb.url}/contacts", params={"per_page": 50}, timeout=30).json()
    cursor = first["pages"]["next"]["starting_after"]
    second = session.get(
        f"{sb.url}/contacts", params={"per_page": 50, "starting_after": cursor}, timeout=30
    ).json()
    cursor = second["pages"]["next"]["starting_after"]
    last = session.get(
        f"{sb.url}/contacts", params={"per_page": 50, "starting_after": cursor}, timeout=30
    ).json()
    assert last["data"] == [] and "next" not in last["pages"]


def test_per_page_above_150_is_refused(intercom_sandbox):
    sb = intercom_sandbox
    response = api(sb).get(f"{sb.url}/contacts", params={"per_page": 151}, timeout=30)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parameter_invalid"
    body = {
        "query": {"field": "updated_at", "operator": ">", "value": 0},
        "pagination": {"per_page": 151},
    }
    assert api(sb).post(f"{sb.url}/contacts/search", json=body, timeout=30).status_code == 400


def test_search_sorted_ascending_on_2_16_yields_the_truth(intercom_sandbox):
    sb = intercom_sandbox
    records, pages = search_all(
        sb,
        "contacts",
        {"field": "updated_at", "operator": ">", "value": 0},
        per_page=30,
        sort={"field": "updated_at", "order": "ascending"},
        version="2.16",
    )
    stamps = [r["updated_at"] for r in records]
    assert stamps == sorted(stamps)
    assert ids(records) == ids(sb.client.stream_truth("contacts"))
    assert pages[0]["pages"]["total_pages"] == len(pages) - (len(records) % 30 == 0)


def scroll_page(sb, param=None):
    params = {"scroll_param": param} if param else {}
    return api(sb).get(f"{sb.url}/companies/scroll", params=params, timeout=30)


def test_scroll_walks_all_companies_with_one_param_and_ends_empty(sandbox_factory):
    sb = sandbox_factory(companies=120)
    first = scroll_page(sb).json()
    param, seen, pages = first["scroll_param"], list(first["data"]), [first]
    while pages[-1]["data"]:
        pages.append(scroll_page(sb, param).json())
        assert pages[-1]["scroll_param"] == param
        seen += pages[-1]["data"]
    assert [len(p["data"]) for p in pages] == [50, 50, 20, 0]
    assert ids(seen) == ids(sb.client.stream_truth("companies"))
    # the end closed the scroll: its param is gone and a new scroll may start
    assert scroll_page(sb, param).status_code == 404
    assert scroll_page(sb).status_code == 200


def test_second_scroll_is_refused_until_the_first_expires(sandbox_factory):
    sb = sandbox_factory(companies=120, scroll_idle_seconds=60)
    param = scroll_page(sb).json()["scroll_param"]
    refused = scroll_page(sb)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "scroll_exists"
    sb.client.advance_clock(61)
    assert scroll_page(sb, param).status_code == 404  # expired
    assert scroll_page(sb).status_code == 200  # and a new one may open


def test_a_500_mid_scroll_forces_a_restart(sandbox_factory):
    sb = sandbox_factory(companies=200, scroll_500_after_pages=2)
    param = scroll_page(sb).json()["scroll_param"]
    assert scroll_page(sb, param).status_code == 200
    failed = scroll_page(sb, param)
    assert failed.status_code == 500
    assert "restart the scroll" in failed.json()["errors"][0]["message"]
    assert scroll_page(sb, param).status_code == 404  # the old scroll is gone
    restarted = scroll_page(sb).json()
    seen, param = list(restarted["data"]), restarted["scroll_param"]
    while True:
        page = scroll_page(sb, param).json()
        if not page["data"]:
            break
        seen += page["data"]
    assert len(seen) == 200  # the fault fires once per setting


def test_page_numbered_lists_and_url_next(sandbox_factory):
    sb = sandbox_factory(articles=12, conversations=30, deleted_conversations=7)
    session = api(sb)
    pages = [
        session.get(f"{sb.url}/articles", params={"per_page": 5, "page": n}, timeout=30).json()
        for n in (1, 2, 3)
    ]
    assert [p["pages"]["total_pages"] for p in pages] == [3, 3, 3]
    assert [len(p["data"]) for p in pages] == [5, 5, 2]
    assert ids([a for p in pages for a in p["data"]]) == ids(sb.client.stream_truth("articles"))
    new = api(sb, "2.16")
    url, deleted = f"{sb.url}/conversations/deleted?per_page=3", []
    while url:
        page = new.get(url, timeout=30).json()
        deleted += [c["id"] for c in page["conversations"]]
        url = page["pages"]["next"]
    assert sorted(deleted) == sb.client.truth(["articles"])["deleted"]["conversations"]
    assert len(deleted) == 7
    assert (
        new.get(f"{sb.url}/conversations/deleted", params={"per_page": 61}, timeout=30).status_code
        == 400
    )


def test_events_pages_follow_the_next_url(sandbox_factory):
    sb = sandbox_factory(contacts=80)
    events = sb.client.stream_truth("contact_events")
    owner = max(
        {e["contact_id"] for e in events}, key=lambda c: sum(e["contact_id"] == c for e in events)
    )
    expected = sorted(
        (e["event_name"], e["created_at"]) for e in events if e["contact_id"] == owner
    )
    session, got = api(sb), []
    url = f"{sb.url}/events?type=user&intercom_user_id={owner}&per_page=1"
    while url:
        page = session.get(url, timeout=30).json()
        got += [(e["event_name"], e["created_at"]) for e in page["events"]]
        url = page["pages"].get("next")
    assert sorted(got) == expected and len(expected) > 1


def test_notes_are_cursor_paged(sandbox_factory):
    sb = sandbox_factory(contacts=300)
    notes = sb.client.stream_truth("contact_notes")
    owner = max(
        {n["contact_id"] for n in notes}, key=lambda c: sum(n["contact_id"] == c for n in notes)
    )
    session, got, params = api(sb), [], {"per_page": 10}
    while True:
        page = session.get(f"{sb.url}/contacts/{owner}/notes", params=params, timeout=30).json()
        got += page["data"]
        if "next" not in page["pages"]:
            break
        params = {"per_page": 10, "starting_after": page["pages"]["next"]["starting_after"]}
    assert ids(got) == ids([n for n in notes if n["contact_id"] == owner]) and len(got) > 10


def test_bad_cursor_is_refused(intercom_sandbox):
    sb = intercom_sandbox
    response = api(sb).get(f"{sb.url}/contacts", params={"starting_after": "garbage!"}, timeout=30)
    assert response.status_code == 400
