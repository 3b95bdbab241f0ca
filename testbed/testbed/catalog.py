"""The tap's discovered catalog with exactly the chosen streams selected."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

TAP = str(Path(sys.executable).with_name("tap-intercom"))


@cache
def _discovered_catalog(tap: str) -> str:
    config = {"access_token": "discovery-only", "api_url": "http://127.0.0.1:9"}
    result = subprocess.run(
        [tap, "--config", "/dev/stdin", "--discover"],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def catalog_selecting(streams: list[str], tap: str = TAP) -> dict[str, Any]:
    """The catalog `tap` (an executable; this environment's by default) discovers, with
    exactly `streams` selected."""
    catalog = json.loads(_discovered_catalog(tap))
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog
