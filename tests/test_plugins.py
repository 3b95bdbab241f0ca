"""Both plugins install as console scripts and describe themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("plugin", ["tap-intercom", "target-snowflake"])
def test_about_prints_the_plugin_description(plugin: str):
    result = subprocess.run(
        [str(BIN / plugin), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    about = json.loads(result.stdout)
    assert about["name"] == plugin
    assert about["description"]
