"""Helpers for the webhook tests and the load benchmark: notifications, signing, a receiver."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from tap_intercom.webhooks.spool import read_spool

from testbed.servers import LOOPBACK, free_port, managed_process

# Distinctive, so a test can search every log and answer for it.
SECRET = "cs-test-3f9a1c7e5b2d48e6"
RECEIVER = str(Path(sys.executable).with_name("tap-intercom-webhooks"))


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
    spool: Path, log_path: Path, *options: str, secret: str = SECRET
) -> Iterator[RunningReceiver]:
    """Run `tap-intercom-webhooks` until the context ends (also on failure)."""
    port = free_port()
    args = [RECEIVER, "--host", LOOPBACK, "--port", str(port), "--spool", str(spool), *options]
    env = {**os.environ, "INTERCOM_CLIENT_SECRET": secret}
    with managed_process(args, port, log_path, env) as process:
        yield RunningReceiver(f"http://{LOOPBACK}:{port}/", spool, log_path, process)


STREAM = "webhook_notifications"


def tap_config(spool: Path) -> dict:
    """A tap config that reads `spool` (the API is never called for this stream)."""
    return {"access_token": "unused", "webhook_spool_dir": str(spool)}
