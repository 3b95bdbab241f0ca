"""The HTTP side: a threaded stdlib server with auth, versions, rate limits, faults and a log.

Each request runs in its own thread, so injected latency sleeps never hold up other requests.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import traceback
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testbed.intercom.api import (
    ACCEPTED_VERSIONS,
    DEFAULT_VERSION,
    Api,
    ApiError,
    Request,
)
from testbed.intercom.control import Control
from testbed.intercom.drift import refusal
from testbed.intercom.options import SandboxOptions
from testbed.intercom.store import Workspace

RATE_WINDOW = 10  # seconds; Intercom enforces its limits per 10-second window
REQUEST_LOG_SIZE = 200_000


class RateLimiter:
    """A fixed 10-second window on the sandbox clock, sized by faults.rate_limit."""

    def __init__(self) -> None:
        self.window = 0
        self.used = 0

    def take(self, now: int, limit: int) -> tuple[bool, dict[str, str]]:
        window = now - now % RATE_WINDOW
        if window != self.window:
            self.window, self.used = window, 0
        allowed = self.used < limit
        if allowed:
            self.used += 1
        return allowed, self.headers(limit)

    def headers(self, limit: int) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - self.used, 0)),
            "X-RateLimit-Reset": str(self.window + RATE_WINDOW),
        }


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.workspace = Workspace(options)
        self.api = Api(self.workspace)
        self.control = Control(self)
        self.limiter = RateLimiter()
        self.fault_lock = threading.Lock()
        self.fault_rng = random.Random(options.seed)
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.internal_errors: list[str] = []  # sandbox bugs met while answering
        super().__init__((options.host, options.port), Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed tap, a closed pool) is not a sandbox fault:
        no traceback for it; anything else is printed as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with connection pools expect
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls
    server: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log at /_sandbox/requests is the record."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if parts.path.startswith("/_sandbox/"):
            status, body = self.server.control.handle(self.command, parts.path, parts.query, raw)
            self._send(status, json.dumps(body).encode(), {})
            return
        self._api(parts.path, parts.query, raw)

    def _api(self, path: str, query: str, raw: bytes) -> None:
        server = self.server
        ws = server.workspace
        faults = ws.options.faults
        with server.fault_lock:
            roll = server.fault_rng.random
            delay = (faults.latency_ms + roll() * faults.jitter_ms) / 1000
            drop = roll() < faults.drop_rate
            fail = roll() < faults.error_rate
            truncate = roll() < faults.truncate_rate
            fail_status = server.fault_rng.choice([500, 502, 503])
            storm = faults.storm_429 > 0
            if storm:
                faults.storm_429 -= 1
            allowed, rate_headers = server.limiter.take(ws.now(), faults.rate_limit)
        if delay:
            time.sleep(delay)
        try:
            body_json = json.loads(raw) if raw else None
        except ValueError:
            body_json = raw.decode("utf-8", "replace")
        entry = {
            "method": self.command,
            "path": path,
            "query": _flat_query(query),
            "body": body_json,
            "status": None,
            "time": time.time() + ws.offset,
        }
        server.request_log.append(entry)
        if drop:
            self.close_connection = True
            return
        status, payload = self._answer(
            path, query, body_json, raw, allowed, storm, fail, fail_status
        )
        entry["status"] = status
        data = json.dumps(payload).encode()
        if truncate and status == 200:
            data = data[: max(len(data) // 2, 1)]
        self._send(status, data, rate_headers)

    def _answer(
        self,
        path: str,
        query: str,
        body: Any,
        raw: bytes,
        allowed: bool,
        storm: bool,
        fail: bool,
        fail_status: int,
    ) -> tuple[int, dict[str, Any]]:
        server = self.server
        try:
            if not allowed or storm:
                raise ApiError(
                    429,
                    "rate_limit_exceeded",
                    f"Exceeded rate limit of {server.options.faults.rate_limit} in 10_seconds",
                )
            if fail:
                raise ApiError(fail_status, "server_error", "Server Error")
            auth = self.headers.get("Authorization") or ""
            if auth != f"Bearer {server.options.token}":
                raise ApiError(401, "unauthorized", "Access Token Invalid")
            version = self.headers.get("Intercom-Version") or DEFAULT_VERSION
            if version not in ACCEPTED_VERSIONS:
                raise ApiError(
                    400,
                    "intercom_version_invalid",
                    f"The requested version could not be found: {version[:20]}",
                )
            refused = refusal(server.options.effective_refusals(), path)
            if refused is not None:
                raise ApiError(*refused)
            if raw and not isinstance(body, dict | list):
                raise ApiError(400, "bad_request", "The request body is not valid JSON")
            request = Request(
                self.command,
                path,
                parse_qs(query, keep_blank_values=True),
                body,
                version,
                server.url,
            )
            return 200, server.api.handle(request)
        except ApiError as error:
            return error.status, error.body()
        except Exception as error:  # a sandbox bug: say so loudly rather than mimic Intercom
            traceback.print_exc()
            self.server.internal_errors.append(f"{self.command} {path}: {error!r}")
            return 500, ApiError(500, "sandbox_internal_error", repr(error)).body()

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _flat_query(query: str) -> dict[str, Any]:
    return {
        k: v[0] if len(v) == 1 else v for k, v in parse_qs(query, keep_blank_values=True).items()
    }
