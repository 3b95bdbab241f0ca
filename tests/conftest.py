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


# Fixtures that start a local server: a test that uses one (directly or through another
# fixture) is marked `servers`; `make check` runs the others.
SERVER_FIXTURES = {
    "snowflake_server",
    "plain_fakesnow",
    "sandbox_factory",
    "sandbox",
    "server",  # tests/testbed: a strict local Snowflake of the module's own
    "receiver",  # tests/tap/webhooks: the webhook receiver
}


# Tests that run Meltano or dbt in the repository's own project directories (`.meltano`,
# transform/'s target and packages): on two workers (`make test`, pytest-xdist with
# --dist loadgroup) they all go to one, so that two never share those directories.
PROJECT_DIRECTORY_TESTS = (
    "tests/e2e/",
    "tests/tap/webhooks/test_e2e.py",
    "tests/testbed/test_dbt_on_local_snowflake.py",
)
PROJECT_DIRECTORY_FIXTURES = {"meltano_project", "meltano_env"}


# First: pytest-xdist reads the xdist_group marks in its own hook of this name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SERVER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.servers)
        if PROJECT_DIRECTORY_FIXTURES & fixtures or item.nodeid.startswith(PROJECT_DIRECTORY_TESTS):
            item.add_marker(pytest.mark.xdist_group("project-directories"))


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
