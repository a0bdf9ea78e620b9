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


#: The most characters of one problem in a message (a schema message quotes one excerpt).
PROBLEM = 240

#: The most problems one message lists.
MAX_PROBLEMS = 10

#: The most characters of a path that a message quotes: a real path is never cut (Linux's
#: PATH_MAX), a path built from a 10 MB string is.
PATH_MAX = 4096


def listing(problems: list[str]) -> str:
    """The first :data:`MAX_PROBLEMS` problems, then how many more."""
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"and {len(problems) - MAX_PROBLEMS:,} more problems")
    return "; ".join(shown)


class WtalError(Exception):
    """Base class for errors the command line reports without a traceback."""


class UsageError(WtalError, ValueError):
    """A value the user gave (a command-line option, a config value, an argument, a name)
    cannot be used; the message says which and why. A ValueError too: a library caller's
    ``except ValueError`` still catches it."""


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


class TrainingError(WtalError):
    """A training run cannot start, go on or finish; the message says what to do."""
