"""The tap's HTTP client (`tap_intercom.client`): the proxy taken from the environment."""

from __future__ import annotations

import pytest
import requests
from requests.utils import resolve_proxies
from tap_intercom.client import environment_proxies
from tap_intercom.tap import TapIntercom

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _session_proxies(api_url: str) -> dict[str, str]:
    tap = TapIntercom(config={"access_token": "t", "api_url": api_url}, validate_config=False)
    session = tap.streams["contacts"].requests_session
    assert session.trust_env is False  # the environment is read once, when it is made
    return dict(session.proxies)


def _per_request_proxies(url: str) -> dict[str, str]:
    """What requests resolves from the environment for each request it sends."""
    return resolve_proxies(requests.Request("GET", url).prepare(), {}, trust_env=True)


@pytest.mark.parametrize(
    ("variables", "api_url", "expected"),
    [
        ({}, "https://api.intercom.io", {}),
        (
            {"HTTPS_PROXY": "http://proxy.test:3128"},
            "https://api.intercom.io",
            {"https": "http://proxy.test:3128"},
        ),
        ({"HTTP_PROXY": "http://proxy.test:3128"}, "https://api.intercom.io", {}),
        (
            {"ALL_PROXY": "http://proxy.test:1"},
            "https://api.eu.intercom.io",
            {"https": "http://proxy.test:1"},
        ),
        (
            {"HTTPS_PROXY": "http://proxy.test:3128", "NO_PROXY": "intercom.io"},
            "https://api.intercom.io",
            {},
        ),
        (
            {"HTTP_PROXY": "http://proxy.test:3128", "NO_PROXY": "127.0.0.1"},
            "http://127.0.0.1:8080",
            {},
        ),
        (
            {"HTTP_PROXY": "http://proxy.test:3128", "NO_PROXY": "10.0.0.0/8"},
            "http://127.0.0.1:8080",
            {"http": "http://proxy.test:3128"},
        ),
    ],
)
def test_the_session_proxies_are_the_ones_requests_would_resolve_for_every_request(
    clean_environment: pytest.MonkeyPatch,
    variables: dict[str, str],
    api_url: str,
    expected: dict[str, str],
) -> None:
    for name, value in variables.items():
        clean_environment.setenv(name, value)
    assert environment_proxies(api_url) == expected
    assert _session_proxies(api_url) == expected
    assert _per_request_proxies(f"{api_url}/contacts/search?per_page=150") == expected
