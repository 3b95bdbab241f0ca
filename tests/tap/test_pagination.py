"""The page-token rules and the companies scroll rules, without a server."""

from __future__ import annotations

import logging

import pytest
import requests
from tap_intercom.errors import IntercomAPIError, ServerError
from tap_intercom.pagination import CompanyScroll, ScrollError, next_page_token

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


class FakeScroll:
    """A scroll endpoint: the same `scroll_param` on every page, faults on demand."""

    def __init__(self, total: int, page: int = 3, fail_at: dict[int, Exception] | None = None):
        self.companies = [_company(n) for n in range(total)]
        self.page = page
        self.fail_at = fail_at or {}
        self.calls = 0
        self.position = 0

    def __call__(self, params: dict) -> dict:
        self.calls += 1
        if self.calls in self.fail_at:
            self.position += self.page  # the failed page is lost server-side
            raise self.fail_at[self.calls]
        if not params:
            self.position = 0
        data = self.companies[self.position : self.position + self.page]
        self.position += self.page
        return {"type": "list", "data": data, "scroll_param": "same-every-time"}


def _all(scroll: CompanyScroll) -> list[str]:
    return [company["id"] for page in scroll.pages() for company in page]


def test_scroll_reads_every_company_once_with_a_repeated_param():
    fake = FakeScroll(10)
    assert _all(CompanyScroll(fake, LOGGER)) == [str(n) for n in range(10)]
    assert fake.calls == 5  # 4 pages with data, 1 empty page ends it


def test_scroll_restarts_after_a_500_and_skips_what_it_already_yielded(monkeypatch):
    monkeypatch.setattr("tap_intercom.pagination.time.sleep", lambda seconds: None)
    response = requests.Response()
    response.status_code = 500
    fake = FakeScroll(10, fail_at={3: ServerError("500", response)})
    scroll = CompanyScroll(fake, LOGGER)
    assert _all(scroll) == [str(n) for n in range(10)]
    assert scroll.restarts == 1


def test_scroll_restarts_are_bounded(monkeypatch):
    monkeypatch.setattr("tap_intercom.pagination.time.sleep", lambda seconds: None)
    fake = FakeScroll(10, fail_at={n: requests.ConnectionError("dropped") for n in range(2, 50)})
    with pytest.raises(ScrollError, match="failed 3 times"):
        _all(CompanyScroll(fake, LOGGER, max_restarts=2))


def test_scroll_exists_is_waited_out_then_gives_up(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr("tap_intercom.pagination.time.sleep", sleeps.append)
    exists = IntercomAPIError("scroll exists", 400, ("scroll_exists",))
    fake = FakeScroll(4, fail_at={1: exists, 2: exists})
    assert _all(CompanyScroll(fake, LOGGER, scroll_exists_wait_seconds=5)) == ["0", "1", "2", "3"]
    assert sleeps == [5, 5]

    always = FakeScroll(4, fail_at={n: exists for n in range(1, 100)})
    with pytest.raises(ScrollError, match="stayed open"):
        _all(
            CompanyScroll(
                always, LOGGER, scroll_exists_wait_seconds=5, scroll_exists_max_wait_seconds=20
            )
        )


def test_scroll_that_repeats_a_page_stops_instead_of_looping():
    def repeating(params: dict) -> dict:
        return {"data": [_company(1), _company(2)], "scroll_param": "p"}

    with pytest.raises(ScrollError, match="already returned"):
        _all(CompanyScroll(repeating, LOGGER))
