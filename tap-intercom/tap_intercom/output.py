"""Singer messages to stdout, RECORDs written in blocks.

The SDK's writer flushes stdout after every message: one `write` system call per
record, about a twentieth of the tap's CPU on a contacts sync (and as many wake-ups
of the target reading the pipe). Here RECORD lines gather in a buffer that goes out
when it holds `FLUSH_BYTES`, when its oldest line is `FLUSH_SECONDS` old, and before
any other message: a STATE (or SCHEMA) still follows every record before it, and
reaches the target at once. (The age is checked as each message comes; what is still
waiting when the process exits is written then.)
"""

from __future__ import annotations

import atexit
import sys
import time
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

FLUSH_BYTES = 64 * 1024
FLUSH_SECONDS = 1.0


class BlockRecordWriter(MsgSpecWriter):
    """msgspec's Singer writer, with RECORD lines written in blocks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = bytearray()
        self._oldest = 0.0
        self.clock = time.monotonic
        # Every way out of the process writes what waits (a dry run, `--test`, a
        # failure), not only the end of `sync_all`.
        atexit.register(self.flush)

    @override
    def write_message(self, message: Any) -> None:
        """Buffer a RECORD (written once the block is full or a second old); write
        any other message at once, after the RECORDs before it."""
        pending, now = self._pending, self.clock()
        if not pending:
            self._oldest = now
        pending += self.format_message(message)  # the SDK reuses its buffer: copy
        if (
            message.__class__ is not RecordMessage
            or len(pending) >= FLUSH_BYTES
            or now - self._oldest >= FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        """Write out the buffered lines."""
        if self._pending:
            sys.stdout.buffer.write(self._pending)
            self._pending.clear()
            sys.stdout.flush()
