"""Webhook notifications from the sandbox: a change made through the control API is
delivered, signed as Intercom signs it, to the subscribed URL.

Configured at `POST /_sandbox/webhooks` (`url`, `secret`, optional `topics`,
`retry_delay_seconds`, `timeout_seconds`); `GET /_sandbox/webhooks` answers the counts,
`DELETE` stops delivering. Each changed record makes one notification in Intercom's
envelope (`type: notification_event`, `data.item` the object as the API serves it);
the body is signed with the app's client secret (`X-Hub-Signature: sha1=<HMAC-SHA1 of
the body>`). A delivery fails on a non-2xx answer, a refused connection or no answer
within `timeout_seconds`; a failed delivery is sent once more after
`retry_delay_seconds` (docs/sandbox.md says where these rules come from), then dropped.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from testbed.intercom.store import Workspace

DEFAULT_RETRY_DELAY_SECONDS = 60.0
DEFAULT_TIMEOUT_SECONDS = 5.0
ATTEMPTS = 2  # the first delivery and one retry
SENDERS = 8  # Intercom delivers concurrently; one slow answer must not hold up the rest

# (kind, action) -> topic. Contacts' topics name the role: `{role}` is user or lead.
TOPICS: dict[tuple[str, str], str] = {
    ("contacts", "add"): "contact.{role}.created",
    ("contacts", "update"): "contact.{role}.updated",
    ("contacts", "delete"): "contact.deleted",
    ("contacts", "archive"): "contact.archived",
    ("contacts", "merge"): "contact.merged",
    ("conversations", "add"): "conversation.user.created",
    ("conversations", "add_parts"): "conversation.user.replied",
    ("conversations", "update"): "conversation.priority.updated",
    ("conversations", "delete"): "conversation.deleted",
    ("companies", "add"): "company.created",
    ("companies", "update"): "company.updated",
    ("companies", "delete"): "company.deleted",
}
ITEM_TYPES = {"contacts": "contact", "conversations": "conversation", "companies": "company"}


def hub_signature(secret: bytes, body: bytes) -> str:
    """`X-Hub-Signature` as Intercom sends it."""
    return "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()


@dataclass(frozen=True)
class Subscription:
    """Where notifications go, and how deliveries are retried."""

    url: str
    secret: str = field(repr=False)
    topics: frozenset[str] | None = None  # None: every topic the sandbox sends
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Subscription:
        """A subscription from the control API's JSON; ValueError names what is wrong."""
        unknown = set(body) - {"url", "secret", "topics", "retry_delay_seconds", "timeout_seconds"}
        if unknown:
            raise ValueError(f"unknown webhook settings {sorted(unknown)}")
        url, secret, topics = body.get("url"), body.get("secret"), body.get("topics")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        if not isinstance(secret, str) or not secret:
            raise ValueError("secret (the app's client secret) must be a non-empty string")
        if topics is not None and not (
            isinstance(topics, list) and all(isinstance(t, str) for t in topics)
        ):
            raise ValueError("topics must be a list of strings")
        delays = {}
        for name in ("retry_delay_seconds", "timeout_seconds"):
            value = body.get(name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise ValueError(f"{name} must be a positive number")
                delays[name] = float(value)
        return cls(url, secret, None if topics is None else frozenset(topics), **delays)


@dataclass(order=True)
class _Pending:
    due: float
    sequence: int
    notification: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookDelivery:
    """Delivers notifications to one subscription from a few sender threads."""

    def __init__(self, subscription: Subscription, app_id: str) -> None:
        self.subscription = subscription
        self.app_id = app_id
        self.counts: Counter[str] = Counter()  # queued, delivered, retried, dropped
        self._queue: list[_Pending] = []
        self._sequence = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._senders = [
            threading.Thread(target=self._send_loop, name=f"webhook-sender-{n}", daemon=True)
            for n in range(SENDERS)
        ]
        for sender in self._senders:
            sender.start()

    def notify_change(self, workspace: Workspace, kind: str, action: str, ids: list[str]) -> None:
        """Queue one notification per changed record (the control API's change)."""
        store = workspace.kinds.get(kind)
        if store is None or (kind, action) not in TOPICS:
            return
        now = int(time.time())
        notifications = []
        with workspace.lock:  # the records as this change left them
            for ident in ids:
                index = store.lookup(ident)
                if index is None or index in store.deleted:
                    item: dict[str, Any] = {"type": ITEM_TYPES[kind], "id": ident}
                else:
                    item = store.record(index)
                role = "user"
                if kind == "contacts" and index is not None:
                    role = workspace.gen.contact_role(index)
                topic = TOPICS[(kind, action)].format(role=role)
                if self.subscription.topics is None or topic in self.subscription.topics:
                    notifications.append(self._notification(topic, item, now))
        for notification in notifications:
            self._queue_notification(notification)

    def _notification(self, topic: str, item: dict[str, Any], now: int) -> dict[str, Any]:
        return {
            "type": "notification_event",
            "app_id": self.app_id,
            "data": {"type": "notification_event_data", "item": item},
            "links": {},
            "id": f"notif_{uuid.uuid4()}",
            "topic": topic,
            "delivery_status": "pending",
            "delivery_attempts": 1,
            "delivered_at": 0,
            "first_sent_at": now,
            "created_at": now,
            "self": None,
        }

    def _queue_notification(
        self, notification: dict[str, Any], attempt: int = 1, delay: float = 0.0
    ) -> None:
        with self._wake:
            heapq.heappush(
                self._queue,
                _Pending(time.monotonic() + delay, next(self._sequence), notification, attempt),
            )
            if attempt == 1:
                self.counts["queued"] += 1
            self._wake.notify()

    def _next(self) -> _Pending | None:
        with self._wake:
            while not self._closed:
                if self._queue:
                    wait = self._queue[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._queue)
                    self._wake.wait(wait)
                else:
                    self._wake.wait()
            return None

    def _send_loop(self) -> None:
        session = requests.Session()
        while (pending := self._next()) is not None:
            notification = {**pending.notification, "delivery_attempts": pending.attempt}
            body = json.dumps(notification).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature": hub_signature(self.subscription.secret.encode(), body),
            }
            try:
                answer = session.post(
                    self.subscription.url,
                    data=body,
                    headers=headers,
                    timeout=self.subscription.timeout_seconds,
                )
                delivered = 200 <= answer.status_code < 300
            except requests.RequestException:
                delivered = False
            with self._wake:
                if delivered:
                    self.counts["delivered"] += 1
                elif pending.attempt < ATTEMPTS:
                    self.counts["retried"] += 1
                else:
                    self.counts["dropped"] += 1
            if not delivered and pending.attempt < ATTEMPTS:
                self._queue_notification(
                    pending.notification, pending.attempt + 1, self.subscription.retry_delay_seconds
                )

    def status(self) -> dict[str, Any]:
        """The subscription (without its secret) and the delivery counts."""
        with self._wake:
            counts = {name: self.counts[name] for name in ("queued", "delivered", "retried")}
            counts["dropped"] = self.counts["dropped"]
            return {
                "settled": counts["delivered"] + counts["dropped"] == counts["queued"],
                "url": self.subscription.url,
                "topics": sorted(self.subscription.topics or ()) or None,
                "retry_delay_seconds": self.subscription.retry_delay_seconds,
                "timeout_seconds": self.subscription.timeout_seconds,
                "pending": len(self._queue),
                **counts,
            }

    def close(self) -> None:
        """Stop delivering (what is still queued is dropped, as on an unsubscribe)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()


class Webhooks:
    """The sandbox's webhook subscription (at most one), behind the control API."""

    def __init__(self) -> None:
        self._delivery: WebhookDelivery | None = None
        self._lock = threading.Lock()

    def control(
        self, method: str, body: dict[str, Any], workspace: Workspace
    ) -> tuple[int, dict[str, Any]]:
        """`/_sandbox/webhooks`: POST subscribes (replacing any subscription), GET
        answers the counts, DELETE unsubscribes."""
        with self._lock:
            if method == "POST":
                subscription = Subscription.from_body(body)  # ValueError: a 400
                if self._delivery is not None:
                    self._delivery.close()
                self._delivery = WebhookDelivery(subscription, workspace.gen.workspace_id)
            elif method == "DELETE":
                if self._delivery is not None:
                    self._delivery.close()
                self._delivery = None
            elif method != "GET":
                return 405, {"error": "GET, POST or DELETE"}
            return 200, {"subscription": self._delivery and self._delivery.status()}

    def changed(self, workspace: Workspace, kind: str, action: str, ids: list[str]) -> None:
        """Notify the subscription, if any, of a change made through the control API."""
        delivery = self._delivery
        if delivery is not None:
            delivery.notify_change(workspace, kind, action, ids)
