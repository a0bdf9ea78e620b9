"""Errors of the extraction stage; each names the file and the problem."""

from __future__ import annotations

from wtal.errors import InputFileError, WtalError


class VideoError(InputFileError):
    """A video cannot be decoded: unreadable, corrupt, empty, or not resampleable."""


class Undecodable(VideoError):
    """A video known not to decode: its decode record says so, or decoding it just failed and
    was recorded. Its later stages are skipped, never failed."""


class StageError(WtalError):
    """A problem of the whole run (its weights, its settings), not of one video: it stops the
    run, in a workflow job too."""
