"""The schema a config file is checked against (``wtal/schemas/config.schema.yaml``): every
object is closed, so an unknown key is an error naming it and the closest known spelling;
errors name the file (and, in a layered config, the file that set the key); the defaults the
schema declares are filled in, and then the preset's values (:mod:`wtal.config.presets`), so
code reads one complete, resolved dictionary."""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

import jsonschema

from wtal.config.presets import resolve_preset
from wtal.config.safe_yaml import parse_yaml
from wtal.errors import EXCERPT, PROBLEM, ConfigError, excerpt, listing

#: The top-level key naming the file(s) a config file extends.
BASE_KEY = "base"

#: Which file set each key (a leaf, or a whole replaced value), by key path.
Origins = dict[tuple[str, ...], str]


def load_schema(name: str = "config") -> dict[str, Any]:
    """A schema shipped with the package (``wtal/schemas/<name>.schema.yaml``)."""
    text = resources.files("wtal").joinpath(f"schemas/{name}.schema.yaml").read_text("utf-8")
    return parse_yaml(text, f"wtal/schemas/{name}.schema.yaml")


def _key_path(path: Any) -> str:
    return excerpt(".".join(str(p) for p in path)) or "<top level>"


def _schema_message(error: jsonschema.ValidationError) -> str:
    """The schema's message, the value it quotes (``repr``: a 10 MB string, a list of
    100,000 values) cut to an excerpt."""
    message = error.message
    quoted = repr(error.instance)
    if len(quoted) > EXCERPT:
        message = message.replace(quoted, excerpt(quoted), 1)
    return excerpt(message, PROBLEM)


def _problems(error: jsonschema.ValidationError) -> list[tuple[tuple[str, ...], str]]:
    """(key path at fault, message) for each problem one schema error reports."""
    path = tuple(str(p) for p in error.absolute_path)
    where = _key_path(path)
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        parts = []
        for key in (str(k) for k in error.instance if k not in known):
            full = excerpt(f"{where}.{key}" if path else key)
            close = difflib.get_close_matches(key, known, n=1) if len(key) <= EXCERPT else []
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
            parts.append(((*path, key), f"unknown key '{full}'{hint}"))
        return parts
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [((*path, str(missing[0]) if missing else ""), f"{where}: {_schema_message(error)}")]
    return [(path, f"key '{where}': {_schema_message(error)}")]


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


def _origin(origins: Origins, keys: tuple[str, ...]) -> str | None:
    """The file that set ``keys`` (or the value above it, or, for a mapping, a key in it)."""
    for end in range(len(keys), 0, -1):
        if keys[:end] in origins:
            return origins[keys[:end]]
    return next((file for path, file in origins.items() if path[: len(keys)] == keys), None)


def _blame(
    errors: list[jsonschema.ValidationError],
    source: str | os.PathLike[str],
    overrides: dict[str, Any] | None,
    layers: Sequence[str] = (),
    origins: Origins | None = None,
) -> ConfigError:
    """One error: the problems of the file under its name, then those of the command line's
    ``--set KEY=...`` (which a file must not be blamed for), each under its key. A config
    merged from several ``layers`` also names the file that set each key at fault (when it
    is not ``source``) and the files merged."""
    in_file, on_line = [], []
    for error in errors:
        for keys, message in _problems(error):
            if _set_by(overrides, keys):
                on_line.append(f"--set {_key_path(keys)}=...: {message}")
                continue
            origin = _origin(origins or {}, keys)
            if len(layers) > 1 and origin is not None and origin != os.fspath(source):
                message += f" (set in {origin})"
            in_file.append(message)
    if in_file:
        merged = f" [merged from {' + '.join(layers)}]" if len(layers) > 1 else ""
        return ConfigError(source, listing(in_file + on_line) + merged)
    first, _, problem = on_line[0].partition(": ")
    return ConfigError(first, listing([problem, *on_line[1:]]))


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
    layers: Sequence[str] = (),
    origins: Origins | None = None,
) -> dict[str, Any]:
    """Validate ``data`` (a merged config: no ``base`` key) and return a copy with the
    schema's defaults filled in and, for a pipeline config (``schema="config"``), the
    preset's values where it leaves them null: a config is resolved once, as it is loaded.

    Errors in keys that ``overrides`` set name ``--set KEY=...``, the others ``source`` (and,
    for a config merged from ``layers``, the file that set the key in ``origins``)."""
    if isinstance(data, dict) and BASE_KEY in data:
        raise ConfigError(
            source,
            f"'{BASE_KEY}' is read when a config file is loaded (wtal.config.load.load_config) and "
            "is not a setting: a merged config holds none",
        )
    spec = load_schema(schema)
    validator = jsonschema.Draft202012Validator(spec)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise _blame(errors, source, overrides, layers, origins)
    config = _fill_defaults(spec, copy.deepcopy(data))
    return resolve_preset(config) if schema == "config" else config
