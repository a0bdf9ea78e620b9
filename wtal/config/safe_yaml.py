"""Reading YAML safely: every YAML the project reads (config files, sheets, ``--set`` values)
goes through :func:`parse_yaml`, which refuses alias bombs, recursive aliases and runaway
nesting before building anything; messages quote values as short excerpts, so an error stays
one line."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wtal.errors import PROBLEM, ConfigError, excerpt

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
