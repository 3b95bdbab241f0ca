"""Reading a time range in windows `[lo, hi)` whose width follows the data's density,
so that each holds about `WINDOW_PAGES` pages: the activity log's slices and the
windowed searches (conversations, tickets) share the rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tap_intercom.incremental import Batch

# Pages a window should hold: a checkpoint follows each window, so few enough that a
# failure loses little work and that a run's first window (listed a page per round
# trip, nothing listed ahead of it yet) is short; many enough that the window's
# partly filled last page, and requests for windows holding little, cost little.
WINDOW_PAGES = 10
# The narrowest window: a second-precise filter makes any width possible, but a
# minute holding more than WINDOW_PAGES pages is read whole rather than split further.
MIN_WINDOW_SECONDS = 60


def next_window_width(span: int, found: int, target: int) -> int:
    """The width (seconds) of a window that should hold `target` records, after one
    of `span` seconds held `found`: in proportion, at most four times as wide (a window
    that found little says little about the density), at least MIN_WINDOW_SECONDS."""
    return max(MIN_WINDOW_SECONDS, span * target // max(found, target // 4))


def window_batches(
    pages: Iterable[dict[str, Any]], records_key: str, field: str, lo: int, hi: int | None
) -> Iterator[Batch]:
    """One batch per page of the records with `lo <= field < hi` (no upper bound when
    `hi` is None), then the window's checkpoint: `hi`, or for an open window the newest
    value seen (a resume re-reads that second)."""
    newest = lo
    for payload in pages:
        batch = [
            record
            for record in payload.get(records_key) or ()
            if lo <= (record.get(field) or 0) and (hi is None or record[field] < hi)
        ]
        newest = max([newest, *(record[field] for record in batch)])
        yield batch, None
    yield [], newest if hi is None else hi
