"""Start and stop the local servers that tests, benchmarks and the demo use.

Every server listens on 127.0.0.1 on a free port and is stopped when the context
ends, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Block until something accepts connections on the port, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {LOOPBACK}:{port} within {timeout}s")


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate a process group started by `managed_process`, then kill it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def managed_process(
    args: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Run a server process in its own group until the context ends."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        stop_process(process)


@contextlib.contextmanager
def local_snowflake(db_dir: Path | None = None) -> Iterator[dict]:
    """Run fakesnow's Snowflake server on loopback; yield connection settings.

    In server mode fakesnow keeps one in-memory database per process (it ignores
    `-d`), so the directory only holds its log.
    """
    with contextlib.ExitStack() as stack:
        if db_dir is None:
            db_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fakesnow-")))
        db_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        fakesnow = str(Path(sys.executable).with_name("fakesnow"))
        args = [fakesnow, "-s", "--host", LOOPBACK, "-p", str(port), "-d", str(db_dir)]
        stack.enter_context(managed_process(args, port, db_dir / "fakesnow.log"))
        yield {
            "host": LOOPBACK,
            "port": port,
            "protocol": "http",
            "user": "fake",
            "password": "snow",
            "account": "fakesnow",
        }
