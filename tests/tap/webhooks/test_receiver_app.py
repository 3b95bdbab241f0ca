"""The receiver app in process: signatures by known answers, group commit, and 503 (never 200)
when the spool fails."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from tap_intercom.webhooks.app import (
    ReceiverSettings,
    WebhookReceiver,
    signature,
    signature_matches,
)
from tap_intercom.webhooks.spool import SpoolWriter

from testbed.webhooks import (
    SECRET,
    encode,
    hub_signature,
    make_notification,
    signed_headers,
    stored_ids,
)

# RFC 2202, HMAC-SHA1 test case 2: known answers, independent of any code here.
KNOWN_KEY = b"Jefe"
KNOWN_BODY = b"what do ya want for nothing?"
KNOWN_SIGNATURE = "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"


def test_signatures_are_hmac_sha1_of_the_body_as_known_answers_say():
    assert hub_signature(KNOWN_KEY, KNOWN_BODY) == KNOWN_SIGNATURE  # the tests' own signer
    assert signature(KNOWN_KEY, KNOWN_BODY) == KNOWN_SIGNATURE  # the receiver's
    assert signature_matches(KNOWN_KEY, KNOWN_BODY, KNOWN_SIGNATURE.encode())
    assert not signature_matches(KNOWN_KEY, KNOWN_BODY + b" ", KNOWN_SIGNATURE.encode())
    assert not signature_matches(b"jefe", KNOWN_BODY, KNOWN_SIGNATURE.encode())


async def _call(app: WebhookReceiver, method: str, path: str, body: bytes = b"") -> tuple:
    """One HTTP exchange through the ASGI interface: (status, JSON answer)."""
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return requests.pop(0) if requests else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(k.lower().encode(), v.encode()) for k, v in signed_headers(body).items()]
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


@contextlib.asynccontextmanager
async def _started(app: WebhookReceiver) -> AsyncIterator[None]:
    """Run the app's lifespan around the block, as uvicorn does."""
    lifespan: asyncio.Queue[dict] = asyncio.Queue()
    replies: asyncio.Queue[dict] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan"}, lifespan.get, replies.put))
    await lifespan.put({"type": "lifespan.startup"})
    assert (await replies.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await lifespan.put({"type": "lifespan.shutdown"})
        await task


def test_a_failing_spool_answers_503_and_turns_unhealthy(tmp_path: Path):
    writer = SpoolWriter(tmp_path, segment_max_bytes=1 << 20, segment_max_age_seconds=3600)
    app = WebhookReceiver(ReceiverSettings(secret=SECRET.encode()), writer, writer.open())
    lost = encode(make_notification("during-failure"))

    async def scenario() -> list[tuple]:
        async with _started(app):
            stored = await _call(app, "POST", "/", encode(make_notification("before")))
            # The segment turns unwritable under the writer (EBADF on write); dup2 keeps
            # the descriptor number taken, so nothing else can be written by mistake.
            read_only = os.open(tmp_path / "spool.json", os.O_RDONLY)
            os.dup2(read_only, writer._fd)
            os.close(read_only)
            failed = await _call(app, "POST", "/", lost)
            retried = await _call(app, "POST", "/", lost)
            health = await _call(app, "GET", "/healthz")
            return [stored, failed, retried, health]

    stored, failed, retried, health = asyncio.run(scenario())
    assert stored == (200, {"status": "stored", "id": "before"})
    assert failed[0] == 503
    assert retried[0] == 503  # not "duplicate": it was never stored
    assert health[0] == 503
    assert "writing segment" in health[1]["reason"]
    writer.close()
    assert stored_ids(tmp_path) == ["before"]


class _SlowDisk(SpoolWriter):
    """A writer whose fsync takes 50 ms, recording how many records each one covered."""

    batches: list[int]

    def append(self, records: list[bytes]) -> None:
        self.batches.append(len(records))
        time.sleep(0.05)
        super().append(records)


def test_one_fsync_covers_every_notification_that_arrived_meanwhile(tmp_path: Path):
    writer = _SlowDisk(tmp_path, segment_max_bytes=1 << 20, segment_max_age_seconds=3600)
    writer.batches = []
    app = WebhookReceiver(ReceiverSettings(secret=SECRET.encode()), writer, writer.open())
    bodies = [encode(make_notification(f"grouped-{i}")) for i in range(200)]

    async def scenario() -> list[tuple]:
        async with _started(app):
            first = asyncio.create_task(_call(app, "POST", "/", bodies[0]))
            await asyncio.sleep(0.01)  # its fsync is under way now
            rest = await asyncio.gather(*(_call(app, "POST", "/", body) for body in bodies[1:]))
            return [await first, *rest]

    answers = asyncio.run(scenario())
    writer.close()
    assert {status for status, _ in answers} == {200}
    assert sum(writer.batches) == 200
    # The first alone, then what queued during its fsync in one (or, on a slow machine,
    # a couple of) batches: not one fsync per notification.
    assert writer.batches[0] == 1
    assert len(writer.batches) <= 3
    assert sorted(stored_ids(tmp_path)) == sorted(f"grouped-{i}" for i in range(200))
