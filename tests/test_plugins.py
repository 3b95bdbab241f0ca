"""Both plugins install as console scripts and describe themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

BIN = Path(sys.executable).parent

# Command -> distribution: the registry's `tap-intercom` and `target-snowflake` are other
# projects, so ours are published under a prefix while the commands keep their names.
DISTRIBUTIONS = {
    "tap-intercom": "intersnow-tap-intercom",
    "target-snowflake": "intersnow-target-snowflake",
}


@pytest.mark.parametrize("plugin", sorted(DISTRIBUTIONS))
def test_about_prints_the_plugin_description_and_the_distribution_version(plugin: str):
    result = subprocess.run(
        [str(BIN / plugin), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    about = json.loads(result.stdout)
    assert about["name"] == plugin
    assert about["description"]
    assert about["version"] == metadata.version(DISTRIBUTIONS[plugin])
    assert about["supported_python_versions"]  # read from the distribution's metadata


@pytest.mark.parametrize("plugin", sorted(DISTRIBUTIONS))
def test_version_names_the_distribution_version(plugin: str):
    result = subprocess.run(
        [str(BIN / plugin), "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith(f"{plugin} v{metadata.version(DISTRIBUTIONS[plugin])},")


@pytest.mark.parametrize("plugin", sorted(DISTRIBUTIONS))
def test_the_commands_come_from_the_prefixed_distribution(plugin: str):
    scripts = metadata.distribution(DISTRIBUTIONS[plugin]).entry_points.select(
        group="console_scripts"
    )
    assert plugin in scripts.names


def test_the_tap_uses_the_backoff_distribution_singer_sdk_uses():
    # Two distributions ship the `backoff` module; with both, install order decides.
    def requirement_names(dist: str) -> set[str]:
        return {Requirement(text).name for text in metadata.requires(dist) or []}

    assert "python-backoff" in requirement_names("singer-sdk")
    assert "python-backoff" in requirement_names("intersnow-tap-intercom")
    assert "backoff" not in requirement_names("intersnow-tap-intercom")


def test_the_webhook_server_dependencies_are_an_extra():
    requirements = [Requirement(text) for text in metadata.requires("intersnow-tap-intercom") or []]
    server = [r for r in requirements if r.name in {"uvicorn", "httptools", "uvloop"}]
    assert len(server) == 3
    for requirement in server:
        assert requirement.marker is not None
        assert requirement.marker.evaluate({"extra": "webhooks"})
        assert not requirement.marker.evaluate({"extra": ""})
