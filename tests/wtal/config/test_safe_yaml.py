"""Every YAML the project reads (config files, their base: files, experiment sheets, --set
values, and the --config values Snakemake hands over) is measured before anything is built
from it: alias bombs, recursive aliases and runaway nesting are refused in one line naming
the file, messages quote values only as short excerpts, and a file that is not UTF-8 is
named. Legitimate small anchors keep working.

The bombs below expand to about 10^9 values. Against a loader that expands them they would
eat memory for minutes, so they are loaded in a subprocess with a memory limit and a timeout:
such a loader fails the test in seconds instead.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from wtal.config.load import load_config
from wtal.config.overrides import parse_assignments
from wtal.config.safe_yaml import MAX_YAML_DEPTH, MAX_YAML_VALUES, parse_yaml
from wtal.config.sheets import load_sheet
from wtal.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]

DATASET = "dataset: {name: tiny, format: activitynet, annotations: data/gt.json}\n"

#: What a refused alias bomb says (after the file's name).
BOMB = f"YAML aliases expand to more than {MAX_YAML_VALUES:,} values (an alias bomb?)"

#: A message that quotes a value is at most this long (file name aside).
SHORT = 400


def anchors(levels: int = 10, width: int = 8) -> list[str]:
    """``&a0 [x, x, ...]``, ``&a1 [*a0, *a0, ...]``, ...: ``*a{levels-1}`` is width**levels
    values (8**10, about 10^9) written in a few hundred bytes."""
    nodes = [f"&a0 [{', '.join(['x'] * width)}]"]
    nodes += [f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return nodes


def block_bomb(levels: int = 10) -> str:
    """Anchors under unknown top-level keys (never looked into), the last one used where a
    config is validated, merged and printed."""
    nodes = anchors(levels)
    return "".join(f"a{i}: {node}\n" for i, node in enumerate(nodes))


def flow_bomb(levels: int = 10) -> str:
    """The same anchors as one flow value (what ``--set KEY=VALUE`` reads)."""
    return f"[{', '.join(anchors(levels))}]"


def guarded(call: str, tmp_path: Path) -> str:
    """Run ``call`` (Python, after ``from wtal... import ...`` lines) in a subprocess limited
    to 2 GiB of memory and 60 s; its error message (one line), or a failure."""
    script = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        from wtal.config.load import load_config, workflow_config
        from wtal.config.overrides import parse_assignments
        from wtal.config.sheets import load_sheet
        from wtal.errors import ConfigError
        try:
            {call}
        except ConfigError as exc:
            print(str(exc))
        else:
            print("no error")
        """
    ).format(call=call.replace("\n", "\n    "))
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{call} still ran after 60 s: the bomb was expanded")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.rstrip("\n")


def one_short_line(message: str) -> None:
    assert "\n" not in message
    assert len(message) < SHORT, f"{len(message):,} characters: {message[:200]}..."


def test_an_alias_bomb_in_a_config_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(DATASET + block_bomb() + "training: {seed: *a9}\n")
    assert path.stat().st_size < 600
    message = guarded(f"load_config({str(path)!r})", tmp_path)
    assert message == f"{path}: {BOMB}"


def test_an_alias_bomb_in_a_base_file_is_refused_naming_the_base(tmp_path):
    base = tmp_path / "shared" / "bomb.yaml"
    base.parent.mkdir()
    base.write_text(block_bomb() + "training: {seed: *a9}\n")
    top = tmp_path / "top.yaml"
    top.write_text("base: shared/bomb.yaml\n" + DATASET)
    message = guarded(f"load_config({str(top)!r})", tmp_path)
    assert message == f"{base}: {BOMB}"


def test_an_alias_bomb_in_a_sheet_is_refused_naming_it(tmp_path):
    (tmp_path / "config.yaml").write_text(DATASET)
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(
        "name: s\nconfig: config.yaml\nruns: [{name: a}]\n" + block_bomb() + "seeds: *a9\n"
    )
    message = guarded(f"load_sheet({str(sheet)!r})", tmp_path)
    assert message == f"{sheet}: {BOMB}"


def test_an_alias_bomb_in_a_set_value_is_refused_naming_the_key(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(DATASET)
    value = f"training.seed={flow_bomb()}"
    message = guarded(f"load_config({str(config)!r}, parse_assignments([{value!r}]))", tmp_path)
    assert message == f"--set training.seed=...: {BOMB}"


def test_an_alias_bomb_in_snakemakes_config_values_is_refused(tmp_path):
    # Snakemake reads --config KEY=VALUE as YAML itself (aliases shared, not expanded) and
    # hands the values to workflow_config.
    config = tmp_path / "config.yaml"
    config.write_text(DATASET)
    call = (
        "b = ['x'] * 8\n"
        "for _ in range(9): b = [b] * 8\n"  # 8**10 values, shared
        f"workflow_config([{str(config)!r}], {{'training': {{'seed': b}}}}, {str(tmp_path)!r})"
    )
    message = guarded(call, tmp_path)
    assert message == f"--config training=...: {BOMB}"


def test_alias_bombs_are_refused_before_anything_is_built(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(block_bomb(levels=30))  # 8**30 values: only counting can tell
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {BOMB}"


@pytest.mark.parametrize(
    "text",
    [
        "training: &t {x: *t}\n",
        "training: {seed: &t [1, [2, *t]]}\n",
        "a: &t {<<: *t}\n",  # a merge key that merges its own mapping
    ],
    ids=["mapping", "list", "merge"],
)
def test_a_recursive_alias_is_refused_naming_its_anchor(tmp_path, text):
    path = tmp_path / "loop.yaml"
    path.write_text(DATASET + text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: recursive YAML alias &t"


def test_a_recursive_alias_in_a_sheet_or_a_set_value_is_refused(tmp_path):
    (tmp_path / "config.yaml").write_text(DATASET)
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(
        "name: s\nconfig: config.yaml\nseeds: [0]\nruns: [{name: a, set: &r {x: *r}}]\n"
    )
    with pytest.raises(ConfigError, match=r"^.*sheet\.yaml: recursive YAML alias &r$"):
        load_sheet(sheet)
    with pytest.raises(
        ConfigError, match=r"^--set training\.seed=\.\.\.: recursive YAML alias &r$"
    ):
        parse_assignments(["training.seed=&r [*r]"])


def test_nesting_deeper_than_the_limit_is_refused_in_one_line(tmp_path):
    deep = "{a: " * 600 + "1" + "}" * 600
    path = tmp_path / "deep.yaml"
    path.write_text(DATASET + f"training: {{seed: {deep}}}\n")
    expected = f"YAML nested more than {MAX_YAML_DEPTH} levels deep"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {expected}"
    with pytest.raises(ConfigError) as caught:
        parse_assignments([f"training.seed={deep}"])
    assert str(caught.value) == f"--set training.seed=...: {expected}"
    # Far deeper than Python's recursion limit, too.
    path.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match=r"deep\.yaml: YAML nested more than"):
        load_config(path)


def test_a_long_text_repeated_by_aliases_is_refused(tmp_path):
    # 100 kB once, repeated 30 times: a few aliases, 3 MB of text in every dump of the config.
    path = tmp_path / "long.yaml"
    path.write_text(
        DATASET
        + f"notes: &n '{'x' * 100_000}'\nextraction: {{videos: [{', '.join(['*n'] * 30)}]}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: YAML aliases repeat more than 1,000,000 characters of text (an alias bomb?)"
    )


def test_the_limit_counts_every_value_aliases_expand_to():
    # {a: [x] * 999, b: [*a] * 98}: 1 mapping + 2 keys + 1,000 (a) + 1 + 98,000 (b) values
    text = f"{{a: &a [{', '.join(['x'] * 999)}], b: [{', '.join(['*a'] * 98)}]}}"
    assert len(parse_yaml(text, "t")["b"]) == 98
    assert 99_004 <= MAX_YAML_VALUES < 100_004
    over = text.replace("*a]}", "*a, *a]}")  # one more alias: 100,004 values
    with pytest.raises(ConfigError, match=r"^t: YAML aliases expand to more than"):
        parse_yaml(over, "t")
    many = "[" + ", ".join(["1"] * (MAX_YAML_VALUES + 1)) + "]"  # written out, no alias
    with pytest.raises(ConfigError, match=f"^t: holds more than {MAX_YAML_VALUES:,} values$"):
        parse_yaml(many, "t")


def test_small_anchors_aliases_and_merge_keys_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "dataset: &ds {name: tiny, format: activitynet, annotations: data/gt.json}\n"
        "evaluation: {units: segments, tiou: &t '0.5'}\n"
        "training: &tr {seed: 3, iterations: 7}\n"
        "model: {vlc: {template: &tpl 'a video of [CLS]'}}\n"
    )
    config = load_config(path, parse_assignments(["training.iterations=9"]))
    assert config["dataset"]["annotations"] == str(tmp_path / "data" / "gt.json")
    assert config["training"]["seed"] == 3 and config["training"]["iterations"] == 9
    merged = parse_yaml("base: &b {seed: 3, iterations: 7}\nrun: {<<: *b, iterations: 9}\n", "m")
    assert merged["run"] == {"seed": 3, "iterations": 9}
    assert parse_yaml("a: &x [1, 2]\nb: [*x, *x]\n", "m") == {"a": [1, 2], "b": [[1, 2]] * 2}
    assert parse_yaml("", "m") is None


def test_a_huge_value_is_quoted_as_a_short_excerpt(tmp_path):
    huge = "x" * 2_000_000  # (PyYAML reads about 1 MB a second)
    path = tmp_path / "huge.yaml"
    path.write_text(DATASET + f"training: {{seed: {huge}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    one_short_line(message)
    assert message.startswith(f"{path}: key 'training.seed': 'xxxxxxxx")
    assert message.endswith("xxx... is not of type 'integer'")


def test_a_huge_unknown_key_is_quoted_as_a_short_excerpt(tmp_path):
    huge = "x" * 2_000_000  # (PyYAML reads about 1 MB a second)
    path = tmp_path / "huge.yaml"
    path.write_text(DATASET + f"training:\n  ? {huge}\n  : 2\n")  # (a key this long: ?)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert len(message) < 2 * SHORT  # (the hint lists the section's known keys)
    assert message.startswith(f"{path}: unknown key 'training.xxxxxxx")
    assert "...' (known: iterations," in message


def test_a_huge_list_or_set_value_is_quoted_as_a_short_excerpt(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text(DATASET + f"training: {{seed: [{', '.join(['12345'] * 50_000)}]}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    one_short_line(str(caught.value))
    assert str(caught.value).endswith("... is not of type 'integer'")
    path.write_text(DATASET)
    with pytest.raises(ConfigError) as caught:
        load_config(path, parse_assignments([f"training.seed={'y' * 1_000_000}"]))
    one_short_line(str(caught.value))
    assert str(caught.value).startswith("--set training.seed=...: key 'training.seed': 'yyy")
    with pytest.raises(ValueError) as caught:
        parse_assignments(["x" * 1_000_000])
    one_short_line(str(caught.value))


def test_many_problems_are_summed_up(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(DATASET + "".join(f"key{i}: 1\n" for i in range(5000)))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "unknown key 'key0'" in message and "and 4,990 more problems" in message
    assert len(message) < 10 * SHORT


def test_a_sheet_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "config.yaml").write_text(DATASET)
    sheet = tmp_path / "sheet.yaml"
    sheet.write_bytes("name: s \u2013 copy\nconfig: config.yaml\n".encode("cp1252"))
    with pytest.raises(ConfigError) as caught:
        load_sheet(sheet)
    assert str(caught.value) == (
        f"{sheet}: not UTF-8 text (byte 0x96 at offset 8); save it as UTF-8"
    )


def test_a_base_file_that_is_not_utf8_is_named(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_bytes(("# caf\u00e9\n" + DATASET).encode("latin-1"))
    top = tmp_path / "top.yaml"
    top.write_text("base: base.yaml\n")
    with pytest.raises(ConfigError) as caught:
        load_config(top)
    assert str(caught.value) == f"{base}: not UTF-8 text (byte 0xe9 at offset 5); save it as UTF-8"


def test_a_yaml_syntax_error_is_one_line_with_its_place(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("dataset: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    one_short_line(message)
    assert message.startswith(f"{path}: not valid YAML (")
    assert "line 2, column 1" in message
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(f"name: *{'u' * 1_000_000}\n")
    with pytest.raises(ConfigError) as caught:
        load_sheet(sheet)
    one_short_line(str(caught.value))
    assert "found undefined alias" in str(caught.value)


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "config").glob("*.yaml")) + sorted((ROOT / "experiments").glob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_shipped_files_are_far_below_the_limits(path):
    # What the limits are measured against (see MAX_YAML_VALUES): a shipped file expands to
    # 316 values at most (experiments/table8.yaml), nested 7 levels.
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)

    def size(node: yaml.Node, depth: int = 1) -> tuple[int, int]:
        if isinstance(node, yaml.ScalarNode):
            return 1, depth
        pairs = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else [x for p in node.value for x in p]
        )
        parts = [size(sub, depth + 1) for sub in pairs]
        return 1 + sum(n for n, _ in parts), max([depth, *(d for _, d in parts)])

    values, depth = size(node)
    assert values < MAX_YAML_VALUES / 50 and depth < MAX_YAML_DEPTH / 5


def test_the_command_line_prints_the_refusal_as_one_line(tmp_path, capsys):
    from wtal.cli import main

    path = tmp_path / "bomb.yaml"
    path.write_text(block_bomb(levels=30))
    assert main(["train", "--config", str(path), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err == f"wtal train: error: {path}: {BOMB}\n"


def test_the_main_command_reads_configfiles_before_snakemake_does(tmp_path):
    """Snakemake reads --configfile with a YAML reader that expands aliases (a mapping bomb
    took its memory): `bootstrap.py run` refuses the file first, in one line."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "bootstrap.py")
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    assert bootstrap.configfiles(["-n", "--configfile", "a.yaml", "b.yaml", "--cores", "1"]) == [
        "a.yaml", "b.yaml"
    ]  # fmt: skip
    assert bootstrap.configfiles(["--configfiles=c.yaml", "all"]) == ["c.yaml"]
    mappings = "".join(
        f"m{i}: &m{i} {{{', '.join(f'k{k}: *m{i - 1}' for k in range(8))}}}\n" for i in range(1, 10)
    )
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("m0: &m0 {k: x}\n" + mappings)
    done = subprocess.run(
        [sys.executable, "-c", bootstrap.CHECK_CONFIGFILES, str(bomb)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr == f"error: {bomb}: {BOMB}\n"
