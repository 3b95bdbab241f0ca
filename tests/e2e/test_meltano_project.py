"""meltano.yml describes the plugins as they are: their settings, secrets and streams."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from singer_sdk.helpers import capabilities

from testbed.pipeline import MELTANO, PLUGINS_BIN, ROOT

PLUGINS = ["tap-intercom", "target-snowflake"]
# Settings singer-sdk adds to every plugin with a capability (stream maps, batch, ...):
# Meltano knows them without a declaration.
SDK_SETTINGS = {
    name
    for constant, value in vars(capabilities).items()
    if constant.endswith("_CONFIG") and isinstance(value, dict)
    for name in value.get("properties", {})
}


def declared_plugins() -> dict[str, dict[str, Any]]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = project["plugins"]
    return {p["name"]: p for p in plugins["extractors"] + plugins["loaders"]}


def about(plugin: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(PLUGINS_BIN / plugin), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def prod_config_list(plugin: str, sys_dir: Path, **variables: str) -> subprocess.CompletedProcess:
    """`meltano --environment=prod config list PLUGIN` with only these variables set."""
    env = {
        "PATH": "/usr/bin:/bin",
        "MELTANO_SYS_DIR_ROOT": str(sys_dir),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        **variables,
    }
    return subprocess.run(
        [str(MELTANO), "--environment=prod", "config", "list", plugin],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_yml_declares_each_plugin_setting_with_its_secrecy(plugin: str):
    declared = {s["name"]: s for s in declared_plugins()[plugin]["settings"]}
    offered = about(plugin)["settings"]["properties"]
    own = set(offered) - SDK_SETTINGS

    assert sorted(set(declared) - set(offered)) == [], "settings the plugin does not know"
    assert sorted(own - set(declared)) == [], "plugin settings missing from meltano.yml"
    secret = {name for name, prop in offered.items() if prop.get("secret")}
    sensitive = {name for name, setting in declared.items() if setting.get("sensitive")}
    assert sensitive == secret & set(declared)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_yml_declares_the_plugins_capabilities(plugin: str):
    declared = set(declared_plugins()[plugin]["capabilities"])
    assert declared <= set(about(plugin)["capabilities"])


def test_default_select_leaves_out_exactly_the_streams_not_selected_by_default(
    stream_keys: dict[str, list[str]], discovered_streams: list[str]
):
    select = declared_plugins()["tap-intercom"]["select"]
    excluded = {rule.removeprefix("!").removesuffix(".*") for rule in select if rule[0] == "!"}
    assert "*.*" in select
    assert set(discovered_streams) - set(stream_keys) <= excluded
    assert not excluded & set(stream_keys), "a stream selected by default is left out"


@pytest.mark.e2e
def test_meltano_sees_the_prod_secrets_from_the_environment_and_never_prints_them(
    meltano_project, tmp_path
):
    token = "secret-token-value-123"
    result = prod_config_list(
        "tap-intercom", tmp_path, TAP_INTERCOM_ACCESS_TOKEN=token, TAP_INTERCOM_REGION="eu"
    )
    assert token not in result.stdout + result.stderr
    assert "TAP_INTERCOM_ACCESS_TOKEN] current value: (redacted)" in result.stdout
    assert "region [env: TAP_INTERCOM_REGION] current value: 'eu'" in result.stdout


def dbt_utility() -> dict[str, Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"]["utilities"] if p["name"] == "dbt-snowflake")


def test_the_dbt_utility_installs_the_pins_of_requirements_dbt():
    pins = [
        line.strip()
        for line in (ROOT / "requirements-dbt.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert dbt_utility()["pip_url"].split() == pins


def test_the_dbt_utility_reads_the_targets_connection_settings_and_secrets():
    """Its namespace is the target's, so it reads TARGET_SNOWFLAKE_*; every connection
    setting of the target that the profile reads is declared, with the same secrecy."""
    utility = dbt_utility()
    assert utility["namespace"] == declared_plugins()["target-snowflake"]["namespace"]
    target = {s["name"]: s for s in declared_plugins()["target-snowflake"]["settings"]}
    profile = (ROOT / "transform" / "profiles" / "profiles.yml").read_text()
    read = set(re.findall(r"env_var\('TARGET_SNOWFLAKE_([A-Z_]+)'", profile))
    declared = {s["name"]: s for s in utility["settings"]}
    assert {name.upper() for name in declared} == read
    for name, setting in declared.items():
        assert name in target, name
        assert setting.get("sensitive", False) == target[name].get("sensitive", False), name


@pytest.mark.e2e
def test_the_dbt_utility_gets_prod_credentials_from_the_targets_variables(
    meltano_project, tmp_path
):
    password = "dbt-secret-password-4e1a"
    result = prod_config_list(
        "dbt-snowflake",
        tmp_path,
        TARGET_SNOWFLAKE_ACCOUNT="myorg-myaccount",
        TARGET_SNOWFLAKE_PASSWORD=password,
    )
    assert password not in result.stdout + result.stderr
    assert "TARGET_SNOWFLAKE_PASSWORD] current value: (redacted)" in result.stdout
    assert "TARGET_SNOWFLAKE_ACCOUNT] current value: 'myorg-myaccount'" in result.stdout
