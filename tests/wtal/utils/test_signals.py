import os
import signal
import threading

import pytest

from wtal.utils.signals import deferred_interrupt


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """The handler a ``wtal`` process has (a test runner may have installed another)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_inside_the_block_is_raised_after_it_finishes():
    done = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        ctrl_c()
        done.append("rest of the write")
    assert done == ["rest of the write"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_ctrl_c_no_interrupt_and_errors_pass_through():
    with deferred_interrupt():
        pass
    with pytest.raises(ZeroDivisionError), deferred_interrupt():
        1 / 0  # noqa: B018
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nested_blocks_raise_once_at_the_outer_end():
    done = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        with deferred_interrupt():
            ctrl_c()
        done.append("after the inner block")
    assert done == ["after the inner block"]


def test_outside_the_main_thread_the_block_runs_as_is():
    seen = []

    def worker():
        with deferred_interrupt():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
