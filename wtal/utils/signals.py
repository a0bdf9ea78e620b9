"""Ctrl-C held back while a short write that must not be cut finishes."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Run the block whole, then raise the ``KeyboardInterrupt`` of a Ctrl-C that came during
    it. A signal landing inside a library's writer (``torch.save``'s zip writer) can
    otherwise leave the library's own error in its place, or cut a record whose completion
    the caller goes on to report. Outside the main thread (where Python delivers no
    signals) and where SIGINT is not Python's default handler, the block runs as is."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt
