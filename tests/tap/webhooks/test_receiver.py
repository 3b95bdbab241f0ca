"""The receiver over HTTP: signatures, de-duplication, bursts, limits, malformed bodies."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from testbed.webhooks import (
    RECEIVER,
    SECRET,
    RunningReceiver,
    deliver,
    deliver_concurrently,
    encode,
    hub_signature,
    make_notification,
    running_receiver,
    signed_headers,
    stored_ids,
)

MAX_BODY = 4096


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningReceiver]:
    base = tmp_path_factory.mktemp("receiver")
    with running_receiver(
        base / "spool", base / "receiver.log", "--max-body-bytes", str(MAX_BODY)
    ) as running:
        yield running


def test_a_signed_delivery_is_stored_then_answered_200(receiver: RunningReceiver):
    notification = make_notification("notif-valid")
    body = encode(notification)
    answer = requests.post(receiver.url, data=body, headers=signed_headers(body), timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "stored", "id": "notif-valid"}
    assert "notif-valid" in stored_ids(receiver.spool)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=",
        "sha1=0000000000000000000000000000000000000000",
        "sha256=SIGNED",
        "SIGNED_BY_ANOTHER_SECRET",
        "SIGNED_ANOTHER_BODY",
    ],
)
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_stored(
    receiver: RunningReceiver, header: str | None
):
    body = encode(make_notification("notif-unsigned"))
    if header == "sha256=SIGNED":
        header = hub_signature(SECRET.encode(), body).replace("sha1=", "sha256=")
    elif header == "SIGNED_BY_ANOTHER_SECRET":
        header = hub_signature(b"not-the-secret", body)
    elif header == "SIGNED_ANOTHER_BODY":
        header = hub_signature(SECRET.encode(), body + b" ")
    headers = {} if header is None else {"X-Hub-Signature": header}
    answer = requests.post(receiver.url, data=body, headers=headers, timeout=30)
    assert answer.status_code == 401
    assert "notif-unsigned" not in stored_ids(receiver.spool)


def test_a_redelivery_is_stored_once(receiver: RunningReceiver):
    notification = make_notification("notif-redelivered")
    assert deliver(receiver.url, notification) == 200
    notification["delivery_attempts"] = 2
    assert deliver(receiver.url, notification) == 200
    # Redeliveries racing the first write: all wait for the same commit.
    racing = make_notification("notif-racing")
    statuses = deliver_concurrently(receiver.url, [racing] * 24, threads=12)
    assert set(statuses.values()) == {200}
    counts = Counter(stored_ids(receiver.spool))
    assert counts["notif-redelivered"] == 1
    assert counts["notif-racing"] == 1


def test_a_burst_of_concurrent_deliveries_is_stored_exactly_once(receiver: RunningReceiver):
    notifications = [make_notification(f"burst-{i}") for i in range(400)]
    statuses = deliver_concurrently(receiver.url, notifications, threads=16)
    assert Counter(statuses.values()) == Counter({200: 400})
    counts = Counter(i for i in stored_ids(receiver.spool) if i.startswith("burst-"))
    assert set(counts) == set(statuses)
    assert set(counts.values()) == {1}


def test_oversized_bodies_are_refused_with_413(receiver: RunningReceiver):
    notification = make_notification("notif-huge")
    notification["data"]["item"]["padding"] = "x" * MAX_BODY
    body = encode(notification)
    declared = requests.post(receiver.url, data=body, headers=signed_headers(body), timeout=30)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the receiver counts the bytes
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    streamed = requests.post(receiver.url, data=chunks(), headers=signed_headers(body), timeout=30)
    assert streamed.status_code == 413
    assert "notif-huge" not in stored_ids(receiver.spool)
    assert requests.get(receiver.health_url, timeout=30).status_code == 200


def _without(field: str) -> bytes:
    notification = make_notification("notif-malformed")
    del notification[field]
    return encode(notification)


def _with(field: str, value: object) -> bytes:
    notification = make_notification("notif-malformed")
    notification[field] = value
    return encode(notification)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "body is not JSON"),
        (b"\xff\xfe\x00garbage", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (_with("delivery_attempts", float("nan")), "body is not JSON"),
        (_with("type", "conversation"), "'type' is not 'notification_event'"),
        (_without("id"), "'id' is missing"),
        (_without("topic"), "'topic' is missing"),
        (_with("data", {"item": "x"}), "'data.item' is missing or not an object"),
        (_with("created_at", "yesterday"), "'created_at' is not an integer"),
    ],
)
def test_malformed_bodies_are_400_naming_the_problem(
    receiver: RunningReceiver, body: bytes, error: str
):
    before = stored_ids(receiver.spool)
    answer = requests.post(receiver.url, data=body, headers=signed_headers(body), timeout=30)
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert stored_ids(receiver.spool) == before


def test_ping_is_accepted_and_not_stored(receiver: RunningReceiver):
    ping = {
        "type": "notification_event",
        "app_id": "ab12cd34",
        "data": {"type": "notification_event_data", "item": {"type": "ping", "message": "hi"}},
        "id": "notif-ping",
        "topic": "ping",
    }
    assert deliver(receiver.url, ping) == 200
    assert "notif-ping" not in stored_ids(receiver.spool)


def test_health_and_routing(receiver: RunningReceiver):
    health = requests.get(receiver.health_url, timeout=30)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert requests.get(receiver.url, timeout=30).status_code == 405
    body = encode(make_notification("notif-elsewhere"))
    elsewhere = requests.post(
        receiver.url + "elsewhere", data=body, headers=signed_headers(body), timeout=30
    )
    assert elsewhere.status_code == 404


def test_the_secret_is_never_logged_nor_answered(tmp_path: Path):
    with running_receiver(
        tmp_path / "spool", tmp_path / "receiver.log", "--log-level", "debug", "--access-log"
    ) as receiver:
        answers = [deliver(receiver.url, make_notification("notif-logged"))]
        body = encode(make_notification("notif-forged"))
        for headers in ({}, {"X-Hub-Signature": hub_signature(b"wrong", body)}):
            answer = requests.post(receiver.url, data=body, headers=headers, timeout=30)
            answers.append(answer.status_code)
            assert SECRET not in answer.text
        bad = b"{"
        answer = requests.post(receiver.url, data=bad, headers=signed_headers(bad), timeout=30)
        answers.append(answer.status_code)
    assert answers == [200, 401, 401, 400]
    log = receiver.log()
    assert "refused a delivery" in log  # the log is there and says what happened...
    assert SECRET not in log  # ...without the secret
    for name in ("spool.json", "removed-ids.log"):
        path = tmp_path / "spool" / name
        assert not path.exists() or SECRET not in path.read_text()


def test_without_a_secret_the_receiver_refuses_to_start(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "INTERCOM_CLIENT_SECRET": ""}
    result = subprocess.run(
        [RECEIVER, "--port", "1", "--spool", str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2
    assert "INTERCOM_CLIENT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_webhooks_extra_the_receiver_says_how_to_install_it(tmp_path: Path):
    # `sys.modules["uvicorn"] = None` makes `import uvicorn` raise ImportError, as when the
    # extra is not installed.
    program = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from tap_intercom.webhooks.server import main\n"
        f"main(['--port', '1', '--spool', {str(tmp_path)!r}])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "INTERCOM_CLIENT_SECRET": SECRET}
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env
    )
    assert result.returncode == 3
    assert "pip install 'intersnow-tap-intercom[webhooks]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())  # refused before touching the spool
