"""A faithful, stateful local Intercom API for the tap's tests, the benchmarks and the demo.

with run_sandbox(SandboxOptions(seed=7, contacts=200)) as sb:
    sb.url, sb.token, sb.client   # base URL, accepted token, control API client
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from testbed.intercom.client import SandboxClient
from testbed.intercom.options import DEFAULT_TOKEN, FaultSettings, SandboxOptions
from testbed.intercom.server import SandboxServer

__all__ = [
    "DEFAULT_TOKEN",
    "FaultSettings",
    "RunningSandbox",
    "SandboxClient",
    "SandboxOptions",
    "run_sandbox",
]


@dataclass
class RunningSandbox:
    server: SandboxServer
    url: str
    token: str
    client: SandboxClient


@contextmanager
def run_sandbox(options: SandboxOptions | None = None) -> Iterator[RunningSandbox]:
    """Serve a sandbox from a background thread for the duration of the block."""
    options = options or SandboxOptions()
    server = SandboxServer(options)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"intercom-sandbox-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    sandbox = RunningSandbox(server, server.url, options.token, SandboxClient(server.url))
    try:
        yield sandbox
    finally:
        server.shutdown()
        server.server_close()
        sandbox.client.session.close()
        thread.join(timeout=5)
