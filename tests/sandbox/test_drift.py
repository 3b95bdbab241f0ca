"""The sandbox's `--drift` values and refusals: served as the truth says, switchable at run
time, refusals answered in Intercom's error form."""

from __future__ import annotations

import pytest

from testbed.intercom.__main__ import parse_args
from testbed.intercom.drift import (
    CONVERTED,
    DRIFT_REFUSALS,
    FREE_NAME,
    NESTED_FIELD,
    NEW_FIELD,
    UNCONVERTIBLE,
)
from tests.sandbox.helpers import api
from tests.sandbox.test_spec_conformance import assert_valid, named

DETAIL_PATHS = {
    "contacts": "/contacts/{}",
    "companies": "/companies/{}",
    "conversations": "/conversations/{}",
    "tickets": "/tickets/{}",
}


def _at(value, steps):
    for step in steps:
        value = value[step]
    return value


def test_refusals_and_drift_are_cli_options():
    refuse = ["--refuse", "/tags=not_found", "--refuse", "/teams=unauthorized"]
    options = parse_args(["--drift", *refuse])
    assert options.drift is True
    assert options.refusals == {"/tags": "not_found", "/teams": "unauthorized"}
    assert options.effective_refusals() == {**DRIFT_REFUSALS, **options.refusals}
    assert parse_args([]).effective_refusals() == {}


def test_an_unknown_refusal_code_is_refused_by_name(sandbox_factory):
    with pytest.raises(ValueError, match="refusal code 'nope' unknown"):
        sandbox_factory(refusals={"/tags": "nope"})


def test_every_drifted_value_of_the_truth_is_what_the_api_serves(sandbox_factory):
    sb = sandbox_factory(contacts=30, companies=8, conversations=10, tickets=6, drift=True)
    session = api(sb)
    sites = sb.client.truth()["drifted"]
    assert {site["kind"] for site in sites} == {
        CONVERTED,
        UNCONVERTIBLE,
        NEW_FIELD,
        NESTED_FIELD,
        FREE_NAME,
    }
    parts = {}
    for site in sites:
        if site["stream"] == "conversation_parts":
            continue
        record = session.get(
            sb.url + DETAIL_PATHS[site["stream"]].format(site["id"]), timeout=30
        ).json()
        assert _at(record, site["path"]) == site["sent"], site
        if site["stream"] == "conversations":
            for part in record["conversation_parts"]["conversation_parts"]:
                parts[part["id"]] = part
    part_sites = [site for site in sites if site["stream"] == "conversation_parts"]
    assert part_sites
    for site in part_sites:
        assert _at(parts[site["id"]], site["path"]) == site["sent"], site
    closers = [s for s in sites if s["path"] == ["statistics", "last_closed_by_id"]]
    assert closers and all(isinstance(s["sent"], int) for s in closers)
    assert all(s["expected"] == str(s["sent"]) for s in closers)


def test_drift_switches_at_run_time_and_without_it_nothing_drifts(sandbox_factory):
    sb = sandbox_factory(contacts=10, conversations=6, companies=3, tickets=2)
    assert sb.client.truth()["drifted"] == []
    assert sb.client.set_drift(enabled=True)["effective_refusals"] == DRIFT_REFUSALS
    assert sb.client.truth()["drifted"]
    sb.client.set_drift(enabled=False)
    assert sb.client.truth()["drifted"] == []


def test_refusals_answer_as_intercom_and_can_be_lifted(sandbox_factory):
    sb = sandbox_factory(drift=True)
    session = api(sb)
    for path, code in DRIFT_REFUSALS.items():
        answer = session.get(f"{sb.url}{path}", params={"created_at_after": 0}, timeout=30)
        assert answer.status_code == 403
        assert answer.json()["errors"][0]["code"] == code
        assert_valid("2.15", named("error"), answer.json(), path)
    sb.client.set_drift(refusals={"/tags": "not_found", "/teams": "token_unauthorized"})
    assert session.get(f"{sb.url}/tags", timeout=30).status_code == 404
    teams = session.get(f"{sb.url}/teams/123", timeout=30)  # everything under the path
    assert teams.status_code == 403
    sb.client.set_drift(refusals={"/tags": None})
    assert session.get(f"{sb.url}/tags", timeout=30).status_code == 200
    assert sb.client.drift()["refusals"] == {"/teams": "token_unauthorized"}


def test_bad_drift_settings_are_refused_by_name(sandbox_factory):
    sb = sandbox_factory()
    for body, message in [
        ({"enabled": "yes"}, "enabled must be true or false"),
        ({"refusals": {"tags": "not_found"}}, "must start with /"),
        ({"refusals": {"/tags": "gone"}}, "refusal code 'gone' unknown"),
        ({"colour": 1}, "unknown drift settings"),
    ]:
        answer = sb.client.session.post(f"{sb.url}/_sandbox/drift", json=body, timeout=30)
        assert answer.status_code == 400 and message in answer.json()["error"], body
