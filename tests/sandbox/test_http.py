"""Auth, API versions, rate limiting and the injectable faults."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.sandbox.helpers import api

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error.list" and body["errors"][0]["code"] == code
    assert all(name in response.headers for name in RATE_HEADERS)


def test_missing_or_wrong_token_is_401(intercom_sandbox):
    sb = intercom_sandbox
    assert_error(requests.get(f"{sb.url}/admins", timeout=10), 401, "unauthorized")
    wrong = requests.get(f"{sb.url}/admins", headers={"Authorization": "Bearer x"}, timeout=10)
    assert_error(wrong, 401, "unauthorized")
    assert sb.token not in wrong.text


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        (None, True),
        ("2.15", True),
        ("1.4", True),
        ("2.16", True),
        ("2.17", False),
        ("Unstable", False),
        ("latest", False),
    ],
)
def test_intercom_version_is_validated(intercom_sandbox, version, ok):
    response = api(intercom_sandbox, version).get(f"{intercom_sandbox.url}/admins", timeout=10)
    if ok:
        assert response.status_code == 200
    else:
        assert_error(response, 400, "intercom_version_invalid")


def test_deleted_conversations_need_version_2_16(intercom_sandbox):
    sb = intercom_sandbox
    old = api(sb, "2.15").get(f"{sb.url}/conversations/deleted", timeout=10)
    assert_error(old, 400, "intercom_version_invalid")
    assert api(sb, "2.16").get(f"{sb.url}/conversations/deleted", timeout=10).status_code == 200


def test_unknown_path_and_missing_record(intercom_sandbox):
    sb = intercom_sandbox
    assert_error(api(sb).get(f"{sb.url}/no/such/thing", timeout=10), 404, "not_found")
    assert_error(api(sb).get(f"{sb.url}/conversations/123", timeout=10), 404, "not_found")


def test_rate_limit_headers_429_and_reset(sandbox_factory):
    sb = sandbox_factory(rate_limit=5)
    now = sb.client.now()
    sb.client.advance_clock(10 - now % 10)  # start at a fresh window
    session = api(sb)
    remaining = []
    for _ in range(5):
        response = session.get(f"{sb.url}/tags", timeout=10)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    spent = session.get(f"{sb.url}/tags", timeout=10)
    assert_error(spent, 429, "rate_limit_exceeded")
    assert spent.headers["X-RateLimit-Remaining"] == "0"
    reset = int(spent.headers["X-RateLimit-Reset"])
    assert 0 < reset - sb.client.now() <= 10
    sb.client.advance_clock(reset - sb.client.now())
    again = session.get(f"{sb.url}/tags", timeout=10)
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "4"
    assert sb.client.health()["ok"]  # the control API is never rate limited


def test_latency_is_per_request_not_serialised(sandbox_factory):
    sb = sandbox_factory(latency_ms=300)
    session = api(sb)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(
            pool.map(
                lambda _: requests.get(
                    f"{sb.url}/tags", headers=dict(session.headers), timeout=10
                ).status_code,
                range(10),
            )
        )
    elapsed = time.monotonic() - started
    assert statuses == [200] * 10
    assert 0.3 <= elapsed < 2.0  # ten 300 ms requests in parallel, not 3 s in a row


def test_error_rate_answers_5xx_in_error_list_form(sandbox_factory):
    sb = sandbox_factory(error_rate=0.3)
    session = api(sb)
    statuses = [session.get(f"{sb.url}/tags", timeout=10).status_code for _ in range(100)]
    failures = [s for s in statuses if s != 200]
    assert set(failures) <= {500, 502, 503} and 15 <= len(failures) <= 45
    sb.client.set_faults(error_rate=1.0)
    response = session.get(f"{sb.url}/tags", timeout=10)
    assert response.status_code in (500, 502, 503)
    assert response.json()["errors"][0]["code"] == "server_error"


def test_429_storm_then_recovery(intercom_sandbox):
    sb = intercom_sandbox
    sb.client.set_faults(storm_429=3)
    session = api(sb)
    statuses = [session.get(f"{sb.url}/tags", timeout=10).status_code for _ in range(5)]
    assert statuses == [429, 429, 429, 200, 200]
    assert sb.client.faults()["storm_429"] == 0


def test_dropped_connections_and_truncated_bodies(intercom_sandbox):
    sb = intercom_sandbox
    sb.client.set_faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api(sb).get(f"{sb.url}/tags", timeout=10)
    sb.client.set_faults(drop_rate=0.0, truncate_rate=1.0)
    response = api(sb).get(f"{sb.url}/tags", timeout=10)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    statuses = [entry["status"] for entry in sb.client.requests()]
    assert statuses == [None, 200]  # the dropped request is logged without a status


def test_fault_settings_are_validated(intercom_sandbox):
    client = intercom_sandbox.client
    for bad in ({"no_such_fault": 1}, {"error_rate": 2}, {"latency_ms": -1}, {"storm_429": "many"}):
        with pytest.raises(RuntimeError, match="400"):
            client.set_faults(**bad)
    assert client.set_faults(latency_ms=5)["latency_ms"] == 5


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"query": None},
        {"query": []},
        {"query": {"operator": "AND", "value": "x"}},
        {"query": {"operator": "AND", "value": [1, 2]}},
        {"query": {"field": 5, "operator": "="}},
        {"query": {"field": "role", "operator": "=", "value": "user"}, "pagination": []},
        {
            "query": {"field": "role", "operator": "=", "value": "user"},
            "pagination": {"per_page": "many"},
        },
        {
            "query": {"field": "role", "operator": "=", "value": "user"},
            "pagination": {"starting_after": "WzEsICJ4Il0"},
        },  # [1, "x"]
        {
            "query": {"field": "role", "operator": "=", "value": "user"},
            "pagination": {"starting_after": 17},
        },
        {"query": {"field": "updated_at", "operator": ">", "value": True}},
        {"query": {"field": "custom_attributes.score", "operator": ">", "value": "x"}},
    ],
)
def test_malformed_searches_are_400s_not_crashes(intercom_sandbox, body):
    sb = intercom_sandbox
    response = api(sb).post(f"{sb.url}/contacts/search", json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error.list"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/contacts", {"starting_after": "WzEsICJ4Il0"}),
        ("/contacts", {"per_page": "-3"}),
        ("/conversations", {"starting_after": "WzEsIFsieCJdXQ"}),  # [1, ["x"]]
        ("/articles", {"page": "zero"}),
        ("/admins/activity_logs", {}),
        ("/admins/activity_logs", {"created_at_after": "yesterday"}),
        ("/events", {"type": "user"}),
        ("/events", {"type": "lead", "intercom_user_id": "x"}),
        ("/data_attributes", {"model": "ticket"}),
        ("/companies/list", {}),
    ],
)
def test_malformed_requests_are_client_errors(intercom_sandbox, path, params):
    sb = intercom_sandbox
    response = api(sb).get(f"{sb.url}{path}", params=params, timeout=10)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["type"] == "error.list"


def test_a_sandbox_bug_is_reported_not_disguised(monkeypatch):
    from testbed.intercom import SandboxOptions, run_sandbox

    with run_sandbox(SandboxOptions(contacts=5)) as sb:

        def broken(request):
            raise RuntimeError("boom")

        monkeypatch.setattr(sb.server.api, "handle", broken)
        response = api(sb).get(f"{sb.url}/tags", timeout=10)
        assert response.status_code == 500
        assert response.json()["errors"][0]["code"] == "sandbox_internal_error"
        assert sb.client.health()["internal_errors"] == ["GET /tags: RuntimeError('boom')"]


def test_a_client_that_went_away_prints_no_traceback(intercom_sandbox, capsys):
    # A killed tap drops its connections mid-answer; only real faults are printed.
    server = intercom_sandbox.server
    for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
        try:
            raise error
        except ConnectionError:
            server.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    try:
        raise ValueError("a sandbox bug")
    except ValueError:
        server.handle_error(None, ("127.0.0.1", 1))
    assert "ValueError: a sandbox bug" in capsys.readouterr().err
