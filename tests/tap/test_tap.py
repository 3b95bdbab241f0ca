"""The tap's run as a whole: garbage collection tuned while the streams sync."""

from __future__ import annotations

import gc
import weakref

import pytest
from singer_sdk import Tap
from tap_intercom.tap import (
    YOUNG_COLLECTION_THRESHOLD,
    TapIntercom,
    garbage_collection_for_records,
)

CONFIG = {"access_token": "tap-token", "api_url": "http://127.0.0.1:9"}


def test_the_collector_is_tuned_while_streams_sync_and_restored_after(
    monkeypatch: pytest.MonkeyPatch,
):
    seen: list[tuple[tuple[int, ...], int]] = []

    def sdk_sync_all(tap: Tap) -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        raise RuntimeError("a stream failed")

    monkeypatch.setattr(Tap, "sync_all", sdk_sync_all)
    tap = TapIntercom(config=CONFIG)
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError, match="a stream failed"):
        tap.sync_all()
    [(during, frozen_during)] = seen
    assert during == (YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    assert frozen_during > frozen  # the objects made at startup are left out of the walks
    assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, frozen)


def test_garbage_in_cycles_is_still_collected_while_tuned():
    class Node:
        other: Node | None = None

    with garbage_collection_for_records():
        node = Node()
        node.other = node
        gone = weakref.ref(node)
        del node
        # enough new objects for a collection of the two youngest generations
        kept = [[] for _ in range(12 * YOUNG_COLLECTION_THRESHOLD)]
        assert gone() is None and kept
