"""Errors that name the file and the entry at fault."""

from __future__ import annotations

import os

#: The most characters of a value that a message quotes: a message stays one readable line
#: whatever a file holds (a 10 MB string, a list of 100,000 values).
EXCERPT = 80


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """``text`` cut to at most ``limit`` characters, "..." marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quoted(value: object, limit: int = EXCERPT) -> str:
    """``repr(value)`` as a message quotes it: cut to an :func:`excerpt`."""
    return excerpt(repr(value), limit)


class WtalError(Exception):
    """Base class for errors the command line reports without a traceback."""


class InputFileError(WtalError, ValueError):
    """A file given by the user is missing, unreadable or malformed."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(InputFileError):
    """A configuration file does not match its schema."""


class Interrupted(WtalError):
    """The user stopped a command (Ctrl-C); the message says what was kept and how to go on."""
