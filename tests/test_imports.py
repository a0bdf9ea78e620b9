"""The architecture as import rules, read from the source (no imports run): the packages of
wtal, and its modules, import each other without cycles, data flows one way (the
configuration knows nothing downstream of it, the evaluator no model, inference and reports
no training, models no datasets' readers), and extraction never imports wtal's models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_of(module: str) -> str | None:
    """``wtal.x.y`` -> ``x`` (a wtal subpackage or top-level module); ``extract...`` ->
    ``extract``; others None."""
    parts = module.split(".")
    if parts[0] == "extract":
        return "extract"
    if parts[0] == "wtal" and len(parts) > 1:
        return parts[1]
    return None


def module_name(path: Path) -> str:
    """``wtal/x/y.py`` -> ``wtal.x.y``; a package's ``__init__.py`` -> the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_wtal_modules(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports: ``from a.b import c`` names ``a.b.c``
    when that is a module, else ``a.b`` (a package's own ``__init__`` is not an edge)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            submodules = names & known
            if submodules:
                found |= submodules
            elif node.module in known:
                found.add(node.module)
    return found


def module_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in sorted((ROOT / "wtal").rglob("*.py"))}
    known = set(paths)
    return {name: imported_wtal_modules(path, known) - {name} for name, path in paths.items()}


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "wtal").rglob("*.py")):
        relative = path.relative_to(ROOT / "wtal").with_suffix("")
        own = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        targets = {package_of(m) for m in imported_modules(path)} - {None, own}
        graph.setdefault(own, set()).update(t for t in targets if t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_wtal_packages_import_each_other_without_cycles():
    graph = {k: v for k, v in package_graph().items() if k not in ("cli", "commands")}
    assert cycles(graph) == []


def test_the_wtal_modules_import_each_other_without_cycles():
    """Within a package too (type-only imports count: each is a module that needs another's
    names, and a cycle of them is a layering that went wrong)."""
    assert cycles(module_graph()) == []


def test_cycle_detection_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("config", {"models", "training", "inference", "evaluation", "report", "commands"}),
        ("evaluation", {"models", "training", "inference", "report", "commands"}),
        ("inference", {"training", "report", "commands"}),
        ("report", {"training", "commands"}),
        ("models", {"training", "inference", "evaluation", "report", "commands"}),
        ("data", {"models", "training", "inference", "evaluation", "report", "commands"}),
        ("utils", {"data", "models", "training", "inference", "evaluation", "report"}),
    ],
)
def test_data_flows_one_way(package, forbidden):
    assert package_graph()[package] & forbidden == set()


def test_wtal_infer_reads_no_training_code():
    """``wtal infer`` runs a checkpoint: it needs the config and the model, not training."""
    packages = {package_of(m) for m in imported_modules(ROOT / "wtal/commands/infer.py")}
    assert "training" not in packages


def test_the_generators_are_upstream_of_extraction():
    """wtal.generate makes datasets from the dataset model (wtal.data) and wtal's helpers
    alone: nothing of extraction or of what is downstream of it."""
    assert package_graph()["generate"] <= {"data", "utils", "errors"}
    extraction = {m for path in (ROOT / "extract").rglob("*.py") for m in imported_modules(path)}
    assert "generate" not in {package_of(m) for m in extraction}


def test_extraction_does_not_import_the_wtal_model():
    """extract/ shares wtal's errors, file helpers and dataset writers, nothing downstream."""
    downstream = {"models", "training", "inference", "evaluation", "report", "text"}
    for path in sorted((ROOT / "extract").rglob("*.py")):
        packages = {package_of(m) for m in imported_modules(path)}
        assert packages & downstream == set(), path
