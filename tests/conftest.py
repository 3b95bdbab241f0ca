"""Fixtures shared by every test: the local Snowflake."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from testbed.servers import local_snowflake

pytest_plugins = ["tests.sandbox_fixtures"]

# The connector probes cloud metadata addresses (169.254.169.254, ...) at every login to
# report the platform; tests reach nothing but loopback. Targets started by tests inherit it.
os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped with SIGTERM (a timeout, CI cancelling) ends like Ctrl-C, with the
    fixtures' teardown: the servers the tests started run in sessions of their own, so
    they would outlive an abrupt end."""
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def snowflake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Connection settings of a fakesnow server that lives for the test session."""
    with local_snowflake(tmp_path_factory.mktemp("fakesnow")) as settings:
        yield settings
