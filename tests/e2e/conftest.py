"""Fixtures of the end-to-end tests: the Meltano project installed once, a small
sandbox workspace and a database of its own on the shared local Snowflake per test."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testbed.pipeline import MELTANO, PLUGINS_BIN, LocalEndpoints, meltano_install

# A workspace small enough for several full runs per test, with every kind of record.
SMALL_WORKSPACE = {
    "seed": 11,
    "token": "e2e-secret-token-5b1f",  # distinctive, so tests can look for it in output
    "contacts": 60,
    "companies": 12,
    "conversations": 24,
    "tickets": 10,
    "big_conversations": 1,
    "deleted_conversations": 2,
    "activity_logs": 20,
    "articles": 5,
}


@pytest.fixture(scope="session")
def meltano_project() -> Path:
    """The repository's Meltano project with both plugins installed (once per session)."""
    if not MELTANO.exists():
        pytest.fail(f"{MELTANO} is missing: run `make install` first")
    meltano_install()
    return MELTANO


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The tap's catalog entries (discovery needs no API access)."""
    config = tmp_path_factory.mktemp("discover") / "tap.json"
    config.write_text(json.dumps({"access_token": "discovery-needs-no-token"}))
    result = subprocess.run(
        [str(PLUGINS_BIN / "tap-intercom"), "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["streams"]


@pytest.fixture(scope="session")
def discovered_streams(catalog: list[dict[str, Any]]) -> list[str]:
    """Every stream the tap offers."""
    return [entry["tap_stream_id"] for entry in catalog]


@pytest.fixture(scope="session")
def stream_keys(catalog: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Key properties of every stream selected by default."""
    keys = {}
    for entry in catalog:
        metadata = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        if metadata.get("selected-by-default", True):
            keys[entry["tap_stream_id"]] = entry.get("key_properties") or []
    return keys


@pytest.fixture
def small_sandbox(sandbox_factory: Callable[..., Any]) -> Any:
    """A small sandbox workspace for this test."""
    return sandbox_factory(**SMALL_WORKSPACE)


@pytest.fixture
def endpoints(
    request: pytest.FixtureRequest, small_sandbox: Any, snowflake_server: dict
) -> LocalEndpoints:
    """The sandbox and a database of this test's own on the shared local Snowflake."""
    database = "E2E_" + re.sub(r"\W", "_", request.node.name).upper()[:80]
    endpoints = LocalEndpoints(
        intercom_url=small_sandbox.url,
        intercom_token=small_sandbox.token,
        snowflake=snowflake_server,
        database=database,
    )
    endpoints.prepare_database()  # the administrator's part; the loader role does the rest
    return endpoints


@pytest.fixture
def meltano_env(meltano_project: Path, endpoints: LocalEndpoints, tmp_path: Path) -> dict[str, str]:
    """Environment for `meltano --environment=demo` with this test's own state."""
    return endpoints.meltano_env(sys_dir=tmp_path / ".meltano")
