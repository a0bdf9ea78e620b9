"""Subset names: the authors' ActivityNet1.3 files say ``train`` / ``val``, the official
release and the W-TALC copy ``training`` / ``validation``; both spellings name one subset,
whichever the config or the annotations use. Every subset selection goes through here."""

from __future__ import annotations

#: Other spellings of a subset, and the one the project uses.
SPELLINGS = {"train": "training", "val": "validation"}


def canonical_subset(name: str) -> str:
    """The project's spelling of subset ``name`` (``train`` -> ``training``, ``val`` ->
    ``validation``; any other name as it is)."""
    return SPELLINGS.get(name, name)


def same_subset(first: str, second: str) -> bool:
    """Whether two subset names, spelt either way, name the same subset."""
    return canonical_subset(first) == canonical_subset(second)
