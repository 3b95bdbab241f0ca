"""Search semantics: operators, nesting limits, contact day-granular dates, sort, lag."""

from __future__ import annotations

import pytest

from tests.sandbox.helpers import ids, search, search_all

DAY = 86400


@pytest.fixture(scope="module")
def sb():
    from testbed.intercom import SandboxOptions, run_sandbox

    with run_sandbox(SandboxOptions(contacts=300, conversations=120, tickets=40)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def contacts(sb):
    return sb.client.stream_truth("contacts")


def found(sb, kind: str, query: dict) -> list[str]:
    return ids(search_all(sb, kind, query, per_page=150)[0])


def refused(sb, kind: str, query: dict) -> dict:
    response = search(sb, kind, query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "error.list" and body["errors"][0]["code"]
    return body


def test_string_operators(sb, contacts):
    probe = next(c for c in contacts if c["name"])
    first = probe["name"].split()[0]
    expectations = {
        "=": lambda c: c["email"] == probe["email"],
        "!=": lambda c: c["email"] != probe["email"],
        "~": lambda c: probe["email_domain"] in c["email"],
        "!~": lambda c: probe["email_domain"] not in c["email"],
        "^": lambda c: c["email"].startswith(first.lower()),
        "$": lambda c: c["email"].endswith(probe["email_domain"]),
    }
    values = {
        "=": probe["email"],
        "!=": probe["email"],
        "~": probe["email_domain"],
        "!~": probe["email_domain"],
        "^": first.lower(),
        "$": probe["email_domain"],
    }
    for operator, expected in expectations.items():
        query = {"field": "email", "operator": operator, "value": values[operator]}
        assert found(sb, "contacts", query) == ids([c for c in contacts if expected(c)]), operator


def test_in_nin_and_integer_operators(sb, contacts):
    roles = {"field": "role", "operator": "IN", "value": ["lead"]}
    assert found(sb, "contacts", roles) == ids([c for c in contacts if c["role"] == "lead"])
    not_roles = {"field": "role", "operator": "NIN", "value": ["lead"]}
    assert found(sb, "contacts", not_roles) == ids([c for c in contacts if c["role"] != "lead"])
    seats = [c["custom_attributes"]["seats"] for c in contacts]
    pivot = sorted(seats)[len(seats) // 2]
    checks = {
        ">": lambda v: v > pivot,
        "<": lambda v: v < pivot,
        ">=": lambda v: v >= pivot,
        "<=": lambda v: v <= pivot,
    }
    for operator, keep in checks.items():
        query = {"field": "custom_attributes.seats", "operator": operator, "value": pivot}
        expected = [c for c in contacts if keep(c["custom_attributes"]["seats"])]
        assert found(sb, "contacts", query) == ids(expected), operator


def test_boolean_and_nested_groups(sb, contacts):
    query = {
        "operator": "OR",
        "value": [
            {
                "operator": "AND",
                "value": [
                    {"field": "role", "operator": "=", "value": "user"},
                    {"field": "unsubscribed_from_emails", "operator": "=", "value": True},
                ],
            },
            {
                "operator": "AND",
                "value": [
                    {"field": "role", "operator": "=", "value": "lead"},
                    {"field": "custom_attributes.vip", "operator": "=", "value": "true"},
                ],
            },
        ],
    }
    expected = [
        c
        for c in contacts
        if (c["role"] == "user" and c["unsubscribed_from_emails"])
        or (c["role"] == "lead" and c["custom_attributes"]["vip"])
    ]
    assert expected and found(sb, "contacts", query) == ids(expected)


def test_nesting_and_group_size_limits(sb):
    leaf = {"field": "role", "operator": "=", "value": "user"}
    two_levels = {"operator": "AND", "value": [{"operator": "OR", "value": [leaf, leaf]}]}
    assert search(sb, "contacts", two_levels).status_code == 200
    three_levels = {
        "operator": "AND",
        "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [leaf]}]}],
    }
    refused(sb, "contacts", three_levels)
    assert search(sb, "contacts", {"operator": "OR", "value": [leaf] * 15}).status_code == 200
    refused(sb, "contacts", {"operator": "OR", "value": [leaf] * 16})
    refused(
        sb,
        "conversations",
        {"operator": "OR", "value": [{"field": "open", "operator": "=", "value": True}] * 16},
    )


def test_bad_fields_operators_and_values_are_refused(sb):
    refused(sb, "contacts", {"field": "no_such_field", "operator": "=", "value": "x"})
    refused(sb, "contacts", {"field": "created_at", "operator": "=", "value": "foobar"})
    refused(sb, "contacts", {"field": "role", "operator": ">", "value": "user"})
    refused(sb, "contacts", {"field": "role", "operator": "IN", "value": "user"})
    refused(sb, "contacts", {"field": "tag_id", "operator": "IN", "value": ["1"]})
    refused(sb, "contacts", {"field": "role", "operator": "LIKE", "value": "user"})
    assert (
        search(
            sb,
            "contacts",
            {"field": "role", "operator": "=", "value": "user"},
            pagination={"per_page": 0},
        ).status_code
        == 400
    )


@pytest.mark.parametrize("operator", [">=", "<=", "!=", "IN", "NIN"])
def test_contact_date_operators_that_intercom_refuses(sb, operator):
    value = [1700000000] if operator in ("IN", "NIN") else 1700000000
    body = refused(sb, "contacts", {"field": "updated_at", "operator": operator, "value": value})
    assert "date" in body["errors"][0]["message"]


def test_contact_dates_match_by_calendar_day(sb, contacts):
    probe = contacts[len(contacts) // 2]["updated_at"]
    midday = probe - probe % DAY + DAY // 2  # same day as probe, a different second
    day = midday - midday % DAY

    def query(op: str) -> dict:
        return {"field": "updated_at", "operator": op, "value": midday}

    assert found(sb, "contacts", query("=")) == ids(
        [c for c in contacts if day <= c["updated_at"] < day + DAY]
    )
    assert found(sb, "contacts", query(">")) == ids(
        [c for c in contacts if c["updated_at"] >= day + DAY]
    )  # from the next day on
    assert found(sb, "contacts", query("<")) == ids(
        [c for c in contacts if c["updated_at"] < day]
    )  # before the day starts
    same_day_later = [c for c in contacts if midday < c["updated_at"] < day + DAY]
    assert not set(ids(same_day_later)) & set(found(sb, "contacts", query(">")))


def test_conversation_dates_are_second_granular_and_inclusive(sb):
    conversations = sb.client.stream_truth("conversations")
    pivot = sorted(c["updated_at"] for c in conversations)[len(conversations) // 2]
    greater = {"field": "updated_at", "operator": ">", "value": pivot}
    lower = {"field": "updated_at", "operator": "<", "value": pivot}
    assert found(sb, "conversations", greater) == ids(
        [c for c in conversations if c["updated_at"] >= pivot]
    )
    assert found(sb, "conversations", lower) == ids(
        [c for c in conversations if c["updated_at"] <= pivot]
    )
    refused(sb, "conversations", {"field": "updated_at", "operator": ">=", "value": pivot})
    exact = {"field": "updated_at", "operator": "=", "value": pivot}
    assert found(sb, "conversations", exact) == ids(
        [c for c in conversations if c["updated_at"] == pivot]
    )


def test_conversation_search_order_is_newest_first_even_when_asked_otherwise(sb):
    query = {"field": "updated_at", "operator": ">", "value": 0}
    records, _ = search_all(
        sb, "conversations", query, per_page=25, sort={"field": "updated_at", "order": "ascending"}
    )
    stamps = [c["updated_at"] for c in records]
    assert stamps == sorted(stamps, reverse=True) and stamps != sorted(stamps)


def test_conversation_fields_lists_and_body_words(sb):
    conversations = sb.client.stream_truth("conversations")
    probe = next(c for c in conversations if c["contacts"]["contacts"])
    contact_id = probe["contacts"]["contacts"][0]["id"]
    query = {"field": "contact_ids", "operator": "=", "value": contact_id}
    assert found(sb, "conversations", query) == ids(
        [c for c in conversations if contact_id in [x["id"] for x in c["contacts"]["contacts"]]]
    )
    word = probe["source"]["body"].removeprefix("<p>").split()[1].lower()
    body_query = {"field": "source.body", "operator": "=", "value": word}
    assert probe["id"] in found(sb, "conversations", body_query)
    phrase = {"field": "source.body", "operator": "=", "value": f"{word} {word}"}
    assert search(sb, "conversations", phrase).json()["total_count"] == 0


def test_ticket_category_terms_and_created_at_range(sb):
    tickets = sb.client.stream_truth("tickets")
    query = {"field": "category", "operator": "=", "value": "request"}
    assert found(sb, "tickets", query) == ids([t for t in tickets if t["category"] == "Customer"])
    pivot = sorted(t["created_at"] for t in tickets)[len(tickets) // 2]
    ranged = {"field": "created_at", "operator": ">=", "value": pivot}
    assert found(sb, "tickets", ranged) == ids([t for t in tickets if t["created_at"] >= pivot])
    refused(sb, "tickets", {"field": "updated_at", "operator": "<=", "value": pivot})


def test_contact_sort_by_another_field_on_2_16(sb, contacts):
    query = {"field": "role", "operator": "=", "value": "user"}
    by_email = {"field": "email", "order": "ascending"}
    records, _ = search_all(sb, "contacts", query, per_page=40, sort=by_email, version="2.16")
    emails = [c["email"] for c in records]
    assert emails == sorted(emails)
    assert ids(records) == ids([c for c in contacts if c["role"] == "user"])
    descending, _ = search_all(
        sb,
        "contacts",
        query,
        per_page=40,
        sort={"field": "updated_at", "order": "descending"},
        version="2.16",
    )
    stamps = [c["updated_at"] for c in descending]
    assert stamps == sorted(stamps, reverse=True)
    sideways = {"field": "updated_at", "order": "sideways"}
    bad = search(sb, "contacts", query, version="2.16", sort=sideways)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "invalid_sort_order"
    assert search(sb, "contacts", query, version="2.16", sort="name").status_code == 400


def test_contact_sort_is_ignored_on_2_15_whose_request_lists_none(sb, contacts):
    """2.15's `search_request` has no `sort`: asked for any, the default order comes back
    (newest updated first), and a malformed one is not checked."""
    query = {"field": "updated_at", "operator": ">", "value": 0}
    default, _ = search_all(sb, "contacts", query, per_page=40)
    for sort in ({"field": "updated_at", "order": "ascending"}, {"field": "email"}):
        asked, _ = search_all(sb, "contacts", query, per_page=40, sort=sort)
        assert [c["id"] for c in asked] == [c["id"] for c in default]
    stamps = [c["updated_at"] for c in default]
    assert stamps == sorted(stamps, reverse=True) and stamps != sorted(stamps)
    assert ids(default) == ids(contacts)
    sideways = {"field": "updated_at", "order": "sideways"}
    for malformed in ("name", sideways):
        assert search(sb, "contacts", query, sort=malformed).status_code == 200


def test_new_contacts_appear_in_search_after_the_indexing_lag(sandbox_factory):
    sb = sandbox_factory(contacts=20, search_lag_seconds=120)
    added = sb.client.change("contacts", "add", 3)
    everything = {"field": "updated_at", "operator": ">", "value": 0}
    assert not set(added) & set(found(sb, "contacts", everything))
    assert search(sb, "contacts", everything).json()["total_count"] == 20
    sb.client.advance_clock(121)
    assert set(added) <= set(found(sb, "contacts", everything))
    assert search(sb, "contacts", everything).json()["total_count"] == 23


def test_null_values_and_windows_combined_with_other_filters(sb, contacts):
    assert (
        search(sb, "contacts", {"field": "updated_at", "operator": "=", "value": None}).json()[
            "total_count"
        ]
        == 0
    )
    no_phone = {"field": "phone", "operator": "=", "value": None}
    assert found(sb, "contacts", no_phone) == ids([c for c in contacts if c["phone"] is None])
    pivot = sorted(c["updated_at"] for c in contacts)[100]
    day = pivot - pivot % DAY
    mixed = {
        "operator": "AND",
        "value": [
            {"field": "updated_at", "operator": ">", "value": pivot},
            {"field": "role", "operator": "=", "value": "user"},
        ],
    }
    expected = [c for c in contacts if c["updated_at"] >= day + DAY and c["role"] == "user"]
    response = search(sb, "contacts", mixed, pagination={"per_page": 5}).json()
    assert response["total_count"] == len(expected)
    assert found(sb, "contacts", mixed) == ids(expected)
