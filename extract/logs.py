"""Where extraction's log lines go. The modules of ``extract`` log to the ``extract`` logger:
a stale output made again at WARNING, a line as each video ends at INFO. A command shows
them with :func:`show`: ``wtal extract`` / ``wtal flow`` the warnings on stderr, a workflow
job everything on stdout (its log)."""

from __future__ import annotations

import logging
import sys


class _Console(logging.Handler):
    """Plain lines on ``sys.<stream>``, looked up at each line (a test may swap it)."""

    def __init__(self, stream: str, level: int) -> None:
        super().__init__(level)
        self.stream = stream
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=getattr(sys, self.stream), flush=True)
        except Exception:
            self.handleError(record)


def show(stream: str = "stderr", level: int = logging.WARNING) -> None:
    """Show extraction's lines from ``level`` up on ``sys.<stream>`` (``stdout``,
    ``stderr``), as plain lines; a second call replaces the first."""
    logger = logging.getLogger("extract")
    for handler in [h for h in logger.handlers if isinstance(h, _Console)]:
        logger.removeHandler(handler)
    logger.addHandler(_Console(stream, level))
    logger.setLevel(level)
