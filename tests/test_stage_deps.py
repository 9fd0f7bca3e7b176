"""Every DVC stage's `deps:` cover the code its command runs: the import closure (inside the
project) of the stage module the CLI runs for it. Editing any file a stage runs re-runs it;
editing a file it does not run leaves it alone."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from pipeline.cli import STAGES
from tests.closure import closure, covered
from tests.project import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def stage_command(stage: dict) -> str:
    body = stage.get("do", stage)
    return body["cmd"].split()[3]  # python -m pipeline <command> ...


def code_deps(stage: dict) -> list[str]:
    body = stage.get("do", stage)
    return [d for d in body.get("deps", []) if d.startswith(("src/", "pipeline/"))]


@pytest.mark.parametrize("name", sorted(DVC))
def test_stage_deps_cover_the_code_it_runs(name):
    stage = DVC[name]
    needed = closure(ROOT, STAGES[stage_command(stage)])
    deps = code_deps(stage)
    missing = sorted(str(p) for p in needed if not covered(p, deps))
    assert not missing, f"stage {name} runs code its deps do not cover: {missing}"


@pytest.mark.parametrize("name", sorted(DVC))
def test_stage_deps_name_no_code_it_does_not_run(name):
    """Precise deps: a listed file or folder holds at least one file the stage runs."""
    stage = DVC[name]
    needed = closure(ROOT, STAGES[stage_command(stage)])
    unused = [d for d in code_deps(stage) if not any(covered(p, [d]) for p in needed)]
    assert not unused, f"stage {name} depends on code it does not run: {unused}"


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
    from ganforge.systems.options import SYSTEM_OPTIONS

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
