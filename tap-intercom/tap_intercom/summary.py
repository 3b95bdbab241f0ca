"""The end-of-run summary: schema drift per stream and the streams Intercom refused.

Written once at the end of every run (also a failed one) as one log line,
``RUN SUMMARY: {json}``, and, with the `run_summary_path` setting, as a JSON file.
The format is documented in docs/schema-drift.md.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_intercom.drift import DriftLog

SUMMARY_PREFIX = "RUN SUMMARY: "


@dataclass
class RunSummary:
    """What one run absorbed (drift) and left out (refused streams)."""

    drift: dict[str, DriftLog] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def drift_log(self, stream: str) -> DriftLog:
        """The (shared) drift log of `stream`."""
        return self.drift.setdefault(stream, DriftLog())

    def skip(
        self, stream: str, endpoint: str, status: int, codes: tuple[str, ...], permission: str
    ) -> None:
        self.skipped.append(
            {
                "stream": stream,
                "endpoint": endpoint,
                "status": status,
                "error_codes": list(codes),
                "permission": permission,
            }
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "drift": {
                stream: log.entries() for stream, log in sorted(self.drift.items()) if log.counts
            },
            "skipped_streams": self.skipped,
        }

    def write(self, logger: logging.Logger, path: str | None) -> None:
        """Log the summary line and, if asked, write the file."""
        document = self.as_dict()
        logger.info("%s%s", SUMMARY_PREFIX, json.dumps(document, sort_keys=True))
        if path:
            Path(path).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
