"""Configuration: the issue's setting names, defaults, limits and regions."""

from __future__ import annotations

import json
import subprocess

import pytest
from tap_intercom.client import api_base_url
from tap_intercom.tap import TapIntercom

from tests.tap.conftest import TAP


def test_settings_are_the_documented_ones():
    settings = TapIntercom.config_jsonschema["properties"]
    assert {
        "access_token",
        "start_date",
        "api_url",
        "region",
        "intercom_version",
        "page_size",
        "max_workers",
        "request_timeout",
        "user_agent",
        "lookback_window_seconds",
    } <= set(settings)
    assert settings["access_token"].get("secret") is True
    assert TapIntercom.config_jsonschema["required"] == ["access_token"]
    assert settings["intercom_version"]["default"] == "2.15"
    assert settings["page_size"]["default"] == 150
    assert settings["max_workers"]["default"] == 200


@pytest.mark.parametrize(
    ("config", "url"),
    [
        ({}, "https://api.intercom.io"),
        ({"region": "eu"}, "https://api.eu.intercom.io"),
        ({"region": "au"}, "https://api.au.intercom.io"),
        ({"region": "eu", "api_url": "http://127.0.0.1:8765/"}, "http://127.0.0.1:8765"),
    ],
)
def test_region_and_api_url_choose_the_host(config, url):
    assert api_base_url(config) == url


@pytest.mark.parametrize(
    ("setting", "value"), [("page_size", 151), ("page_size", 0), ("region", "mars")]
)
def test_invalid_settings_are_refused_by_name(tmp_path, setting, value):
    # A sync validates the config before it sends anything (discovery does not).
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"access_token": "x", setting: value}))
    result = subprocess.run(
        [TAP, "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert setting in result.stderr


def test_a_start_date_that_is_no_date_time_is_refused_by_name_before_any_stream(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"access_token": "x", "api_url": "http://127.0.0.1:9", "start_date": "yesterday"}
        )
    )
    result = subprocess.run(
        [TAP, "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "'yesterday' is not an ISO-8601 date-time in config['start_date']" in result.stderr
    assert "Starting" not in result.stderr, "a stream ran before the config was refused"
