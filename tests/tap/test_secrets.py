"""The access token never appears in the tap's output or logs, also on failures."""

from __future__ import annotations

import json
import logging
import subprocess

import pytest
import requests
from tap_intercom.errors import AuthenticationError, ServerError
from tap_intercom.tap import TapIntercom

from tests.tap.conftest import TAP, tap_config

SECRET = "tok_very-secret-4b1d"


def _assert_hidden(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_about_and_discover_do_not_show_the_token(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"access_token": SECRET, "api_url": "http://127.0.0.1:9"}))
    for args in (["--about", "--format=json"], ["--discover"]):
        result = subprocess.run(
            [TAP, "--config", str(config), *args], capture_output=True, text=True, check=True
        )
        _assert_hidden(result.stdout, result.stderr)


def test_a_refused_token_fails_at_once_with_a_clear_message(sandbox_factory, tap_runner):
    sandbox = sandbox_factory()
    run = tap_runner(tap_config(sandbox, access_token=SECRET), ["admins"], timeout=60)
    assert run.returncode != 0
    assert "Intercom refused the access token" in run.stderr
    assert "Retrying" not in run.stderr
    _assert_hidden(run.stdout, run.stderr)


def test_a_run_that_fails_after_retries_does_not_show_the_token(
    sandbox_factory, monkeypatch, capsys, caplog
):
    sandbox = sandbox_factory(token=SECRET)
    sandbox.client.set_faults(error_rate=1.0)
    monkeypatch.setattr("tap_intercom.pacing.MAX_BACKOFF_SECONDS", 0.01)  # fail fast
    tap = TapIntercom(config=tap_config(sandbox), setup_mapper=True)
    with caplog.at_level(logging.DEBUG), pytest.raises(ServerError) as failure:
        tap.streams["admins"].sync()
    output = capsys.readouterr()
    assert "server error" in str(failure.value)
    _assert_hidden(output.out, output.err, caplog.text, str(failure.value), repr(failure.value))


def test_a_successful_run_does_not_show_the_token(sandbox_factory, tap_runner):
    sandbox = sandbox_factory(token=SECRET)
    run = tap_runner(tap_config(sandbox), ["admins", "contacts", "conversations"])
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_hidden(run.stdout, run.stderr)


@pytest.mark.parametrize(("status", "code"), [(401, "unauthorized"), (403, "api_plan_restricted")])
def test_refusals_say_what_is_wrong_without_the_token(status, code):
    config = {"access_token": SECRET, "api_url": "http://127.0.0.1:9"}
    stream = TapIntercom(config=config, validate_config=False).streams["contacts"]
    response = requests.Response()
    response.status_code = status
    response.reason = "Refused"
    response._content = json.dumps(
        {"type": "error.list", "errors": [{"code": code, "message": "Not allowed"}]}
    ).encode()
    response.request = requests.Request(
        "POST",
        "http://127.0.0.1:9/contacts/search?x=1",
        headers={"Authorization": f"Bearer {SECRET}"},
    ).prepare()
    with pytest.raises(AuthenticationError) as failure:
        stream.validate_response(response)
    message = str(failure.value)
    assert f"{status} {code}: Not allowed" in message
    assert "POST /contacts/search" in message and "access_token" in message
    _assert_hidden(message, repr(failure.value))
