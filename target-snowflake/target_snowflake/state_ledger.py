"""When a received STATE may go out: only once every record that came before it is
committed. Pure bookkeeping, no Snowflake: the target reports what arrives and what is
held uncommitted, and asks which state is now safe to emit.

Records are counted in input order (position 1, 2, ...). A state received after N records
is safe once no holder (a sink's open batch, an `overwrite` table waiting for the end of
the run) still holds a record at a position <= N. A hold may carry the (monotonic) time
its first record arrived, so the target can commit before records grow too old.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Hashable
from typing import Any


class StateLedger:
    """Received states, uncommitted records, and the last state emitted."""

    def __init__(self) -> None:
        self.records_received = 0
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()  # (records before it, state)
        self._holds: dict[Hashable, int] = {}  # holder -> position of its oldest record
        self._held_since: dict[Hashable, float] = {}  # holder -> when that record came
        self._emitted: dict[str, Any] | None = None

    def record_received(self) -> int:
        """Count one more record; its position."""
        self.records_received += 1
        return self.records_received

    def hold(self, holder: Hashable, position: int, since: float | None = None) -> None:
        """`holder` keeps the record at `position` (and later ones) uncommitted.

        `since`: when that record arrived, for holders that can commit at any time (a
        sink's batch); None for those that cannot (an `overwrite` table). A holder already
        holding keeps its older position and time.
        """
        if holder in self._holds:
            return
        self._holds[holder] = position
        if since is not None:
            self._held_since[holder] = since

    def release(self, holder: Hashable) -> None:
        """Everything `holder` held is committed."""
        self._holds.pop(holder, None)
        self._held_since.pop(holder, None)

    def oldest_hold_since(self) -> float | None:
        """When the oldest record that could be committed now arrived (None: no such)."""
        return min(self._held_since.values(), default=None)

    def holders(self) -> list[Hashable]:
        """Who holds uncommitted records now."""
        return list(self._holds)

    def state_received(self, state: dict[str, Any]) -> None:
        """A STATE arrived after every record counted so far."""
        self._pending.append((self.records_received, state))

    def state_to_emit(self) -> dict[str, Any] | None:
        """The newest received state every record before which is committed; None when
        there is none, or it equals the last state emitted. It counts as emitted."""
        oldest_held = min(self._holds.values(), default=self.records_received + 1)
        state = None
        while self._pending and self._pending[0][0] < oldest_held:
            state = self._pending.popleft()[1]
        if state is None or state == self._emitted:
            return None
        self._emitted = copy.deepcopy(state)
        return state
