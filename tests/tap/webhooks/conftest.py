"""Fixtures of the webhook tests that load into the local Snowflake."""

from __future__ import annotations

import re

import pytest

from testbed.pipeline import LocalEndpoints


@pytest.fixture
def warehouse(request: pytest.FixtureRequest, snowflake_server: dict) -> LocalEndpoints:
    """A database of this test's own on the shared local Snowflake."""
    database = "WEBHOOKS_" + re.sub(r"\W", "_", request.node.name).upper()[:60]
    endpoints = LocalEndpoints(
        intercom_url="http://127.0.0.1:9/unused",  # this stream never calls the API
        intercom_token="unused",
        snowflake=snowflake_server,
        database=database,
    )
    endpoints.prepare_database()
    return endpoints
