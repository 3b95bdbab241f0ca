"""A test run that is stopped (a timeout, CI cancelling it) stops the servers it started."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from testbed.servers import LOOPBACK

ROOT = Path(__file__).resolve().parents[1]


def test_a_run_stopped_with_sigterm_stops_the_local_snowflake_it_started(tmp_path: Path):
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_configure, snowflake_server  # noqa: F401\n"
    )
    (tmp_path / "test_waits.py").write_text(
        "import time\n\n"
        "def test_waits(snowflake_server):\n"
        "    print('PORT', snowflake_server['port'], flush=True)\n"
        "    time.sleep(300)\n"
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert run.stdout is not None
    port = None
    for line in run.stdout:
        if found := re.search(r"PORT (\d+)", line):
            port = int(found.group(1))
            break
    assert port is not None, "the inner run never started its local Snowflake"
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=60)
    refused = False
    try:
        socket.create_connection((LOOPBACK, port), timeout=2).close()
    except OSError:
        refused = True
    assert refused, f"the local Snowflake on port {port} outlived the stopped run"
