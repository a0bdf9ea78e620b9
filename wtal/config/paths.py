"""Relative paths in a config file are paths beside that file.

A config file names files and folders (annotations, features, weights, the results folder).
Read relative to the folder a command happens to run from, the same file would mean different
data from different folders, and a checkpoint recording those strings could not be used from
anywhere else. So a relative path *written in a config file* is resolved against that file's
folder; a relative path given on the command line (``--set``) against the current folder, as
any shell user expects. The schema marks which keys are paths (``x-path: true``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Values of path keys that name something other than a file.
NOT_PATHS = frozenset({"default"})


def path_keys(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key the schema marks ``x-path: true``, as a tuple of nested names."""
    found = []
    for key, sub in schema.get("properties", {}).items():
        here = (*prefix, key)
        if sub.get("x-path"):
            found.append(here)
        if sub.get("type") == "object":
            found += path_keys(sub, here)
    return found


def _map_paths(
    data: dict[str, Any], schema: dict[str, Any], change: Callable[[str], str]
) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for keys in path_keys(schema):
        node: Any = out
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        value = node.get(keys[-1]) if isinstance(node, dict) else None
        if isinstance(value, str) and value and value not in NOT_PATHS:
            node[keys[-1]] = change(value)
    return out


def resolve_paths(
    data: dict[str, Any], base: str | os.PathLike[str], schema: dict[str, Any]
) -> dict[str, Any]:
    """A copy of ``data`` with every relative path value made absolute against ``base``
    (absolute paths, ``~`` paths, null and ``default`` are kept as written)."""
    root = Path(base).absolute()
    return _map_paths(data, schema, lambda value: absolute_path(value, root))


def absolute_path(value: str, base: Path) -> str:
    """``value`` against ``base`` unless it is absolute or starts with ``~``; normalised
    (``a/../b`` -> ``b``) without following symbolic links."""
    if value.startswith("~"):
        return value
    path = Path(value)
    return os.path.normpath(path if path.is_absolute() else base / path)


def relative_to(
    data: dict[str, Any], base: str | os.PathLike[str], schema: dict[str, Any]
) -> dict[str, Any]:
    """A copy of ``data`` with absolute path values under ``base`` written relative to it
    (the workflow's files stay relative to its working directory); others are kept."""
    root = Path(base).absolute()

    def inside(value: str) -> str:
        if not os.path.isabs(value):
            return value
        relative = os.path.relpath(value, root)
        return value if relative.split(os.sep)[0] == os.pardir else relative

    return _map_paths(data, schema, inside)


def rebase_paths(
    data: dict[str, Any],
    old_base: str | os.PathLike[str],
    new_base: str | os.PathLike[str],
    schema: dict[str, Any],
) -> dict[str, Any]:
    """A copy of ``data`` whose relative paths (meant from ``old_base``) are rewritten to mean
    the same files from ``new_base``: what a config written into another folder needs."""
    old, new = Path(old_base).absolute(), Path(new_base).absolute()

    def rebase(value: str) -> str:
        if value.startswith("~") or os.path.isabs(value):
            return value
        return os.path.relpath(os.path.normpath(old / value), new)

    return _map_paths(data, schema, rebase)
