"""The control API under /_sandbox/: no auth, no rate limit, not in the request log."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from testbed.intercom.drift import check_refusals
from testbed.intercom.truth import STREAMS, deleted_truth, drifted_truth, stream_truth
from testbed.intercom.webhook_delivery import Webhooks

if TYPE_CHECKING:
    from testbed.intercom.server import SandboxServer


class Control:
    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.webhooks = Webhooks()  # notifications of the changes below, once subscribed

    def handle(self, method: str, path: str, query: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {"error": "the body must be JSON"}
        if not isinstance(body, dict):
            return 400, {"error": "the body must be a JSON object"}
        ws = self.server.workspace
        route = (method, path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/health"):
                errors = self.server.internal_errors
                return 200, {"ok": True, "now": ws.now(), "internal_errors": errors[-20:]}
            if route == ("GET", "/_sandbox/truth"):
                params = parse_qs(query)
                wanted = params.get("streams", [",".join(STREAMS)])[0].split(",")
                version = params.get("version", ["2.15"])[0]
                return 200, {
                    "streams": {s: stream_truth(ws, s, version) for s in wanted},
                    "deleted": deleted_truth(ws),
                    "drifted": drifted_truth(ws),
                }
            if method == "GET" and path.startswith("/_sandbox/truth/"):
                stream = path.rsplit("/", 1)[1]
                if stream not in STREAMS:
                    return 404, {"error": f"unknown stream {stream!r}; known: {sorted(STREAMS)}"}
                version = parse_qs(query).get("version", ["2.15"])[0]
                return 200, {"records": stream_truth(ws, stream, version)}
            if route == ("POST", "/_sandbox/changes"):
                ids = ws.change(
                    body.get("kind", ""),
                    body.get("action", ""),
                    body.get("count", 1),
                    body.get("ids"),
                )
                self.webhooks.changed(ws, body["kind"], body["action"], ids)
                return 200, {"ids": ids, "now": ws.now()}
            if path.rstrip("/") == "/_sandbox/webhooks":
                return self.webhooks.control(method, body, ws)
            if route == ("POST", "/_sandbox/clock"):
                seconds = body.get("advance_seconds")
                if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                    return 400, {"error": "advance_seconds must be a number"}
                return 200, {"now": ws.advance_clock(seconds)}
            if route == ("GET", "/_sandbox/clock"):
                return 200, {"now": ws.now()}
            if route == ("GET", "/_sandbox/requests"):
                return 200, {"requests": list(self.server.request_log)}
            if route == ("DELETE", "/_sandbox/requests"):
                self.server.request_log.clear()
                return 200, {"requests": []}
            if route == ("GET", "/_sandbox/drift"):
                return 200, self._drift_settings()
            if route == ("POST", "/_sandbox/drift"):
                unknown = set(body) - {"enabled", "refusals"}
                if unknown:
                    return 400, {"error": f"unknown drift settings {sorted(unknown)}"}
                enabled = body.get("enabled", ws.options.drift)
                if not isinstance(enabled, bool):
                    return 400, {"error": "enabled must be true or false"}
                with self.server.fault_lock, ws.lock:
                    changes = check_refusals(body.get("refusals", {}))
                    ws.options.drift = enabled
                    for path, code in changes.items():
                        if code is None:
                            ws.options.refusals.pop(path, None)
                        else:
                            ws.options.refusals[path] = code
                    ws.version += 1
                    return 200, self._drift_settings()
            if route == ("GET", "/_sandbox/faults"):
                return 200, ws.options.faults.as_dict()
            if route == ("POST", "/_sandbox/faults"):
                with self.server.fault_lock, ws.lock:
                    ws.options.faults.merge(body)
                    if "scroll_500_after_pages" in body:
                        self.server.api.scroll_500_fired = False
                    return 200, ws.options.faults.as_dict()
        except ValueError as error:
            return 400, {"error": str(error)}
        return 404, {"error": f"no control endpoint {method} {path}"}

    def _drift_settings(self) -> dict[str, Any]:
        options = self.server.workspace.options
        return {
            "enabled": options.drift,
            "refusals": options.refusals,
            "effective_refusals": options.effective_refusals(),
        }
