"""SandboxClient: the control API over HTTP, for in-process and CLI-started sandboxes alike."""

from __future__ import annotations

from typing import Any

import requests


class SandboxClient:
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        response = self.session.request(
            method, f"{self.url}/_sandbox/{path}", json=body, params=params, timeout=self.timeout
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"sandbox control {method} /_sandbox/{path} failed "
                f"({response.status_code}): {response.text[:500]}"
            )
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def truth(self, streams: list[str] | None = None, version: str = "2.15") -> dict[str, Any]:
        """{"streams": {stream: [records]}, "deleted": {"conversations": [ids]},
        "drifted": [sites]} (sites: see testbed.intercom.drift)."""
        params = {"version": version}
        if streams:
            params["streams"] = ",".join(streams)
        return self._call("GET", "truth", params=params)

    def stream_truth(self, stream: str, version: str = "2.15") -> list[dict[str, Any]]:
        """The records a correct full extraction of `stream` yields (raw API form, in
        the shape `version` serves them)."""
        return self._call("GET", f"truth/{stream}", params={"version": version})["records"]

    def deleted(self, stream: str) -> list[str]:
        """Ids of the `stream` objects deleted in the workspace (contacts, merged ones
        included; archived companies; conversations)."""
        return self.truth([stream])["deleted"].get(stream, [])

    def change(
        self, kind: str, action: str, count: int = 1, ids: list[str] | None = None
    ) -> list[str]:
        body: dict[str, Any] = {"kind": kind, "action": action, "count": count}
        if ids is not None:
            body["ids"] = ids
        return self._call("POST", "changes", body)["ids"]

    def advance_clock(self, seconds: float) -> int:
        return self._call("POST", "clock", {"advance_seconds": seconds})["now"]

    def now(self) -> int:
        return self._call("GET", "clock")["now"]

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "requests")["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def drift(self) -> dict[str, Any]:
        """{"enabled": bool, "refusals": {...}, "effective_refusals": {...}}."""
        return self._call("GET", "drift")

    def set_drift(
        self, enabled: bool | None = None, refusals: dict[str, str | None] | None = None
    ) -> dict[str, Any]:
        """Switch drift on or off; set (code) or lift (None) endpoint refusals."""
        body: dict[str, Any] = {"refusals": refusals or {}}
        if enabled is not None:
            body["enabled"] = enabled
        return self._call("POST", "drift", body)

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "faults")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        return self._call("POST", "faults", settings)
