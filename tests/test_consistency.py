"""Figures that live in two places agree: meltano.yml's setting values with the plugins'
own defaults, and the tap's STATE interval with the target's commit age."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from tap_intercom.incremental import DEFAULT_STATE_INTERVAL_SECONDS

from tests.e2e.test_meltano_project import PLUGINS, about, declared_plugins

# Settings whose meltano.yml `value:` deliberately differs from the plugin's default,
# each with the reason. Empty today: every value meltano.yml sets repeats the default.
DELIBERATE_OVERRIDES: dict[str, set[str]] = {
    "tap-intercom": set(),
    "target-snowflake": set(),
}

# The tap emits STATE at least every `state_interval_seconds`; the target commits (and
# passes the last STATE on) once a record has waited `max_uncommitted_age_seconds`. With
# the tap's interval at most a third of the target's age, a forced commit passes on a
# STATE at most a third of the age old; equal intervals can run in step and lose two
# ages' work at a kill (docs/performance.md#progress-that-survives-a-crash).
STATE_INTERVALS_PER_COMMIT_AGE = 3

plugin_about = functools.cache(about)


def defaults(plugin: str) -> dict[str, Any]:
    """The settings of `--about` that have a default, with it."""
    properties = plugin_about(plugin)["settings"]["properties"]
    return {name: prop["default"] for name, prop in properties.items() if "default" in prop}


def repeated_defaults(plugin: str) -> dict[str, tuple[Any, Any]]:
    """meltano.yml's `value:`s of settings that have a default: name -> (value, default)."""
    plugin_defaults = defaults(plugin)
    return {
        setting["name"]: (setting["value"], plugin_defaults[setting["name"]])
        for setting in declared_plugins()[plugin]["settings"]
        if "value" in setting and setting["name"] in plugin_defaults
    }


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_yml_values_repeat_the_plugins_defaults(plugin: str):
    repeated = repeated_defaults(plugin)
    assert repeated, "meltano.yml sets no value with a default: nothing was compared"
    differing = {
        name: f"meltano.yml {value!r}, --about default {default!r}"
        for name, (value, default) in repeated.items()
        if value != default and name not in DELIBERATE_OVERRIDES[plugin]
    }
    assert differing == {}, (
        f"meltano.yml's values differ from {plugin}'s defaults: change one, or list the "
        "setting in DELIBERATE_OVERRIDES with the reason"
    )


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_deliberate_override_still_overrides(plugin: str):
    repeated = repeated_defaults(plugin)
    stale = {
        name
        for name in DELIBERATE_OVERRIDES[plugin]
        if name not in repeated or repeated[name][0] == repeated[name][1]
    }
    assert stale == set(), "no longer an override: remove it from DELIBERATE_OVERRIDES"


def test_the_taps_state_interval_is_at_most_a_third_of_the_targets_commit_age():
    """The tap's default is `DEFAULT_STATE_INTERVAL_SECONDS` (tap_intercom/incremental.py,
    whose comment gives the rule); the target's is read from what it offers."""
    state_interval = defaults("tap-intercom")["state_interval_seconds"]
    assert state_interval == DEFAULT_STATE_INTERVAL_SECONDS
    commit_age = defaults("target-snowflake")["max_uncommitted_age_seconds"]
    assert state_interval * STATE_INTERVALS_PER_COMMIT_AGE <= commit_age, (
        f"tap-intercom's default state_interval_seconds ({state_interval}) is more than a "
        f"third of target-snowflake's default max_uncommitted_age_seconds ({commit_age})"
    )
