"""Changing and comparing configs: a merge (the later wins), the command line's
``--set KEY=VALUE`` assignments as nested overrides, and the keys where two configs differ."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from wtal.config.safe_yaml import parse_yaml
from wtal.errors import UsageError, excerpt, quoted


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dictionary merge; ``update`` wins."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def differences(old: Any, new: Any, path: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    """``(dotted key, old value, new value)`` for every leaf where two configs differ (a key
    missing on one side counts as None), sorted by key."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += differences(old.get(key), new.get(key), (*path, str(key)))
        return found
    return [] if old == new else [(".".join(path), old, new)]


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["training.seed=1", "model.vlc.enabled=false"]`` -> nested override dictionary.

    Values are read as YAML scalars (``1`` is an int, ``false`` a bool, ``1e-4`` a float,
    ``null`` None); the result still goes through the schema, which names wrong keys."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise UsageError(f"expected KEY.PATH=VALUE, got {quoted(item)}")
        try:
            value = parse_yaml(text, f"--set {excerpt(key.strip())}=...") if text.strip() else ""
        except yaml.YAMLError:
            value = text
        if isinstance(value, str) and _looks_numeric(value):
            value = float(value)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UsageError(
                    f"{quoted(item)} sets a key inside {quoted(part)}, which is already a value"
                )
        node[parts[-1]] = value
    return out


def _looks_numeric(text: str) -> bool:
    """YAML 1.1 reads ``1e-4`` as a string; a command line means the number."""
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity")
