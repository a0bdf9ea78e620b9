"""Errors that name the file and the entry at fault."""

from __future__ import annotations

import os


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
