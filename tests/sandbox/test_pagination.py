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


def test_search_sorted_ascending_yields_the_truth(intercom_sandbox):
    sb = intercom_sandbox
    records, pages = search_all(
        sb,
        "contacts",
        {"field": "updated_at", "operator": ">", "value": 0},
        per_page=30,
        sort={"field": "updated_at", "order": "ascending"},
    )
    stamps = [r["updated_at"] for r in records]
    assert stamps == sorted(stamps)
    assert ids(records) == ids(sb.client.stream_truth("contacts"))
    assert pages[0]["pages"]["total_pages"] == len(pages) - (len(records) % 30 == 0)
