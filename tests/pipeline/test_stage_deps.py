"""Every DVC stage's code `deps:` are generated (`python -m pipeline deps --write`) from the
import closure (inside the project) of the stage module the CLI runs for it, and checked here;
and the committed lock and reports hold exactly the stages and variants of the params."""

from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from pipeline.cli import STAGES
from pipeline.deps import closure, code_deps, drift, write_deps
from tests.project import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_every_stage_deps_are_its_import_closure():
    """`python -m pipeline deps --check`: dvc.yaml's code deps are exactly what each stage's
    command imports (editing a file a stage runs re-runs it, editing another leaves it alone)."""
    assert drift(ROOT, STAGES) == []
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "deps", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_sees_drift_and_write_repairs_it_keeping_data_deps_and_comments(tmp_path):
    for folder in ("src", "pipeline"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    broken = text.replace("        - src/ganforge/runner.py\n", "", 1).replace(
        "      - pipeline/compare.py\n", "      - pipeline/compare.py\n      - src/ganforge/viz.py\n", 1
    )
    assert broken != text
    (tmp_path / "dvc.yaml").write_text(broken, encoding="utf-8")
    found = drift(tmp_path, STAGES)
    assert any(line.startswith("stage train: missing src/ganforge/runner.py") for line in found), found
    assert any(line.startswith("stage compare:") and "not run src/ganforge/viz.py" in line for line in found)
    write_deps(tmp_path, STAGES)
    assert (tmp_path / "dvc.yaml").read_text(encoding="utf-8") == text
    assert drift(tmp_path, STAGES) == []


def test_the_evaluator_stage_runs_no_net_loss_or_system():
    """Editing a net, a loss or a system re-runs training and scoring, not the evaluators."""
    evaluator = code_deps(DVC["evaluator"])
    assert not any(
        d.startswith(("src/ganforge/nets", "src/ganforge/systems", "src/ganforge/losses")) for d in evaluator
    )
    assert "src/ganforge/nets" in code_deps(DVC["train"])


def test_the_closure_follows_imports_inside_functions_and_package_inits(tmp_path):
    (tmp_path / "src/ganforge/sub").mkdir(parents=True)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline/__init__.py").write_text("")
    (tmp_path / "pipeline/stage.py").write_text("def run():\n    from ganforge.sub import tool\n")
    (tmp_path / "src/ganforge/__init__.py").write_text("")
    (tmp_path / "src/ganforge/sub/__init__.py").write_text("import ganforge.helper\n")
    (tmp_path / "src/ganforge/sub/tool.py").write_text("from . import other\n")
    (tmp_path / "src/ganforge/sub/other.py").write_text("import torch\n")
    (tmp_path / "src/ganforge/helper.py").write_text("")
    (tmp_path / "src/ganforge/unused.py").write_text("")
    found = {str(p) for p in closure(tmp_path, "pipeline.stage")}
    assert found == {
        "pipeline/__init__.py",
        "pipeline/stage.py",
        "src/ganforge/__init__.py",
        "src/ganforge/sub/__init__.py",
        "src/ganforge/sub/tool.py",
        "src/ganforge/sub/other.py",
        "src/ganforge/helper.py",
    }


def test_no_stage_names_a_system_or_a_data_kind():
    """What a model is (its system, its data kind) is the library's business: the stage
    layer holds no string literal naming one."""
    import ast

    from ganforge.data.prepared import _REQUIRED
    from ganforge.systems.registry import SYSTEM_OPTIONS

    names = set(SYSTEM_OPTIONS) | set(_REQUIRED) | {"translations"}
    found = []
    for path in sorted((ROOT / "pipeline").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert not found, found


def expanded_stage_names(stages: dict, params: dict) -> set[str]:
    """The stage names `dvc.yaml` defines for `params.yaml`: each `foreach: ${run.<x>}` stage
    once per item (list) or key (mapping) of `run.<x>`, as `<stage>@<item>`."""
    names = set()
    for name, stage in stages.items():
        if "foreach" not in stage:
            names.add(name)
            continue
        key = stage["foreach"].removeprefix("${run.").removesuffix("}")
        names |= {f"{name}@{item}" for item in params["run"].get(key) or []}
    return names


def committed(path: str) -> str:
    """A file as committed at HEAD (what a fresh clone gets, whatever the work tree ran since)."""
    return subprocess.run(
        ["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def committed_folders(path: str) -> set[str]:
    out = subprocess.run(
        ["git", "ls-tree", "-d", "--name-only", f"HEAD:{path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_the_committed_lock_holds_exactly_the_stages_of_the_committed_params():
    """No stale entries (stages another profile or an old variant name left behind) and none
    missing: the committed dvc.lock records the run that `make run` does."""
    lock = set(yaml.safe_load(committed("dvc.lock"))["stages"])
    expected = expanded_stage_names(DVC, yaml.safe_load(committed("params.yaml")))
    assert not lock - expected, f"dvc.lock has stages dvc.yaml does not define: {sorted(lock - expected)}"
    assert not expected - lock, f"dvc.lock lacks stages of dvc.yaml: {sorted(expected - lock)}"


def test_the_committed_reports_are_of_the_committed_params_variants():
    """No left-over metrics or curves of a variant the profile no longer runs (they would be
    read as results by anything that lists the folders)."""
    variants = set(yaml.safe_load(committed("params.yaml"))["run"]["variants"])
    for folder in ("reports/metrics", "reports/curves"):
        found = committed_folders(folder)
        assert found == variants, f"{folder}: {sorted(found ^ variants)}"
