"""The drifting sandbox's people: crowded contacts, deleted and merged contacts, archived
companies, unordered deleted conversations, segment sizes."""

from __future__ import annotations

from testbed.intercom.__main__ import parse_args
from testbed.intercom.drift import unkeyed_item
from tests.sandbox.helpers import api, ids, search_all


def _drifting(sandbox_factory, **overrides):
    return sandbox_factory(drift=True, **{"contacts": 300, "companies": 60, **overrides})


def _all_pages(session, url: str, key: str, **params) -> list[dict]:
    items, page = [], 1
    while True:
        body = session.get(url, params={**params, "page": page}, timeout=30).json()
        items += body[key]
        following = body["pages"].get("next")
        if page >= body["pages"]["total_pages"]:
            assert not following
            return items
        assert following is None or following.endswith(f"page={page + 1}")
        page += 1


def test_the_drift_flag_is_a_cli_switch():
    assert parse_args(["--drift"]).drift is True
    assert parse_args([]).drift is False


def test_crowded_contacts_embed_10_and_serve_the_full_lists(sandbox_factory):
    sb = _drifting(sandbox_factory)
    session = api(sb)
    contacts = sb.client.stream_truth("contacts")
    unkeyed_lists = 0
    for what in ("tags", "companies"):
        crowded = [c for c in contacts if c[what]["has_more"]]
        assert crowded, f"no contact with more than 10 {what}"
        for contact in crowded:
            embedded = contact[what]
            assert len(embedded["data"]) == 10 < embedded["total_count"]
            url = f"{sb.url}{embedded['url']}"
            if what == "tags":
                full = session.get(url, timeout=30).json()["data"]
            else:  # paged; the drifting sandbox names the list `data`, as the example does
                full = _all_pages(session, url, "data", per_page=4)
            assert len(full) == embedded["total_count"]
            unkeyed = (
                unkeyed_item(sb.server.options.seed, contact["id"]) if what == "companies" else None
            )
            if unkeyed is not None:  # drift: that company comes without its id
                assert "id" not in full[unkeyed]
                full[unkeyed] = {**full[unkeyed], "id": embedded["data"][unkeyed]["id"]}
            assert [i["id"] for i in full[:10]] == [i["id"] for i in embedded["data"]]
            unkeyed_lists += unkeyed is not None
    assert unkeyed_lists, "no company list served without an id: the drift kind is untested"
    plain = sandbox_factory(contacts=50)
    contact = plain.client.stream_truth("contacts")[0]
    listed = api(plain).get(f"{plain.url}/contacts/{contact['id']}/companies", timeout=30).json()
    assert "companies" in listed and listed["total_count"] == contact["companies"]["total_count"]


def test_deleted_and_merged_contacts_answer_404_and_leave_lists_and_search(sandbox_factory):
    sb = _drifting(sandbox_factory)
    pre_deleted = set(sb.client.deleted("contacts"))
    assert pre_deleted, "the drifting workspace starts with deleted and merged contacts"
    deleted = set(sb.client.change("contacts", "delete", 2))
    merged = set(sb.client.change("contacts", "merge", 2))
    gone = pre_deleted | deleted | merged
    session = api(sb)
    for ident in deleted | merged:
        assert session.get(f"{sb.url}/contacts/{ident}", timeout=30).status_code == 404
    searched, _ = search_all(sb, "contacts", {"field": "updated_at", "operator": ">", "value": 0})
    listed = _listed_contacts(api(sb, "2.16"), sb.url)
    assert ids(listed) == ids(searched) == ids(sb.client.stream_truth("contacts"))
    assert not gone & set(ids(listed)) and len(listed) == 300 - len(gone)
    histories = [m["source_contact_id"] for c in listed for m in c.get("merge_history") or ()]
    assert merged <= set(histories) <= gone


def _listed_contacts(session, url: str) -> list[dict]:
    """Every page of GET /contacts, with merge history (2.16)."""
    listed, params = [], {"per_page": 150, "include_merge_history": "true"}
    while True:
        page = session.get(f"{url}/contacts", params=params, timeout=30).json()
        listed += page["data"]
        if "next" not in page["pages"]:
            return listed
        params["starting_after"] = page["pages"]["next"]["starting_after"]


def test_merge_history_pages_and_refuses_leads_and_old_versions(sandbox_factory):
    sb = _drifting(sandbox_factory)
    lead = next(c for c in sb.client.stream_truth("contacts") if c["role"] == "lead")
    session = api(sb, "2.16")
    assert session.get(f"{sb.url}/contacts/{lead['id']}/merge_history").status_code == 404
    assert api(sb).get(f"{sb.url}/contacts/{lead['id']}/merge_history").status_code == 400
    sb.client.change("contacts", "merge", 6)
    users = _listed_contacts(session, sb.url)
    user = max(users, key=lambda c: len(c.get("merge_history") or ()))
    history, cursor = [], None
    while True:
        params = {"per_page": 1, **({"cursor": cursor} if cursor else {})}
        body = session.get(f"{sb.url}/contacts/{user['id']}/merge_history", params=params).json()
        history += body["data"]
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
    assert history == user["merge_history"] and history


def test_archived_companies_leave_the_scroll_the_list_and_get(sandbox_factory):
    sb = _drifting(sandbox_factory)
    archived = set(sb.client.change("companies", "archive", 3)) | set(
        sb.client.deleted("companies")
    )
    session = api(sb)
    scrolled, param = [], None
    while True:
        body = session.get(
            f"{sb.url}/companies/scroll", params={"scroll_param": param} if param else {}
        ).json()
        if not body["data"]:
            break
        scrolled += body["data"]
        param = body["scroll_param"]
    listed = _all_pages(session, f"{sb.url}/companies", "data", per_page=50)
    assert ids(scrolled) == ids(listed) == ids(sb.client.stream_truth("companies"))
    assert not archived & set(ids(scrolled)) and len(scrolled) == 60 - len(archived)
    for ident in archived:
        assert session.get(f"{sb.url}/companies/{ident}", timeout=30).status_code == 404


def test_deleted_conversations_come_in_neither_id_nor_deleted_at_order(sandbox_factory):
    sb = _drifting(sandbox_factory, conversations=80, deleted_conversations=12)
    body = api(sb, "2.16").get(f"{sb.url}/conversations/deleted", params={"per_page": 60}).json()
    listed = body["conversations"]
    assert len(listed) == 12
    for key in (lambda c: int(c["id"]), lambda c: c["deleted_at"]):
        assert listed not in (sorted(listed, key=key), sorted(listed, key=key, reverse=True))


def test_segment_counts_are_the_live_members(sandbox_factory):
    sb = _drifting(sandbox_factory)
    session = api(sb)
    before = {
        s["id"]: s["count"]
        for s in session.get(f"{sb.url}/segments", params={"include_count": "true"}).json()[
            "segments"
        ]
    }
    assert sum(before.values()) > 0
    assert {s["id"]: s["count"] for s in sb.client.stream_truth("segments")} == before
    sb.client.change("contacts", "delete", 30)
    after = session.get(f"{sb.url}/segments", params={"include_count": "true"}).json()
    assert sum(s["count"] for s in after["segments"]) < sum(before.values())
