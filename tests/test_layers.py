"""The library's layer map, held: the import graph of `src/ganforge` (every `import`, at module
level or inside a function) has no cycle between its packages and top-level modules nor
between modules, every import points to the same layer or one below it, `core` imports nothing else of ganforge,
nothing imports the stage layer, and only `tracking.py` imports mlflow."""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project import ROOT

LIBRARY = ROOT / "src" / "ganforge"

LAYERS: list[tuple[str, set[str]]] = [  # top first: a unit may import its own layer or lower ones
    ("serving", {"serving"}),
    ("a run end to end", {"runner"}),
    ("trained runs and their evaluation", {"trained", "evaluation"}),
    ("system plugins", {"systems"}),
    ("variants: configuration", {"variants"}),
    ("the training engine", {"train"}),
    ("building blocks", {"nets", "losses", "regularizers", "augment", "sampling", "metrics", "data"}),
    (
        "records and formats",
        {"layout", "tracking", "mirror", "scores", "stats", "comparison", "published", "report", "protocol"}
        | {"diagnostics", "provenance", "viz"},
    ),
    ("core", {"core"}),
]


def unit_of(module: str) -> str:
    """The package or top-level module of `ganforge.<unit>...` (the root package itself: `ganforge`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LIBRARY.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    """Every module `path` imports (absolute names; ganforge uses no relative imports)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            yield node.module or ""
            yield from (f"{node.module}.{alias.name}" for alias in node.names)  # a submodule, maybe


def import_graph() -> dict[str, set[str]]:
    """module -> the modules it imports (all of them, the project's and others')."""
    return {module_name(p): set(imports(p)) for p in sorted(LIBRARY.rglob("*.py"))}


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = units.setdefault(unit_of(module), set())
        edges |= {unit_of(t) for t in targets if t.startswith("ganforge.")} - {unit_of(module)}
    return units


def layer_of(unit: str) -> int:
    for index, (_, members) in enumerate(LAYERS):
        if unit in members:
            return index
    raise AssertionError(f"ganforge.{unit} is in no layer of tests/test_layers.py: place it")


def test_every_unit_of_the_library_has_a_layer():
    for unit in unit_graph(import_graph()):
        if unit != "ganforge":
            layer_of(unit)


def test_no_cycle_between_packages_and_imports_point_down():
    units = unit_graph(import_graph())
    graphlib.TopologicalSorter(units).static_order()  # raises CycleError naming the cycle
    upward = [
        f"ganforge.{a} ({LAYERS[layer_of(a)][0]}) imports ganforge.{b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in units.items()
        if a != "ganforge"
        for b in targets
        if layer_of(b) < layer_of(a)
    ]
    assert not upward, upward


def test_no_cycle_between_modules():
    """Not even inside a package: a base class lives apart from the registry of its kinds."""
    graph = import_graph()
    modules = {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}
    graphlib.TopologicalSorter(modules).static_order()


def test_core_imports_nothing_else_of_ganforge_and_nothing_imports_the_stages():
    graph = import_graph()
    for module, targets in graph.items():
        assert not any(t == "pipeline" or t.startswith("pipeline.") for t in targets), module
        if unit_of(module) == "core":
            outside = {t for t in targets if t.startswith("ganforge.") and unit_of(t) != "core"}
            assert not outside, (module, outside)


def test_only_the_tracking_module_imports_mlflow():
    importers = {
        module
        for module, targets in import_graph().items()
        if any(t == "mlflow" or t.startswith("mlflow.") for t in targets)
    }
    assert importers == {"ganforge.tracking"}


@pytest.mark.parametrize(
    ("source", "broken"),
    [
        ("from ganforge.serving.api import create_app\n", "imports ganforge.serving"),
        ("import mlflow\n", "mlflow"),
    ],
)
def test_the_checks_see_a_breach(source, broken, monkeypatch, tmp_path):
    """A core module importing serving, or a data module importing mlflow, is caught."""
    library = tmp_path / "ganforge"
    for path in LIBRARY.rglob("*.py"):
        target = library / path.relative_to(LIBRARY)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (library / "core" / "breach.py").write_text(source, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.LIBRARY", library)
    failures = 0
    for check in (
        test_no_cycle_between_packages_and_imports_point_down,
        test_no_cycle_between_modules,
        test_core_imports_nothing_else_of_ganforge_and_nothing_imports_the_stages,
        test_only_the_tracking_module_imports_mlflow,
    ):
        try:
            check()
        except (AssertionError, graphlib.CycleError) as exc:
            failures += 1
            assert broken in str(exc) or isinstance(exc, graphlib.CycleError) or "core" in str(exc)
    assert failures >= 1


def test_the_tests_mirror_the_tree():
    """A folder of tests is named after the package it tests (or `pipeline`, `benchmarks`, or
    `e2e` for the runs through DVC); tests of a top-level module sit at the top of tests/."""
    packages = {p.name for p in LIBRARY.iterdir() if (p / "__init__.py").is_file()}
    folders = {
        p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name not in ("expected", "__pycache__")
    }
    assert folders <= packages | {"pipeline", "benchmarks", "e2e"}, sorted(folders - packages)
