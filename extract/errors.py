"""Errors of the extraction stage; each names the file and the problem."""

from __future__ import annotations

from wtal.errors import InputFileError


class VideoError(InputFileError):
    """A video cannot be decoded: unreadable, corrupt, empty, or not resampleable."""
