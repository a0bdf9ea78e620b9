"""One configuration system: YAML files validated against a JSON schema.

Errors name the file and the key; an unknown key also gets the closest known spelling.
Defaults declared in the schema are filled in, so code reads one complete dictionary.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from wtal.config_paths import relative_to, resolve_paths
from wtal.errors import ConfigError


def load_schema(name: str = "config") -> dict[str, Any]:
    """A schema shipped with the package (``wtal/schemas/<name>.schema.yaml``)."""
    text = resources.files("wtal").joinpath(f"schemas/{name}.schema.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def _key_path(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _problems(error: jsonschema.ValidationError) -> list[tuple[tuple[str, ...], str]]:
    """(key path at fault, message) for each problem one schema error reports."""
    path = tuple(str(p) for p in error.absolute_path)
    where = _key_path(path)
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        parts = []
        for key in (k for k in error.instance if k not in known):
            full = f"{where}.{key}" if path else key
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
            parts.append(((*path, str(key)), f"unknown key '{full}'{hint}"))
        return parts
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [((*path, str(missing[0]) if missing else ""), f"{where}: {error.message}")]
    return [(path, f"key '{where}': {error.message}")]


def _set_by(overrides: dict[str, Any] | None, keys: tuple[str, ...]) -> bool:
    """Whether ``overrides`` set the key path ``keys`` (or a value above it)."""
    node: Any = overrides
    if not keys or not isinstance(node, dict):
        return False
    for key in keys:
        if not isinstance(node, dict):
            return True
        if key not in node:
            return False
        node = node[key]
    return True


def _blame(
    errors: list[jsonschema.ValidationError],
    source: str | os.PathLike[str],
    overrides: dict[str, Any] | None,
) -> ConfigError:
    """One error: the problems of the file under its name, then those of the command line's
    ``--set KEY=...`` (which a file must not be blamed for), each under its key."""
    in_file, on_line = [], []
    for error in errors:
        for keys, message in _problems(error):
            if _set_by(overrides, keys):
                on_line.append(f"--set {'.'.join(keys)}=...: {message}")
            else:
                in_file.append(message)
    if in_file:
        return ConfigError(source, "; ".join(in_file + on_line))
    first, _, problem = on_line[0].partition(": ")
    return ConfigError(first, "; ".join([problem, *on_line[1:]]))


def _fill_defaults(schema: dict[str, Any], data: Any) -> Any:
    if not isinstance(data, dict) or schema.get("type") != "object":
        return data
    for key, sub in schema.get("properties", {}).items():
        if key not in data and "default" in sub:
            data[key] = copy.deepcopy(sub["default"])
        if key not in data and sub.get("type") == "object":
            data[key] = {}
        if key in data:
            data[key] = _fill_defaults(sub, data[key])
    return data


def section_defaults(section: str, schema: str = "config") -> dict[str, Any]:
    """The defaults the schema declares for one top-level section (e.g. ``extraction``)."""
    return _fill_defaults(load_schema(schema)["properties"][section], {})


def validate_config(
    data: Any,
    source: str | os.PathLike[str] = "<config>",
    schema: str = "config",
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate ``data`` and return a copy with the schema's defaults filled in. Errors in
    keys that ``overrides`` set name ``--set KEY=...``, the others ``source``."""
    spec = load_schema(schema)
    validator = jsonschema.Draft202012Validator(spec)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise _blame(errors, source, overrides)
    return _fill_defaults(spec, copy.deepcopy(data))


def read_config_file(
    path: str | os.PathLike[str], schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One YAML config file as written, its relative paths resolved beside it (unvalidated)."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(file, "config file not found") from None
    except IsADirectoryError:
        raise ConfigError(file, "is a folder, not a config file") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ConfigError(
            file, f"not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, f"not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(file, f"must hold sections (a mapping), not a {type(data).__name__}")
    return resolve_paths(data, file.parent, schema or load_schema())


def load_config(
    path: str | os.PathLike[str], overrides: dict[str, Any] | None = None, schema: str = "config"
) -> dict[str, Any]:
    """Read a YAML config, merge ``overrides`` (nested dicts) and validate the result.

    Relative paths in the file are paths beside the file; in ``overrides`` (``--set``),
    paths from the current folder."""
    spec = load_schema(schema)
    data = read_config_file(path, spec)
    if overrides:
        data = merge(data, resolve_paths(overrides, Path.cwd(), spec))
    return validate_config(data, path, schema, overrides)


def layered_config(
    files: Sequence[str | os.PathLike[str]],
    command_line: dict[str, Any] | None = None,
    workdir: str | os.PathLike[str] = ".",
) -> dict[str, Any]:
    """The configuration the workflow runs with: ``files`` merged in order (each one's
    relative paths resolved beside it), then ``command_line`` (``--config``; paths from
    ``workdir``), paths inside ``workdir`` written relative to it. Unvalidated."""
    spec = load_schema()
    data: dict[str, Any] = {}
    for file in files:
        data = merge(data, read_config_file(file, spec))
    if command_line:
        data = merge(data, resolve_paths(dict(command_line), workdir, spec))
    return relative_to(data, workdir, spec)


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
            raise ValueError(f"expected KEY.PATH=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        if isinstance(value, str) and _looks_numeric(value):
            value = float(value)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{item!r} sets a key inside {part!r}, which is already a value")
        node[parts[-1]] = value
    return out


def _looks_numeric(text: str) -> bool:
    """YAML 1.1 reads ``1e-4`` as a string; a command line means the number."""
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity")
