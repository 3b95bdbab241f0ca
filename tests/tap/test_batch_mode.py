"""With `batch_config` the tap emits BATCH messages; a STATE must never cover records that
are not yet in an emitted batch file (a pipeline killed in between would lose them)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tap.conftest import run_tap, tap_config

STREAMS = ["contacts", "conversations", "conversation_parts", "companies"]


def test_no_state_covers_records_of_an_unwritten_batch_file(sandbox_factory, tmp_path: Path):
    sandbox = sandbox_factory(contacts=1500, conversations=300)
    root = tmp_path / "batches"
    root.mkdir()
    config = tap_config(
        sandbox,
        state_interval_seconds=1,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": root.as_uri(), "prefix": "part-"},
            "batch_size": 1_000_000,  # one file per stream, written at its end
        },
    )
    run = run_tap(tmp_path / "tap", config, STREAMS)
    assert run.returncode == 0, run.stderr[-2000:]
    batched: set[str] = set()
    premature = []
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "BATCH":
            batched.add(message["stream"])
        elif message["type"] == "STATE":
            for stream, bookmark in message["value"].get("bookmarks", {}).items():
                if stream in STREAMS and bookmark and stream not in batched:
                    premature.append((stream, bookmark))
    assert batched == set(STREAMS)
    assert not premature, f"STATE before the stream's BATCH: {premature[:3]}"
