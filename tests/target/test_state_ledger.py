"""StateLedger: which received STATE may go out (pure, no Snowflake)."""

from __future__ import annotations

from target_snowflake.state_ledger import StateLedger


def test_a_state_with_nothing_held_goes_out_once() -> None:
    ledger = StateLedger()
    ledger.state_received({"a": 1})
    assert ledger.state_to_emit() == {"a": 1}
    assert ledger.state_to_emit() is None


def test_a_state_waits_for_the_records_before_it() -> None:
    ledger = StateLedger()
    ledger.hold("sink", ledger.record_received())
    ledger.state_received({"a": 1})
    assert ledger.state_to_emit() is None
    ledger.release("sink")
    assert ledger.state_to_emit() == {"a": 1}


def test_records_after_a_state_do_not_hold_it() -> None:
    ledger = StateLedger()
    ledger.record_received()  # committed at once (never held)
    ledger.state_received({"a": 1})
    ledger.hold("sink", ledger.record_received())
    assert ledger.state_to_emit() == {"a": 1}


def test_the_newest_safe_state_wins_and_later_ones_wait() -> None:
    ledger = StateLedger()
    ledger.state_received({"a": 1})
    ledger.state_received({"a": 2})
    ledger.hold("sink", ledger.record_received())
    ledger.state_received({"a": 3})
    assert ledger.state_to_emit() == {"a": 2}
    ledger.release("sink")
    assert ledger.state_to_emit() == {"a": 3}


def test_the_oldest_hold_of_any_holder_decides() -> None:
    ledger = StateLedger()
    ledger.hold("alpha", ledger.record_received())  # position 1
    ledger.state_received({"a": 1})
    ledger.hold("beta", ledger.record_received())  # position 2
    ledger.state_received({"a": 2})
    ledger.release("beta")
    assert ledger.state_to_emit() is None  # alpha still holds record 1
    ledger.release("alpha")
    assert ledger.state_to_emit() == {"a": 2}


def test_a_holder_keeps_its_oldest_position() -> None:
    ledger = StateLedger()
    ledger.hold("sink", ledger.record_received())
    ledger.state_received({"a": 1})
    ledger.hold("sink", ledger.record_received())  # same batch: still from position 1
    assert ledger.state_to_emit() is None
    assert ledger.holders() == ["sink"]


def test_an_equal_state_is_not_emitted_twice() -> None:
    ledger = StateLedger()
    ledger.state_received({"a": 1})
    assert ledger.state_to_emit() == {"a": 1}
    ledger.state_received({"a": 1})
    assert ledger.state_to_emit() is None
    ledger.state_received({"a": 2})
    assert ledger.state_to_emit() == {"a": 2}


def test_the_emitted_state_is_a_copy() -> None:
    ledger = StateLedger()
    state = {"bookmarks": {"s": {"n": 1}}}
    ledger.state_received(state)
    assert ledger.state_to_emit() == state
    state["bookmarks"]["s"]["n"] = 2  # changed in place by whoever sent it
    ledger.state_received(state)
    assert ledger.state_to_emit() == {"bookmarks": {"s": {"n": 2}}}


def test_oldest_hold_since_counts_only_holds_that_can_commit_early() -> None:
    ledger = StateLedger()
    assert ledger.oldest_hold_since() is None
    ledger.hold("overwrite", ledger.record_received())  # waits for the end of the run
    assert ledger.oldest_hold_since() is None
    ledger.hold("beta", ledger.record_received(), since=20.0)
    ledger.hold("alpha", ledger.record_received(), since=10.0)
    ledger.hold("beta", ledger.record_received(), since=30.0)  # keeps 20.0
    assert ledger.oldest_hold_since() == 10.0
    ledger.release("alpha")
    assert ledger.oldest_hold_since() == 20.0
    ledger.release("beta")
    assert ledger.oldest_hold_since() is None
