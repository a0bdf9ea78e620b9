"""One configuration system: YAML files validated against a JSON schema.

Errors name the file and the key; an unknown key also gets the closest known spelling.
Defaults declared in the schema are filled in, so code reads one complete dictionary.

A file may extend others: ``base: thumos14.yaml`` (or a list, applied in order, later
winning), relative to the file's folder. Each file's relative paths are resolved beside it,
the layers are merged (mappings key by key; lists, scalars and null replace) and the schema
validates the merged result, which holds no ``base`` key.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from wtal.config_paths import relative_to, resolve_paths
from wtal.errors import ConfigError

#: The top-level key naming the file(s) a config file extends.
BASE_KEY = "base"

#: Which file set each key (a leaf, or a whole replaced value), by key path.
Origins = dict[tuple[str, ...], str]


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
                on_line.append(f"--set {'.'.join(keys)}=...: {message}")
                continue
            origin = _origin(origins or {}, keys)
            if len(layers) > 1 and origin is not None and origin != os.fspath(source):
                message += f" (set in {origin})"
            in_file.append(message)
    if in_file:
        merged = f" [merged from {' + '.join(layers)}]" if len(layers) > 1 else ""
        return ConfigError(source, "; ".join(in_file + on_line) + merged)
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
    layers: Sequence[str] = (),
    origins: Origins | None = None,
) -> dict[str, Any]:
    """Validate ``data`` (a merged config: no ``base`` key) and return a copy with the
    schema's defaults filled in. Errors in keys that ``overrides`` set name ``--set KEY=...``,
    the others ``source`` (and, for a config merged from ``layers``, the file that set the key
    in ``origins``)."""
    if isinstance(data, dict) and BASE_KEY in data:
        raise ConfigError(
            source,
            f"'{BASE_KEY}' is read when a config file is loaded (wtal.config.load_config) and "
            "is not a setting: a merged config holds none",
        )
    spec = load_schema(schema)
    validator = jsonschema.Draft202012Validator(spec)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise _blame(errors, source, overrides, layers, origins)
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


@dataclass(frozen=True)
class Layers:
    """Config files merged (unvalidated): the result and where each part came from."""

    data: dict[str, Any]  # merged, relative paths resolved beside their files, no ``base``
    shown: tuple[str, ...]  # the files in the order applied, as named (for messages)
    files: tuple[str, ...]  # the same files, absolute (for records)
    origins: Origins  # the file (as shown) that set each key


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and the files it was merged from (bases first, the file named
    last), absolute: what a run records beside the config, not inside it (a run resumes
    under the same settings, whichever files they were written in)."""

    config: dict[str, Any]
    files: tuple[str, ...]


def _bases(data: dict[str, Any], file: str) -> list[str]:
    """The paths a file's ``base`` names, as written."""
    value = data.pop(BASE_KEY, None)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise ConfigError(
            file, f"{BASE_KEY} must be a config file's path or a list of paths, not {value!r}"
        )
    return items


def _layer_files(
    file: str, spec: dict[str, Any], chain: tuple[tuple[str, str], ...] = ()
) -> list[tuple[str, dict[str, Any]]]:
    """``(file as shown, its data)`` for ``file`` and its bases, depth first, bases first.

    ``chain`` holds ``(real path, shown)`` of the files that led here, to name a cycle."""
    real = os.path.realpath(file)
    seen = [r for r, _ in chain]
    if real in seen:
        loop = [shown for _, shown in chain[seen.index(real) :]] + [file]
        raise ConfigError(chain[-1][1], f"{BASE_KEY} cycle: {' -> '.join(loop)}")
    data = read_config_file(file, spec)
    layers: list[tuple[str, dict[str, Any]]] = []
    for written in _bases(data, file):
        target = os.path.expanduser(written)
        if not os.path.isabs(target):
            target = os.path.normpath(os.path.join(os.path.dirname(file), target))
        if not os.path.isfile(target):
            why = "is a folder, not a config file" if os.path.isdir(target) else "not found"
            raise ConfigError(file, f"{BASE_KEY} {written!r}: {target} {why}")
        layers += _layer_files(target, spec, (*chain, (real, file)))
    return [*layers, (file, data)]


def _record(origins: Origins, value: Any, file: str, path: tuple[str, ...]) -> None:
    for key in [k for k in origins if k[: len(path)] == path]:
        del origins[key]
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _record(origins, sub, file, (*path, str(key)))
    else:
        origins[path] = file


def _apply(
    out: dict[str, Any],
    layer: dict[str, Any],
    file: str,
    origins: Origins,
    prefix: tuple[str, ...] = (),
) -> None:
    """:func:`merge` of ``layer`` into ``out`` in place, noting in ``origins`` what it set."""
    for key, value in layer.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            _apply(out[key], value, file, origins, path)
        else:
            out[key] = copy.deepcopy(value)
            _record(origins, value, file, path)


def read_layers(
    files: Sequence[str | os.PathLike[str]], schema: dict[str, Any] | None = None
) -> Layers:
    """``files`` and their bases merged in order (unvalidated): each file after its bases,
    each file once (where it is first needed: a base shared by two others is not applied
    again over the first one's settings), each one's relative paths resolved beside it."""
    spec = schema or load_schema()
    ordered: list[tuple[str, dict[str, Any]]] = []
    applied: set[str] = set()
    for file in files:
        for shown, data in _layer_files(os.fspath(file), spec):
            if os.path.realpath(shown) not in applied:
                applied.add(os.path.realpath(shown))
                ordered.append((shown, data))
    merged: dict[str, Any] = {}
    origins: Origins = {}
    for shown, data in ordered:
        _apply(merged, data, shown, origins)
    shown = tuple(name for name, _ in ordered)
    absolute = tuple(os.path.normpath(os.path.abspath(name)) for name in shown)
    return Layers(merged, shown, absolute, origins)


def _command_line(overrides: dict[str, Any], where: str) -> None:
    if BASE_KEY in overrides:
        raise ConfigError(where, f"a {BASE_KEY} is named in a config file, not on the command line")


def load_layered_config(
    path: str | os.PathLike[str], overrides: dict[str, Any] | None = None, schema: str = "config"
) -> LoadedConfig:
    """:func:`load_config`, and the files the config was merged from."""
    spec = load_schema(schema)
    layers = read_layers([path], spec)
    data, origins = layers.data, dict(layers.origins)
    if overrides:
        _command_line(overrides, f"--set {BASE_KEY}=...")
        data = merge(data, resolve_paths(overrides, Path.cwd(), spec))
    config = validate_config(data, path, schema, overrides, layers.shown, origins)
    return LoadedConfig(config, layers.files)


def load_config(
    path: str | os.PathLike[str], overrides: dict[str, Any] | None = None, schema: str = "config"
) -> dict[str, Any]:
    """Read a YAML config (and the files its ``base`` names), merge ``overrides`` (nested
    dicts) and validate the result.

    Relative paths in a file are paths beside that file; in ``overrides`` (``--set``),
    paths from the current folder."""
    return load_layered_config(path, overrides, schema).config


def layered_config(
    files: Sequence[str | os.PathLike[str]],
    command_line: dict[str, Any] | None = None,
    workdir: str | os.PathLike[str] = ".",
) -> dict[str, Any]:
    """The configuration the workflow runs with: ``files`` (and their bases) merged in order
    (each one's relative paths resolved beside it), then ``command_line`` (``--config``;
    paths from ``workdir``), paths inside ``workdir`` written relative to it. Unvalidated."""
    return _workflow_layers(files, command_line, workdir)[0]


def _workflow_layers(
    files: Sequence[str | os.PathLike[str]],
    command_line: dict[str, Any] | None,
    workdir: str | os.PathLike[str],
) -> tuple[dict[str, Any], Layers]:
    spec = load_schema()
    layers = read_layers(files, spec)
    data = layers.data
    if command_line:
        _command_line(command_line, f"--config {BASE_KEY}=...")
        data = merge(data, resolve_paths(dict(command_line), workdir, spec))
    return relative_to(data, workdir, spec), layers


def workflow_config(
    files: Sequence[str | os.PathLike[str]],
    command_line: dict[str, Any] | None = None,
    workdir: str | os.PathLike[str] = ".",
) -> LoadedConfig:
    """:func:`layered_config` validated: errors name the files merged and, for a key at
    fault, the file that set it (or ``--config``)."""
    data, layers = _workflow_layers(files, command_line, workdir)
    origins = dict(layers.origins)
    shown = layers.shown
    if command_line:
        _apply(copy.deepcopy(layers.data), dict(command_line), "--config", origins)
        shown = (*shown, "--config")
    label = " + ".join(os.fspath(f) for f in files) + (" + --config" if command_line else "")
    config = validate_config(data, f"config ({label})", "config", None, shown, origins)
    return LoadedConfig(config, layers.files)


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
