"""`tap-intercom | target-snowflake`, killable at a chosen moment, timing every STATE.

The pipe between the two is a relay in this process, so it knows when the tap wrote
each STATE; a second thread reads the target's output (the STATE values it passes on
once their data are committed). After a kill, `work_lost` says how old, in wall time,
the progress is that the last committed STATE records: what a rerun from it repeats.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from testbed.catalog import catalog_selecting
from testbed.pipeline import PLUGINS_BIN

STATE_PREFIX = b'{"type":"STATE"'


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class Committed:
    """A STATE the target passed on: when, and when the tap had written it."""

    at: float  # time.monotonic() when the target wrote it
    emitted_at: float | None  # when the tap wrote the same STATE (None: not seen)
    value: dict[str, Any]


@dataclass
class KillablePipeline:
    """One run of the pipe; `start`, then `kill` at a moment of your choice or `wait`."""

    workdir: Path
    tap_config: dict[str, Any]
    target_config: dict[str, Any]
    streams: list[str]
    state: dict[str, Any] | None = None
    emitted: dict[str, float] = field(default_factory=dict)
    committed: list[Committed] = field(default_factory=list)
    started_at: float = 0.0

    def start(self) -> KillablePipeline:
        """Start both processes and the relay."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        files = {
            "tap.json": self.tap_config,
            "target.json": self.target_config,
            "catalog.json": catalog_selecting(self.streams),
        }
        for name, content in files.items():
            (self.workdir / name).write_text(json.dumps(content))
        tap_args = [str(PLUGINS_BIN / "tap-intercom"), "--config", "tap.json"]
        tap_args += ["--catalog", "catalog.json"]
        if self.state is not None:
            (self.workdir / "state.json").write_text(json.dumps(self.state))
            tap_args += ["--state", "state.json"]
        target_args = [str(PLUGINS_BIN / "target-snowflake"), "--config", "target.json"]
        self._logs = [open(self.workdir / name, "ab") for name in ("tap.log", "target.log")]  # noqa: SIM115
        self.started_at = time.monotonic()
        self.tap = subprocess.Popen(
            tap_args,
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=self._logs[0],
            start_new_session=True,
        )
        self.target = subprocess.Popen(
            target_args,
            cwd=self.workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._logs[1],
            start_new_session=True,
        )
        assert self.tap.stdout and self.target.stdin and self.target.stdout
        self._threads = [
            threading.Thread(target=self._relay, args=(self.tap.stdout, self.target.stdin)),
            threading.Thread(target=self._read_target, args=(self.target.stdout,)),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _relay(self, source: IO[bytes], sink: IO[bytes]) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            for line in source:
                if line.startswith(STATE_PREFIX):
                    value = json.loads(line)["value"]
                    self.emitted.setdefault(_canonical(value), time.monotonic())
                sink.write(line)
        with contextlib.suppress(BrokenPipeError, OSError):
            sink.close()

    def _read_target(self, source: IO[bytes]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in source:
                if not line.strip():
                    continue
                value = json.loads(line)
                emitted_at = self.emitted.get(_canonical(value))
                self.committed.append(Committed(time.monotonic(), emitted_at, value))

    def kill(self) -> float:
        """SIGKILL both processes (as a crash or an OOM kill would); the moment."""
        killed_at = time.monotonic()
        for process in (self.tap, self.target):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self._finish()
        return killed_at

    def wait(self, timeout: float) -> None:
        """Wait for a run to end by itself; raise if either side failed."""
        try:
            self.tap.wait(timeout)
            self.target.wait(timeout)
        finally:
            if self.tap.poll() is None or self.target.poll() is None:
                self.kill()
        self._finish()
        if self.tap.returncode or self.target.returncode:
            raise RuntimeError(
                f"pipeline failed (tap {self.tap.returncode}, target "
                f"{self.target.returncode}); logs in {self.workdir}"
            )

    def _finish(self) -> None:
        for process in (self.tap, self.target):
            process.wait()
        for thread in self._threads:
            thread.join()
        for log in self._logs:
            log.close()

    def last_committed(self) -> Committed | None:
        """The newest STATE the target passed on, if any."""
        return self.committed[-1] if self.committed else None

    def work_lost(self, killed_at: float) -> float:
        """Seconds of the run that a rerun from the last committed STATE repeats: back
        to when the tap wrote that STATE (or to the start, without one)."""
        last = self.last_committed()
        if last is None:
            return killed_at - self.started_at
        return killed_at - (last.emitted_at if last.emitted_at is not None else last.at)
