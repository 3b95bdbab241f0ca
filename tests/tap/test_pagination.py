"""The page-token rules and the companies scroll rules, without a server."""

from __future__ import annotations

import logging
import tracemalloc

import msgspec
import pytest
import requests
from tap_intercom.companies_scroll import CompanyScroll, ScrollError
from tap_intercom.deletions import IdListPage, ListedId
from tap_intercom.errors import IntercomAPIError, NotFoundError, ServerError
from tap_intercom.pagination import next_page_token

LOGGER = logging.getLogger("test")


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        ({"pages": {"next": {"starting_after": "abc"}}}, {"starting_after": "abc"}),
        ({"pages": {"page": 2, "total_pages": 3}}, {"page": 3}),
        ({"pages": {"page": 3, "total_pages": 3}}, None),
        (
            {
                "pages": {
                    "next": "https://elsewhere.example/conversations/deleted?page=2&per_page=60"
                }
            },
            {"path": "/conversations/deleted", "params": {"page": "2", "per_page": "60"}},
        ),
        ({"pages": {"next": None, "page": 1, "total_pages": 1}}, None),
        ({"data": []}, None),
    ],
)
def test_next_page_token_reads_every_form_of_pages(payload, token):
    assert next_page_token(payload) == token


def _company(number: int) -> dict:
    return {"id": str(number), "updated_at": number}


def _server_error() -> ServerError:
    response = requests.Response()
    response.status_code = 500
    return ServerError("500 server error", response)


class FakeScroll:
    """A scroll endpoint as Intercom runs it: one open scroll, the same `scroll_param`
    on every page, closed by its empty last page; faults by call number."""

    def __init__(self, total: int, *, lose=(), abort=(), exists_for: int = 0):
        self.companies = [_company(n) for n in range(total)]
        self.lose, self.abort, self.exists_for = set(lose), set(abort), exists_for
        self.calls = 0
        self.position = 0
        self.open = False

    def __call__(self, params: dict) -> dict:
        self.calls += 1
        if not params:
            if self.open or self.exists_for > 0:
                self.exists_for -= 1
                raise IntercomAPIError("scroll exists", 400, ("scroll_exists",))
            self.open, self.position = True, 0
        elif not self.open:
            raise NotFoundError("scroll parameter not found", 404, ("not_found",))
        if self.calls in self.abort:
            self.open = False
            raise _server_error()
        data = self.companies[self.position : self.position + 3]
        self.position += 3
        if not data:
            self.open = False
        if self.calls in self.lose:  # answered, but the answer never arrived
            raise requests.ConnectionError("connection dropped")
        return {"type": "list", "data": data, "scroll_param": "same-every-time"}


def _all(scroll: CompanyScroll) -> list[str]:
    return [company["id"] for page in scroll.pages() for company in page]


ALL_TEN = [str(n) for n in range(10)]


def test_scroll_reads_every_company_once_with_a_repeated_param():
    fake = FakeScroll(10)
    assert _all(CompanyScroll(fake, LOGGER)) == ALL_TEN
    assert fake.calls == 5  # 4 pages with data, 1 empty page ends it


def test_a_lost_page_is_recovered_by_a_second_scroll_after_the_first_ends():
    fake = FakeScroll(10, lose={2})
    scroll = CompanyScroll(fake, LOGGER)
    assert sorted(_all(scroll), key=int) == ALL_TEN
    assert scroll.restarts == 1


def test_a_500_mid_scroll_restarts_it_and_skips_what_was_already_yielded():
    fake = FakeScroll(10, abort={3})
    scroll = CompanyScroll(fake, LOGGER)
    ids = _all(scroll)
    assert sorted(ids, key=int) == ALL_TEN and len(ids) == 10
    assert scroll.restarts == 1


def test_scroll_restarts_are_bounded():
    fake = FakeScroll(10, lose=set(range(2, 200, 3)))
    with pytest.raises(ScrollError, match="lost pages in 3 scrolls"):
        _all(CompanyScroll(fake, LOGGER, max_restarts=2))


def test_scroll_exists_is_waited_out_then_gives_up(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr("tap_intercom.companies_scroll.time.sleep", sleeps.append)
    fake = FakeScroll(4, exists_for=2)
    assert _all(CompanyScroll(fake, LOGGER, scroll_exists_wait_seconds=0.01)) == [
        "0",
        "1",
        "2",
        "3",
    ]
    assert sleeps == [0.01, 0.01]

    always = FakeScroll(4, exists_for=10**6)
    with pytest.raises(ScrollError, match="could not open"):
        _all(
            CompanyScroll(
                always, LOGGER, scroll_exists_wait_seconds=0.01, scroll_exists_max_wait_seconds=0.05
            )
        )


def test_scroll_that_repeats_a_page_stops_instead_of_looping():
    def repeating(params: dict) -> dict:
        return {"data": [_company(1), _company(2)], "scroll_param": "p"}

    with pytest.raises(ScrollError, match="no company it had not returned before"):
        _all(CompanyScroll(repeating, LOGGER))


def test_a_page_decoded_as_a_struct_is_followed_like_a_dict():
    """The reconciliation's minimal decoding (IdListPage) keeps `pages` as Intercom sent it."""
    body = (
        b'{"type":"list","data":[{"id":"a1","created_at":5,"name":"x","custom_attributes":{}}],'
        b'"pages":{"next":{"page":2,"starting_after":"abc"},"page":1,"total_pages":2}}'
    )
    payload = msgspec.json.Decoder(IdListPage).decode(body)
    assert next_page_token(payload) == {"starting_after": "abc"}
    assert payload.data == [ListedId("a1", 5)]
    assert next_page_token(msgspec.json.Decoder(IdListPage).decode(b'{"data":[]}')) is None


def test_scroll_memory_does_not_grow_with_the_companies_it_lists():
    """The ids a scroll has listed (for restarts and loop detection) are kept on disk:
    Python sets of 45,000 ids would take several MB."""
    per_page, pages = 150, 300
    served = 0

    def endless(params: dict) -> dict:
        nonlocal served
        data = [{"id": f"{served + n:024x}"} for n in range(per_page)] if served < 45_000 else []
        served += len(data)
        return {"data": data, "scroll_param": "p"}

    tracemalloc.start()
    try:
        listed = sum(len(page) for page in CompanyScroll(endless, LOGGER).pages())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert listed == per_page * pages
    assert peak < 1_000_000
