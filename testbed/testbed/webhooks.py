"""Helpers for the webhook tests and the load benchmark: notifications, signing, a receiver."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from tap_intercom.webhooks.spool import read_spool

from testbed.catalog import TAP, catalog_selecting
from testbed.servers import LOOPBACK, free_port, managed_process

# Distinctive, so a test can search every log and answer for it.
SECRET = "cs-test-3f9a1c7e5b2d48e6"
RECEIVER = str(Path(sys.executable).with_name("tap-intercom-webhooks"))
TARGET = str(Path(sys.executable).with_name("target-snowflake"))


def make_notification(
    notification_id: str,
    *,
    topic: str = "conversation.user.created",
    created_at: int = 1_700_000_000,
) -> dict:
    """An Intercom notification in the shape Intercom delivers."""
    return {
        "type": "notification_event",
        "app_id": "ab12cd34",
        "data": {
            "type": "notification_event_data",
            "item": {
                "type": "conversation",
                "id": f"conv-{notification_id}",
                "created_at": created_at - 5,
                "source": {"body": "<p>Hello\nthere ☃</p>"},
            },
        },
        "links": {},
        "id": notification_id,
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": created_at + 1,
        "created_at": created_at,
        "self": None,
    }


def encode(notification: dict) -> bytes:
    """A delivery body as Intercom sends it."""
    return json.dumps(notification).encode()


def hub_signature(secret: bytes, body: bytes) -> str:
    """`X-Hub-Signature` as Intercom computes it: `sha1=` and the hex HMAC-SHA1 of the body.

    Computed here, not with the receiver's own `signature()`, so a wrong digest in the
    product cannot pass its tests.
    """
    return "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()


def signed_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """Headers of a correctly signed delivery."""
    return {
        "X-Hub-Signature": hub_signature(secret.encode(), body),
        "Content-Type": "application/json",
    }


def deliver(url: str, notification: dict, session: requests.Session | None = None) -> int:
    """POST one signed notification; the HTTP status."""
    body = encode(notification)
    poster = session or requests
    return poster.post(url, data=body, headers=signed_headers(body), timeout=30).status_code


def deliver_concurrently(
    url: str,
    notifications: Sequence[dict],
    threads: int = 16,
    on_answer: Callable[[int | None], None] | None = None,
) -> dict[str, int | None]:
    """Deliver from several keep-alive connections at once: id -> status (None: no answer)."""
    local = threading.local()

    def send(notification: dict) -> tuple[str, int | None]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        try:
            status = deliver(url, notification, local.session)
        except requests.RequestException:
            status = None
        if on_answer is not None:
            on_answer(status)
        return notification["id"], status

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(send, notifications))


def stored_ids(spool: Path) -> list[str]:
    """The notification ids in the spool, in spool order (duplicates kept)."""
    return [stored["notification"]["id"] for _, stored in read_spool(spool)]


@dataclass
class RunningReceiver:
    """A receiver process on loopback."""

    url: str
    spool: Path
    log_path: Path
    process: object

    @property
    def health_url(self) -> str:
        return self.url.rstrip("/") + "/healthz"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running_receiver(
    spool: Path, log_path: Path, *options: str, secret: str = SECRET, port: int | None = None
) -> Iterator[RunningReceiver]:
    """Run `tap-intercom-webhooks` until the context ends (also on failure); on `port`
    (a restarted receiver keeps its URL) or a free one."""
    port = port or free_port()
    args = [RECEIVER, "--host", LOOPBACK, "--port", str(port), "--spool", str(spool), *options]
    env = {**os.environ, "INTERCOM_CLIENT_SECRET": secret}
    with managed_process(args, port, log_path, env) as process:
        yield RunningReceiver(f"http://{LOOPBACK}:{port}/", spool, log_path, process)


STREAM = "webhook_notifications"


def tap_config(spool: Path) -> dict:
    """A tap config that reads `spool` (the API is never called for this stream)."""
    return {"access_token": "unused", "webhook_spool_dir": str(spool)}


def follow_config(spool: Path, **settings: object) -> dict:
    """A tap config that follows `spool` (see `tap_config`)."""
    return {**tap_config(spool), "webhook_follow": True, **settings}


def subscribe(
    sandbox_url: str, receiver_url: str, secret: str = SECRET, **settings: object
) -> dict:
    """Make the sandbox deliver its changes' notifications to `receiver_url`."""
    answer = requests.post(
        f"{sandbox_url}/_sandbox/webhooks",
        json={"url": receiver_url, "secret": secret, **settings},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["subscription"]


def delivery_status(sandbox_url: str) -> dict:
    """The sandbox subscription's counts (queued, delivered, retried, dropped, settled)."""
    answer = requests.get(f"{sandbox_url}/_sandbox/webhooks", timeout=30)
    answer.raise_for_status()
    return answer.json()["subscription"]


class FollowLoader:
    """`tap-intercom` (webhook_follow) piped into `target-snowflake`, as a service runs
    them: two processes, the tap's stdout into the target's stdin, the target's STATE
    lines kept (the newest is where a restart resumes, as Meltano's state would be)."""

    def __init__(self, work_dir: Path, tap_config: dict, target_config: dict) -> None:
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "tap.json").write_text(json.dumps(tap_config))
        (work_dir / "target.json").write_text(json.dumps(target_config))
        (work_dir / "catalog.json").write_text(json.dumps(catalog_selecting([STREAM])))
        self.states: list[dict] = []
        self.starts = 0
        self.tap: subprocess.Popen | None = None
        self.target: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    @property
    def committed_state(self) -> dict:
        """The newest STATE the target emitted (after its commit)."""
        return self.states[-1] if self.states else {}

    def start(self) -> None:
        """Start both processes from the newest committed state."""
        self.starts += 1
        state = self.work_dir / "state.json"
        state.write_text(json.dumps(self.committed_state))
        logs = [open(self.work_dir / f"{name}.log", "ab") for name in ("tap", "target")]  # noqa: SIM115
        tap_args = ["--config", "tap.json", "--catalog", "catalog.json", "--state", "state.json"]
        self.tap = subprocess.Popen(
            [TAP, *tap_args], cwd=self.work_dir, stdout=subprocess.PIPE, stderr=logs[0]
        )
        self.target = subprocess.Popen(
            [TARGET, "--config", "target.json"],
            cwd=self.work_dir,
            stdin=self.tap.stdout,
            stdout=subprocess.PIPE,
            stderr=logs[1],
        )
        assert self.tap.stdout is not None
        self.tap.stdout.close()  # the target holds the pipe now: its exit reaches the tap
        for log in logs:
            log.close()
        self._reader = threading.Thread(target=self._read_states, args=(self.target,), daemon=True)
        self._reader.start()

    def _read_states(self, target: subprocess.Popen) -> None:
        assert target.stdout is not None
        for line in target.stdout:
            if line.strip():
                message = json.loads(line)
                self.states.append(message.get("value", message))

    def running(self) -> bool:
        """Whether both processes still run."""
        return all(p is not None and p.poll() is None for p in (self.tap, self.target))

    def restart_if_down(self) -> bool:
        """What a supervisor does (Restart=always): a loader that died is started again
        (the survivor of the two is killed first). Whether it restarted."""
        if self.running():
            return False
        self.kill()
        self.start()
        return True

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60.0) -> tuple[int, int]:
        """Signal the tap (a requested stop): it ends, the target commits and exits.
        The exit statuses of the tap and the target."""
        assert self.tap is not None and self.target is not None
        with contextlib.suppress(ProcessLookupError):
            self.tap.send_signal(signum)
        codes = (self.tap.wait(timeout), self.target.wait(timeout))
        self._join()
        return codes

    def kill(self) -> None:
        """SIGKILL both, as a crash or an OOM kill would."""
        for process in (self.tap, self.target):
            if process is not None and process.poll() is None:
                process.kill()
            if process is not None:
                process.wait()
        self._join()

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(10)

    def __enter__(self) -> FollowLoader:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


class FlakyProxy:
    """A TCP proxy on loopback that can refuse and cut connections for a while: a
    service (the local Snowflake) that becomes unavailable, then comes back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._listener = socket.create_server((LOOPBACK, self.port))
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.available = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if not self.available:
                client.close()
                continue
            try:
                upstream = socket.create_connection((LOOPBACK, self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def outage(self) -> None:
        """Refuse new connections and cut the open ones."""
        self.available = False
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def recover(self) -> None:
        """Pass connections through again."""
        self.available = True

    def close(self) -> None:
        """Stop listening."""
        self.outage()
        self._listener.close()
