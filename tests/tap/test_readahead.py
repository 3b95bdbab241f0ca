"""Disk queues and read-ahead: order, several readers, errors, bounds, early stops."""

from __future__ import annotations

import threading
import time

import pytest
from tap_intercom.readahead import DiskQueue, IdMarks, ReadAhead, read_ahead, read_in_turn


def test_a_spool_is_read_back_in_order_by_every_reader_while_it_is_written():
    spool: DiskQueue[tuple[list[dict], int | None]] = DiskQueue()
    early: list = []
    reader = threading.Thread(target=lambda: early.extend(spool))
    reader.start()
    for number in range(500):
        spool.append(([{"id": str(number)}], number if number % 7 == 0 else None))
    spool.close()
    reader.join(10)
    late = list(spool)
    assert early == late == [([{"id": str(n)}], n if n % 7 == 0 else None) for n in range(500)]
    assert len(spool) == 500
    spool.discard()


def test_read_ahead_raises_the_source_error_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("page 3 failed")

    items = read_ahead(source())
    assert next(items) == 1
    assert next(items) == 2
    with pytest.raises(ValueError, match="page 3 failed"):
        next(items)


def test_read_ahead_runs_the_source_without_waiting_for_the_consumer():
    produced: list[float] = []

    def source():
        for number in range(20):
            produced.append(time.monotonic())
            yield number

    items = read_ahead(source())
    assert next(items) == 0
    time.sleep(0.3)  # a slow consumer: the source has gone on to its end meanwhile
    assert len(produced) == 20
    assert list(items) == list(range(1, 20))


def test_bounded_read_ahead_stays_within_its_bound_and_stops_with_the_consumer():
    produced: list[int] = []

    def source():
        for number in range(1_000):
            produced.append(number)
            yield number

    items = read_ahead(source(), max_ahead=5)
    assert next(items) == 0
    time.sleep(0.2)
    assert len(produced) <= 1 + 5 + 1
    items.close()  # the consumer stops: so does the producer
    assert len(produced) <= 1 + 5 + 2


def test_read_ahead_tells_whether_the_next_item_is_there_without_taking_it():
    second = threading.Event()

    def source():
        yield 1
        second.wait(10)
        yield 2

    listed = ReadAhead(source())
    items = iter(listed)
    assert next(items) == 1
    assert not listed.wait(0.05)  # the source has not produced it yet
    second.set()
    assert listed.wait(10)
    assert next(items) == 2
    assert listed.wait(10)  # the end is there too
    assert list(items) == []


def test_sources_read_in_turn_come_out_whole_and_in_order_while_several_are_read_at_once():
    # Every source waits until three are being read: read one at a time, this would
    # time out after 10 s, the first source would end early and the test fail.
    started: list[int] = []
    three = threading.Event()

    def source(number: int):
        started.append(number)
        if len(started) >= 3:
            three.set()
        for item in range(4):
            if item == 1:
                assert three.wait(10), "the sources were read one at a time"
            yield (number, item)

    items = list(read_in_turn((source(number) for number in range(7)), at_once=3))
    assert items == [(number, item) for number in range(7) for item in range(4)]
    assert sorted(started) == list(range(7))


def test_sources_are_taken_only_while_fewer_than_at_once_wait_for_their_turn():
    taken: list[int] = []

    def sources():
        for number in range(100):
            taken.append(number)
            yield iter(range(number * 10, number * 10 + 10))

    items = read_in_turn(sources(), at_once=3)
    assert next(items) == 0
    time.sleep(0.2)  # a slow consumer: the sources ahead of it are read, no more taken
    assert taken == [0, 1, 2]
    assert [next(items) for _ in range(10)] == list(range(1, 11))  # the first is given
    time.sleep(0.2)
    assert taken == [0, 1, 2, 3]
    items.close()  # the consumer stops: so does the taking
    time.sleep(0.1)
    assert taken == [0, 1, 2, 3]


def test_an_error_of_a_source_or_of_the_sources_comes_after_every_item_before_it():
    def failing(number: int):
        yield (number, 0)
        raise ValueError(f"source {number} failed")

    def sources(fail: int, error: Exception | None = None):
        for number in range(5):
            if error is not None and number == fail:
                raise error
            yield failing(number) if number == fail else iter([(number, 0), (number, 1)])

    items = read_in_turn(sources(2), at_once=3)
    assert [next(items) for _ in range(5)] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    with pytest.raises(ValueError, match="source 2 failed"):
        next(items)

    items = read_in_turn(sources(2, RuntimeError("no third source")), at_once=3)
    assert [next(items) for _ in range(4)] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    with pytest.raises(RuntimeError, match="no third source"):
        next(items)


def test_id_marks_tell_which_pass_listed_each_id_before():
    marks = IdMarks()
    assert marks.mark(["a", "b", "a"], 0) == {}
    assert marks.mark(["b", "c"], 0) == {"b": 0}
    assert marks.mark(["a", "c", "d"], 1) == {"a": 0, "c": 0}
    assert marks.mark(["a"], 1) == {"a": 1}
    assert len(marks) == 4
    many = [str(n) for n in range(1_200)]  # more than one statement's parameters
    assert marks.mark(many, 2) == {}
    assert marks.mark(many, 3) == dict.fromkeys(many, 2)
    marks.close()
