"""End to end: the smoke profile's prepare stages through `dvc exp run`, in a copy of the
project, against a small mirror in the real raw formats that the test builds itself."""

import json

import pytest
import torch

from tests.builders import build_mirror
from tests.project import copy_project, git_commit_all, project_env, run

SMOKE = ["-S", "profile=smoke", "-S", "data.verify_checksums=false"]


@pytest.mark.e2e
def test_smoke_prepare_stages_through_dvc(tmp_path):
    project = copy_project(tmp_path / "project")
    env = project_env(project, GANFORGE_DATA_MIRROR=str(build_mirror(tmp_path / "mirror")))
    git_commit_all(project, env)

    run(["dvc", "exp", "run", *SMOKE, "prepare", "derive"], project, env)

    prepared = project / "data" / "prepared"
    names = {"mnist", "emoji64", "ring", "edges2emoji64", "mnist2color"}
    assert {p.stem for p in prepared.glob("*.pt")} == names
    meta = {n: json.loads((prepared / f"{n}.json").read_text()) for n in names}
    assert meta["mnist"]["split"] == "test" and meta["mnist"]["counts"]["kept"] == 400
    assert meta["emoji64"]["stand_in"] is True and meta["emoji64"]["stand_in_for"] == "anime"
    assert meta["emoji64"]["tensors"]["images"]["shape"] == [96, 3, 32, 32]
    assert meta["edges2emoji64"]["stand_in"] is True
    assert meta["ring"]["examples"] == 4000 and len(meta["ring"]["truth"]["means"]) == 8
    assert meta["mnist2color"]["counts"] == {"a": 200, "b": 200, "skipped": 0}
    payload = torch.load(prepared / "emoji64.pt", weights_only=True)
    assert payload["tensors"]["images"].dtype == torch.uint8

    # Changing one dataset's params re-runs exactly that dataset and what is derived from it.
    result = run(
        ["dvc", "exp", "run", *SMOKE, "-S", "datasets.mnist.limit=100", "prepare", "derive"], project, env
    )
    ran = {line.split("'")[1] for line in result.stdout.splitlines() if line.startswith("Running stage")}
    assert ran == {"prepare@mnist", "derive@mnist2color"}
    assert json.loads((prepared / "mnist2color.json").read_text())["counts"]["a"] == 50
    assert run(["dvc", "status", "prepare", "derive"], project, env).stdout.strip().endswith("up to date.")
