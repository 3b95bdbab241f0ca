"""Fixtures shared by every test: the local Snowflake."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testbed.servers import local_snowflake

pytest_plugins = ["tests.sandbox_fixtures"]

# The connector probes cloud metadata addresses (169.254.169.254, ...) at every login to
# report the platform; tests reach nothing but loopback. Targets started by tests inherit it.
os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")


@pytest.fixture(scope="session")
def snowflake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Connection settings of a fakesnow server that lives for the test session."""
    with local_snowflake(tmp_path_factory.mktemp("fakesnow")) as settings:
        yield settings
