"""The receiver: an ASGI app that verifies, de-duplicates and durably stores notifications.

One POST carries one Intercom notification. The answer is 200 only once the notification
is in the spool and fsynced (or was stored before: a redelivery); every failure to store
is a 5xx, so Intercom delivers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from tap_intercom.webhooks.spool import (
    KnownId,
    SpoolError,
    SpoolWriter,
    encode_record,
    envelope,
    utc_now,
)

logger = logging.getLogger("tap_intercom.webhooks")

HEALTH_PATH = "/healthz"
PING_TOPIC = "ping"
MAX_BATCH = 2000
TIMESTAMP_FIELDS = ("created_at", "first_sent_at", "delivered_at")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class ReceiverSettings:
    """What the receiver needs besides the spool."""

    secret: bytes = field(repr=False)  # the app's client secret: never printed
    max_body_bytes: int = 1 << 20
    path: str = "/"
    rotation_check_seconds: float = 1.0


class SpoolUnavailable(Exception):
    """The spool did not store a batch; the deliveries in it get a 5xx."""


class _ClientGone(Exception):
    """The client disconnected before its request body arrived."""


def signature(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature` value Intercom sends for a body: `sha1=<hex HMAC-SHA1>`."""
    return "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()


def signature_matches(secret: bytes, body: bytes, header: bytes | None) -> bool:
    """Whether the `X-Hub-Signature` header signs the raw body (constant-time compare)."""
    if header is None:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().lower())


def notification_problem(value: object) -> str | None:
    """What makes a parsed body not an Intercom notification, or None if it is one."""
    if not isinstance(value, dict):
        return "body is not a JSON object"
    if value.get("type") != "notification_event":
        return "'type' is not 'notification_event'"
    topic = value.get("topic")
    if not isinstance(topic, str) or not topic:
        return "'topic' is missing or not a string"
    if topic == PING_TOPIC:
        return None
    notification_id = value.get("id")
    if not isinstance(notification_id, str) or not notification_id:
        return "'id' is missing or not a string"
    if not isinstance(value.get("app_id"), str):
        return "'app_id' is missing or not a string"
    data = value.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("item"), dict):
        return "'data.item' is missing or not an object"
    for name in (*TIMESTAMP_FIELDS, "delivery_attempts"):
        stamp = value.get(name)
        if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int)):
            return f"'{name}' is not an integer"
    return None


class SeenIds:
    """Ids already stored, forgotten once older than the de-duplication window."""

    def __init__(self, window_seconds: float, known: Iterable[KnownId] = ()) -> None:
        self.window_seconds = window_seconds
        self._received: OrderedDict[str, float] = OrderedDict()
        for entry in sorted(known, key=lambda entry: entry.received):
            self._received[entry.id] = entry.received

    def __contains__(self, notification_id: str) -> bool:
        return notification_id in self._received

    def __len__(self) -> int:
        return len(self._received)

    def add(self, notification_id: str, received: float) -> None:
        """Remember an id; drop the ones that left the window (oldest first)."""
        self._received[notification_id] = received
        horizon = received - self.window_seconds
        while self._received:
            oldest_id, oldest = next(iter(self._received.items()))
            if oldest >= horizon:
                break
            del self._received[oldest_id]


class GroupCommitter:
    """Batches records that arrive while the previous fsync runs: one fsync for many.

    The writer runs on one dedicated thread, so the event loop keeps answering while the
    disk works, and writes never interleave.
    """

    def __init__(self, writer: SpoolWriter, rotation_check_seconds: float) -> None:
        self._writer = writer
        self._rotation_check_seconds = rotation_check_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")
        self._queue: asyncio.Queue[tuple[bytes, asyncio.Future[None]] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start committing (call from the event loop that submits)."""
        self._tasks = [
            asyncio.create_task(self._commit_batches()),
            asyncio.create_task(self._rotate_periodically()),
        ]

    def submit(self, record: bytes) -> asyncio.Future[None]:
        """Queue a record; the future completes once it is durable, or fails."""
        commit: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((record, commit))
        return commit

    async def stop(self) -> None:
        """Commit everything already queued, then stop."""
        self._queue.put_nowait(None)
        committing, rotating = self._tasks
        await committing
        rotating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rotating
        self._executor.shutdown(wait=True)

    async def _commit_batches(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            item = await self._queue.get()
            batch: list[tuple[bytes, asyncio.Future[None]]] = []
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                if stopping or self._queue.empty() or len(batch) >= MAX_BATCH:
                    break
                item = self._queue.get_nowait()
            if not batch:
                continue
            try:
                await loop.run_in_executor(
                    self._executor, self._writer.append, [record for record, _ in batch]
                )
            except SpoolError as exc:
                logger.error("spool write failed, answering 503: %s", exc)
                for _, commit in batch:
                    commit.set_exception(SpoolUnavailable(str(exc)))
            else:
                for _, commit in batch:
                    commit.set_result(None)

    async def _rotate_periodically(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._rotation_check_seconds)
            await loop.run_in_executor(self._executor, self._writer.rotate_if_due)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it grows past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _reject_constant(name: str) -> None:
    """NaN and Infinity are Python's JSON extensions, not JSON: refuse them."""
    raise ValueError(f"{name} is not JSON")


def _header(scope: Scope, name: bytes) -> bytes | None:
    header: bytes
    for key, header in scope["headers"]:
        if key == name:
            return header
    return None


async def _respond(
    send: Send, status: int, payload: dict[str, Any], *, close: bool = False
) -> None:
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: dict[str, Any]
    close: bool = False  # the rest of the body was not read, so the connection can't go on


class WebhookReceiver:
    """The ASGI application (HTTP and lifespan)."""

    def __init__(
        self, settings: ReceiverSettings, writer: SpoolWriter, known: Iterable[KnownId] = ()
    ) -> None:
        self.settings = settings
        self._writer = writer
        self._committer = GroupCommitter(writer, settings.rotation_check_seconds)
        self._seen = SeenIds(writer.dedup_window_seconds, known)
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._closing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            with contextlib.suppress(_ClientGone):
                answer = await self._route(scope, receive)
                await _respond(send, answer.status, answer.payload, close=answer.close)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._committer.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # The server has stopped taking requests and waited for those in flight.
                self._closing = True
                await self._committer.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, scope: Scope, receive: Receive) -> _Answer:
        method, path = scope["method"], scope["path"]
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return self._health()
        if path != self.settings.path:
            return _Answer(404, {"error": f"no such path: {path}"})
        if method != "POST":
            return _Answer(405, {"error": "only POST is accepted here"})
        return await self._deliver(scope, receive)

    def _health(self) -> _Answer:
        problem = self._writer.failure or ("shutting down" if self._closing else None)
        if problem:
            return _Answer(503, {"status": "unavailable", "reason": problem})
        return _Answer(
            200, {"status": "ok", "segment": self._writer.segment, "known_ids": len(self._seen)}
        )

    async def _deliver(self, scope: Scope, receive: Receive) -> _Answer:
        client = scope.get("client") or ("?", 0)
        limit = self.settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _Answer(413, {"error": f"body is larger than {limit} bytes"}, close=True)
        body = await _read_body(receive, limit)
        if body is None:
            return _Answer(413, {"error": f"body is larger than {limit} bytes"}, close=True)
        if not signature_matches(self.settings.secret, body, _header(scope, b"x-hub-signature")):
            logger.warning("refused a delivery from %s: missing or wrong signature", client[0])
            return _Answer(401, {"error": "missing or wrong X-Hub-Signature"})
        try:
            notification = json.loads(body, parse_constant=_reject_constant)
        except ValueError:
            return _Answer(400, {"error": "body is not JSON"})
        problem = notification_problem(notification)
        if problem:
            return _Answer(400, {"error": f"not an Intercom notification: {problem}"})
        if notification["topic"] == PING_TOPIC:
            return _Answer(200, {"status": "pong"})  # a subscription test: nothing to keep
        return await self._store(notification)

    async def _store(self, notification: dict[str, Any]) -> _Answer:
        notification_id = notification["id"]
        if notification_id in self._seen:
            return _Answer(200, {"status": "duplicate", "id": notification_id})
        commit = self._pending.get(notification_id)
        if commit is None:
            if self._closing or self._writer.failure:
                return _Answer(503, {"error": "the spool is not accepting notifications"})
            received_at = utc_now()
            commit = self._committer.submit(encode_record(envelope(notification, received_at)))
            self._pending[notification_id] = commit
            commit.add_done_callback(partial(self._settle, notification_id, received_at))
        try:
            # Shielded: a client that hangs up does not cancel the write others wait for.
            await asyncio.shield(commit)
        except SpoolUnavailable:
            return _Answer(503, {"error": "the spool could not store the notification"})
        return _Answer(200, {"status": "stored", "id": notification_id})

    def _settle(
        self, notification_id: str, received_at: datetime, commit: asyncio.Future[None]
    ) -> None:
        del self._pending[notification_id]
        if commit.exception() is None:
            self._seen.add(notification_id, received_at.timestamp())
