"""Shared pieces of the tap benchmarks: a sandbox process and a measured tap run.

The sandbox runs as its own process (its CLI), and the tap runs under
`bench/own_rusage.py`, so the CPU time and peak RSS measured are the tap's alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.own_rusage import launcher, read_usage
from testbed.catalog import TAP, catalog_selecting
from testbed.intercom import SandboxClient
from testbed.servers import free_port, managed_process

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-token"
RECORD_PREFIX = b'{"type":"RECORD","stream":"'


@dataclass
class Sandbox:
    url: str
    client: SandboxClient
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the sandbox process has used so far (Linux)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def sandbox(**flags: Any) -> Iterator[Sandbox]:
    """The sandbox CLI on a free loopback port, stopped at the end."""
    port = free_port()
    args = [sys.executable, "-m", "testbed.intercom", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--token", TOKEN]
    for name, value in flags.items():
        flag = f"--{name.replace('_', '-')}"
        args += [flag] if value is True else [flag, str(value)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with managed_process(args, port, RESULTS / "sandbox.log") as process:
        url = f"http://127.0.0.1:{port}"
        box = Sandbox(url, SandboxClient(url, timeout=600), process.pid)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException, RuntimeError):
                if box.client.health().get("ok"):
                    break
            time.sleep(0.2)
        yield box


@dataclass
class TapRun:
    wall: float
    cpu: float
    records: dict[str, int]
    requests: int
    failed_requests: int
    request_span: float
    peak_rss_mb: float  # the tap process's maximum resident set size
    #: Seconds the tap's threads were runnable but waited for a CPU (Linux schedstat,
    #: sampled every half second): how short of CPU the machine kept it.
    cpu_wait: float = 0.0
    final_state: dict[str, Any] | None = None
    #: Deletion records (`_sdc_deleted_at`) by stream.
    deleted: dict[str, int] = field(default_factory=dict)


class CpuWaits:
    """Samples, in a thread, how long each thread of a process and of its children (the
    tap under its launcher) has waited for a CPU while runnable
    (`/proc/PID/task/TID/schedstat`, second field, nanoseconds)."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self._pid = pid
        self._latest: dict[str, int] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)
        self._thread.start()

    def _sample(self, every: float) -> None:
        self._read()
        while not self._done.wait(every):
            self._read()
        self._read()

    def _read(self) -> None:
        pids = [str(self._pid)]
        with contextlib.suppress(OSError):
            pids += Path(f"/proc/{self._pid}/task/{self._pid}/children").read_text().split()
        for pid in pids:
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    with contextlib.suppress(OSError, ValueError, IndexError):
                        waited = int((task / "schedstat").read_text().split()[1])
                        self._latest[task.name] = max(self._latest.get(task.name, 0), waited)

    def stop(self) -> None:
        """Take a last sample (the process must not have been reaped yet) and stop."""
        self._done.set()
        self._thread.join()

    def seconds(self) -> float:
        return sum(self._latest.values()) / 1e9


def write_catalog(streams: list[str], workdir: Path, tap: str = TAP) -> Path:
    path = workdir / "catalog.json"
    path.write_text(json.dumps(catalog_selecting(streams, tap)))
    return path


def run_tap(
    box: Sandbox,
    streams: list[str],
    state: dict[str, Any] | None = None,
    tap: str = TAP,
    **config: Any,
) -> TapRun:
    """One run of `streams` by the `tap` executable (this environment's by default; from
    `state` if given); wall time, the tap's CPU time, the request log and the last STATE."""
    box.client.clear_requests()
    final_state = None
    with tempfile.TemporaryDirectory(prefix="tap-bench-") as tmp:
        workdir = Path(tmp)
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps({"access_token": TOKEN, "api_url": box.url, **config}))
        catalog = write_catalog(streams, workdir, tap)
        state_args = []
        if state is not None:
            (workdir / "state.json").write_text(json.dumps(state))
            state_args = ["--state", str(workdir / "state.json")]
        usage_path = workdir / "usage.json"
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                *launcher(usage_path),
                tap,
                "--config",
                str(config_path),
                "--catalog",
                str(catalog),
                *state_args,
            ],
            stdout=subprocess.PIPE,
            stderr=open(RESULTS / "tap.log", "w"),  # noqa: SIM115
        )
        waits = CpuWaits(process.pid)
        records: dict[str, int] = {}
        deleted: dict[str, int] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(RECORD_PREFIX):
                start = len(RECORD_PREFIX)
                stream = line[start : line.index(b'"', start)].decode()
                records[stream] = records.get(stream, 0) + 1
                if b'"_sdc_deleted_at"' in line:
                    deleted[stream] = deleted.get(stream, 0) + 1
            elif line.startswith(b'{"type":"STATE"'):
                final_state = json.loads(line)["value"]
        waits.stop()
        status = process.wait()
        wall = time.perf_counter() - started
        if status != 0:
            raise RuntimeError(f"tap failed with status {status}; see {RESULTS / 'tap.log'}")
        usage = read_usage(usage_path)
    log = box.client.requests()
    times = [entry["time"] for entry in log]
    return TapRun(
        wall=wall,
        cpu=usage["cpu_seconds"],
        records=records,
        requests=len(log),
        failed_requests=sum(1 for entry in log if entry["status"] >= 400),
        request_span=(max(times) - min(times)) if times else 0.0,
        peak_rss_mb=usage["rss_mb"],
        cpu_wait=waits.seconds(),
        final_state=final_state,
        deleted=deleted,
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_table(title: str, rows: list[tuple[str, str]], filename: str) -> None:
    width = max(len(name) for name, _ in rows)
    lines = [f"## {title}", "", "| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    text = "\n".join(lines) + "\n"
    print(f"\n{title}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / filename).write_text(text)
