"""The decode-ahead queue: order kept, producer errors raised where they happened, at most
``depth`` items ahead, and a consumer that stops early stops the producer."""

from __future__ import annotations

import threading
import time

import pytest

from extract.prefetch import prefetched


def test_items_come_in_order():
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))


def test_a_producer_error_is_raised_at_its_item():
    def produce():
        yield 1
        yield 2
        raise ValueError("corrupt near frame 32")

    got = []
    with pytest.raises(ValueError, match="corrupt near frame 32"):
        for item in prefetched(produce()):
            got.append(item)
    assert got == [1, 2]


def test_the_producer_runs_at_most_depth_ahead():
    made = []
    lock = threading.Lock()

    def produce():
        for i in range(50):
            with lock:
                made.append(i)
            yield i

    consumed = 0
    ahead = []
    for _ in prefetched(produce(), depth=2):
        consumed += 1
        time.sleep(0.01)  # a slow device
        with lock:
            ahead.append(len(made) - consumed)
    # queued (depth) + the one being put: never more ahead than that
    assert max(ahead) <= 3
    assert consumed == 50


def test_stopping_early_stops_the_producer():
    made = []

    def produce():
        for i in range(10_000):
            made.append(i)
            yield i

    for item in prefetched(produce(), depth=2):
        if item == 5:
            break
    time.sleep(0.3)
    assert len(made) <= 10


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth must be at least 1"):
        list(prefetched(iter([1]), depth=0))
