"""One configuration system: YAML files validated against a JSON schema.

Errors name the file and the key; an unknown key also gets the closest known spelling.
Defaults declared in the schema are filled in, so code reads one complete dictionary.

A file may extend others: ``base: thumos14.yaml`` (or a list, applied in order, later
winning), relative to the file's folder. Each file's relative paths are resolved beside it,
the layers are merged (mappings key by key; lists, scalars and null replace) and the schema
validates the merged result, which holds no ``base`` key.

Every YAML the project reads (config files, sheets, ``--set`` values) goes through
:func:`parse_yaml`, which refuses alias bombs, recursive aliases and runaway nesting before
building anything; messages quote values as short excerpts, so an error stays one line.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from wtal.config_paths import relative_to, resolve_paths
from wtal.errors import EXCERPT, ConfigError, excerpt, quoted

#: The top-level key naming the file(s) a config file extends.
BASE_KEY = "base"

#: Which file set each key (a leaf, or a whole replaced value), by key path.
Origins = dict[tuple[str, ...], str]

#: The most values (mappings, lists and scalars, keys included) one YAML document may hold
#: once its aliases are expanded. PyYAML shares an alias's value, but validating, merging,
#: copying and printing a config expand it: a 400-byte "billion laughs" expands to 10^9
#: values and more. The largest shipped file (experiments/table8.yaml) holds 316 values, the
#: config schema 1,200; 100,000 leaves 300 times that for legitimate anchors, and a document
#: of 100,000 values (a 7,000-run sheet) is read and checked in about 5 s and 100 MB.
MAX_YAML_VALUES = 100_000

#: The most characters of text aliases may repeat (beyond the text written once): a path or
#: a template repeated by a few aliases is some kB; a bomb may instead repeat one long string.
MAX_ALIASED_CHARS = 1_000_000

#: The deepest nesting: a config nests 5 levels; merging, copying and validating recurse at
#: every level, and Python stops at 1,000 frames (a few hundred levels).
MAX_YAML_DEPTH = 100

#: The most characters of one problem in a message (a schema message quotes one excerpt).
PROBLEM = 240

#: The most problems one message lists.
MAX_PROBLEMS = 10

#: The most characters of a path that a message quotes: a real path is never cut (Linux's
#: PATH_MAX), a path built from a 10 MB string is.
PATH_MAX = 4096


def _listing(problems: list[str]) -> str:
    """The first :data:`MAX_PROBLEMS` problems, then how many more."""
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"and {len(problems) - MAX_PROBLEMS:,} more problems")
    return "; ".join(shown)


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` noting the name of each anchored node (the composed graph forgets
    it) for the message about a recursive alias."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.anchor_names: dict[int, str] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        node = super().compose_node(parent, index)
        if getattr(event, "anchor", None) is not None:
            self.anchor_names.setdefault(id(node), event.anchor)
        return node


def _node_parts(node: yaml.Node) -> Sequence[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return ()


def _node_text(node: yaml.Node) -> int:
    return len(node.value) if isinstance(node, yaml.ScalarNode) else 0


def _value_parts(value: Any) -> Sequence[Any]:
    if isinstance(value, dict):
        return [part for pair in value.items() for part in pair]
    return value if isinstance(value, (list, tuple)) else ()


def _value_text(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


@dataclass
class _Frame:
    """A node being measured: its parts, the next one to add, and its totals so far."""

    node: Any
    parts: Sequence[Any]
    text: int
    next: int = 0
    values: int = 1
    depth: int = 1

    def add(self, values: int, text: int, depth: int) -> None:
        self.values = min(self.values + values, MAX_YAML_VALUES + 1)  # (keeps numbers small)
        self.text += text
        self.depth = max(self.depth, depth + 1)


def _expansion_problem(
    root: Any,
    parts: Callable[[Any], Sequence[Any]],
    text: Callable[[Any], int],
    anchor: Callable[[Any], str | None] = lambda node: None,
) -> str | None:
    """What is wrong with the tree that the graph under ``root`` expands to, or None.

    Linear in the graph, not the tree: each node is measured once (by id), and an alias
    adds its node's totals wherever it repeats it; a node met again inside itself is a
    recursive alias. Iterative: a deep graph cannot exhaust Python's stack."""
    done: dict[int, tuple[int, int, int]] = {}  # id -> (values, text, depth) expanded
    inside = {id(root)}
    written = text(root)  # the text of each distinct scalar, once
    stack = [_Frame(root, parts(root), written)]
    while stack:
        frame = stack[-1]
        if frame.next == len(frame.parts):
            stack.pop()
            inside.discard(id(frame.node))
            done[id(frame.node)] = (frame.values, frame.text, frame.depth)
            if stack:
                stack[-1].add(frame.values, frame.text, frame.depth)
            continue
        part = frame.parts[frame.next]
        frame.next += 1
        if id(part) in done:
            frame.add(*done[id(part)])
        elif id(part) in inside:
            name = anchor(part)
            return f"recursive YAML alias &{name}" if name else "recursive YAML alias"
        else:
            below, length = parts(part), text(part)
            written += length
            if below:
                inside.add(id(part))
                stack.append(_Frame(part, below, length))
            else:  # a scalar (or an empty list or mapping): nothing to go into
                done[id(part)] = (1, length, 1)
                frame.add(1, length, 1)
    values, total, depth = done[id(root)]
    return _verdict(values, len(done), total - written, depth)


def _verdict(values: int, distinct: int, repeated: int, depth: int) -> str | None:
    """The problem with a document of ``values`` values once expanded (``distinct`` as
    written), aliases repeating ``repeated`` characters, nested ``depth`` levels."""
    if values > MAX_YAML_VALUES:
        if distinct > MAX_YAML_VALUES:
            return f"holds more than {MAX_YAML_VALUES:,} values"
        return f"YAML aliases expand to more than {MAX_YAML_VALUES:,} values (an alias bomb?)"
    if repeated > MAX_ALIASED_CHARS:
        return (
            f"YAML aliases repeat more than {MAX_ALIASED_CHARS:,} characters of text "
            "(an alias bomb?)"
        )
    if depth > MAX_YAML_DEPTH:
        return f"YAML nested more than {MAX_YAML_DEPTH} levels deep"
    return None


def parse_yaml(text: str, source: str | os.PathLike[str]) -> Any:
    """``text`` read as ``yaml.safe_load`` reads it, but measured before anything is built
    from it: an alias bomb, a recursive alias or nesting too deep is a ConfigError naming
    ``source``. Every YAML the project reads goes through here. A syntax error raises
    ``yaml.YAMLError``."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # PyYAML composes recursively
            raise ConfigError(
                source, f"YAML nested more than {MAX_YAML_DEPTH} levels deep"
            ) from None
        if node is None:
            return None
        names = loader.anchor_names
        problem = _expansion_problem(node, _node_parts, _node_text, lambda n: names.get(id(n)))
        if problem:
            raise ConfigError(source, problem)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def check_values(value: Any, source: str) -> None:
    """Refuse (ConfigError naming ``source``) a value that another YAML reader built (Snakemake's
    ``--config``), as :func:`parse_yaml` refuses a document."""
    problem = _expansion_problem(value, _value_parts, _value_text)
    if problem:
        raise ConfigError(source, problem)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: what the parser found and where (its own text spans lines
    and quotes the line at fault)."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return excerpt(" ".join(str(exc).split()), PROBLEM)
    what = "; ".join(excerpt(part, PROBLEM) for part in (exc.context, exc.problem) if part)
    mark = exc.problem_mark or exc.context_mark
    return what + (f" at line {mark.line + 1}, column {mark.column + 1}" if mark else "")


def read_yaml_file(path: str | os.PathLike[str], what: str = "config file") -> Any:
    """A YAML file (``what``: what it should be, for messages) read by :func:`parse_yaml`;
    a file missing, a folder, unreadable, not UTF-8 or not YAML is a ConfigError naming it."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, f"{what} not found") from None
    except IsADirectoryError:
        raise ConfigError(file, f"is a folder, not {_a(what)}") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ConfigError(
            file, f"not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(file, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return parse_yaml(text, file)
    except yaml.YAMLError as exc:
        raise ConfigError(file, f"not valid YAML ({_yaml_problem(exc)})") from None


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


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
        return ConfigError(source, _listing(in_file + on_line) + merged)
    first, _, problem = on_line[0].partition(": ")
    return ConfigError(first, _listing([problem, *on_line[1:]]))


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
        for key, value in command_line.items():
            check_values(value, f"--config {excerpt(str(key))}=...")
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
            raise ValueError(f"expected KEY.PATH=VALUE, got {quoted(item)}")
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
                raise ValueError(
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
