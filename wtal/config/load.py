"""Loading a config: YAML files validated against the schema (:mod:`wtal.config.schema`),
resolved (defaults, then the preset) once, here.

A file may extend others: ``base: thumos14.yaml`` (or a list, applied in order, later
winning), relative to the file's folder. Each file's relative paths are resolved beside it
(:mod:`wtal.config.paths`), the layers are merged (mappings key by key; lists, scalars and
null replace) and the schema validates the merged result, which holds no ``base`` key."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wtal.config.overrides import merge
from wtal.config.paths import relative_to, resolve_paths
from wtal.config.safe_yaml import check_values, read_yaml_file
from wtal.config.schema import BASE_KEY, Origins, load_schema, validate_config
from wtal.errors import PATH_MAX, ConfigError, excerpt, quoted


def read_config_file(
    path: str | os.PathLike[str], schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One YAML config file as written, its relative paths resolved beside it (unvalidated)."""
    file = Path(path)
    data = read_yaml_file(file) or {}
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
    """A validated, resolved config and the files it was merged from (bases first, the file
    named last), absolute: what a run records beside the config, not inside it (a run resumes
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
            file,
            f"{BASE_KEY} must be a config file's path or a list of paths, not {quoted(value)}",
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
            shown = f"{quoted(written)}: {excerpt(target, PATH_MAX)}"
            raise ConfigError(file, f"{BASE_KEY} {shown} {why}")
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
    dicts) and validate the result: the schema's defaults and the preset's values filled in.

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
        for key, value in command_line.items():
            check_values(value, f"--config {excerpt(str(key))}=...")
        data = merge(data, resolve_paths(dict(command_line), workdir, spec))
    return relative_to(data, workdir, spec), layers


def workflow_config(
    files: Sequence[str | os.PathLike[str]],
    command_line: dict[str, Any] | None = None,
    workdir: str | os.PathLike[str] = ".",
) -> LoadedConfig:
    """:func:`layered_config` validated and resolved: errors name the files merged and, for
    a key at fault, the file that set it (or ``--config``)."""
    data, layers = _workflow_layers(files, command_line, workdir)
    origins = dict(layers.origins)
    shown = layers.shown
    if command_line:
        _apply(copy.deepcopy(layers.data), dict(command_line), "--config", origins)
        shown = (*shown, "--config")
    label = " + ".join(os.fspath(f) for f in files) + (" + --config" if command_line else "")
    config = validate_config(data, f"config ({label})", "config", None, shown, origins)
    return LoadedConfig(config, layers.files)
