"""The access token never appears in the tap's output or logs, also on failures."""

from __future__ import annotations

import json
import logging
import subprocess

import pytest
from tap_intercom.errors import ServerError
from tap_intercom.tap import TapIntercom

from tests.tap.conftest import TAP, control, tap_config

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
    control(sandbox, "POST", "faults", {"error_rate": 1.0})
    monkeypatch.setattr("tap_intercom.client.MAX_BACKOFF_SECONDS", 0.01)  # fail fast
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
