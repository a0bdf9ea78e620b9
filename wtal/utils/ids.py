"""What a video id may hold. Ids name files and folders (``features/<id>/``,
``flow/<preset>/<id>.npy``, ``timelines/<id>.png``) and Snakemake targets, so every reader
applies this one rule to the ids it reads: an id that could climb out of a folder, name a
hidden parent, or read as a Snakemake wildcard is refused, naming the file and the id."""

from __future__ import annotations

import os

from wtal.errors import InputFileError, quoted

#: Folder and file names are at most 255 bytes on common file systems; the longest suffix
#: added to an id is ``.identity.json`` / ``.partial.json``.
MAX_ID_BYTES = 200
_FORBIDDEN = {"/": "a slash", "\\": "a backslash", "{": "a brace", "}": "a brace"}


def video_id_problem(video_id: object) -> str | None:
    """Why ``video_id`` cannot be a video id, or None when it can."""
    if not isinstance(video_id, str):
        return f"video id {quoted(video_id)} is not a string"
    if video_id in ("", ".", ".."):
        return f"video id {video_id!r} cannot name a file"
    for character in video_id:
        if character in _FORBIDDEN:
            return (
                f"video id {quoted(video_id)} holds {_FORBIDDEN[character]} ({character!r}); "
                "ids name files and folders"
            )
        if ord(character) < 32 or ord(character) == 127:
            return f"video id {quoted(video_id)} holds a control character"
    if len(video_id.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return f"video id {quoted(video_id)} is longer than {MAX_ID_BYTES} bytes"
    return None


def check_video_id(path: str | os.PathLike[str], video_id: object, where: str = "") -> str:
    """``video_id`` when it is a valid id; otherwise an error naming ``path`` (and ``where``
    in it, e.g. ``row 12``)."""
    problem = video_id_problem(video_id)
    if problem is not None:
        raise InputFileError(path, f"{where}: {problem}" if where else problem)
    return str(video_id)
