"""End to end, on a smoke project cut to one toy variant (`gan_ring`): what DVC's experiment
machinery and a project's sharing do with a trained project (queued experiments side by side
into one MLflow store, a folder remote and a fresh clone, a train stage on two processes).
None of it depends on which variants ran, so it runs beside `test_e2e.py`'s full smoke project
rather than after it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.builders import build_mirror
from tests.project import copy_project, git_commit_all, mlflow_runs, project_env, run

pytestmark = pytest.mark.e2e

SMOKE = ["-S", "profile=smoke", "-S", "data.verify_checksums=false"]
VARIANTS = {"gan_ring"}


def cut_smoke_to_the_ring(project: Path) -> None:
    """The project's own smoke profile, its `run:` block cut to the ring and gan_ring."""
    profile = project / "conf" / "profile" / "smoke.yaml"
    text = profile.read_text()
    head, _, _ = text.partition("\nrun:\n")
    run_block = {
        "datasets": ["ring"],
        "derived": {},
        "variants": {"gan_ring": "${variants.gan_ring.dataset}"},
        "seeds": [0],
        "evaluators": ["ring"],
        "cross_evaluators": {},
    }
    profile.write_text(head + "\n" + yaml.safe_dump({"run": run_block}, sort_keys=False))


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The cut smoke project run once through `dvc exp run`, its results committed."""
    base = tmp_path_factory.mktemp("e2e-ring")
    project = copy_project(base / "project")
    cut_smoke_to_the_ring(project)
    env = project_env(project, GANFORGE_DATA_MIRROR=str(build_mirror(base / "mirror")))
    git_commit_all(project, env)
    result = run(["dvc", "exp", "run", *SMOKE], project, env)
    assert "Running stage 'train@gan_ring'" in result.stdout
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "ring results"], project, env)
    return project, env


def test_queued_experiments_run_two_at_a_time_into_one_mlflow_store(ring):
    """`dvc exp run --queue` twice and `dvc queue start -j 2`: both succeed side by side,
    write their runs into the parent project's SQLite store without lock errors, and every
    run and registered version is tagged with its experiment's name."""
    project, env = ring
    names = {"ring-lr-5e-4": "0.0005", "ring-lr-2e-3": "0.002"}
    for name, lr in names.items():
        run(["dvc", "exp", "run", "--queue", *SMOKE, "-S", f"variants.gan_ring.train.lr={lr}", "-n", name],
            project, env)  # fmt: skip
    run(["dvc", "queue", "start", "-j", "2"], project, env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], project, env).stdout
        done = [line for line in status.splitlines() if any(n in line for n in names)]
        if len(done) == 2 and all(("Success" in line or "Failed" in line) for line in done):
            break
        time.sleep(10)  # each `dvc queue status` costs the queued runs seconds of CPU
    assert all("Success" in line for line in done), status
    logs = "".join(run(["dvc", "queue", "logs", n], project, env).stdout for n in names)
    assert "locked" not in logs.lower() and logs.count("MLflow in step") == 2
    client, _, runs = mlflow_runs(project)
    ring = {r.data.tags.get("dvc_experiment") for r in runs if r.data.tags.get("variant") == "gan_ring"}
    assert set(names) <= ring
    queued = [r for r in runs if r.data.tags.get("dvc_experiment") in names]
    assert len(queued) == 2 * (len(VARIANTS) + 1)  # every run of each experiment, and its comparison
    versions = client.search_model_versions("name='gan_ring'")
    assert set(names) <= {v.tags.get("dvc_experiment") for v in versions}


def test_a_folder_remote_gives_a_fresh_clone_everything_but_the_mlflow_mirror(ring, tmp_path):
    """`dvc push` to a folder remote; a fresh clone that pulls has no stage to reproduce but
    `track` (which rebuilds its MLflow store from what it pulled)."""
    project, env = ring
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "shared", str(remote)], project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "--allow-empty", "-m", "results and remote"], project, env)
    run(["dvc", "push"], project, env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path, env)
    run(["dvc", "pull"], clone, project_env(clone))
    status = json.loads(run(["dvc", "status", "--json"], clone, project_env(clone)).stdout)
    assert status == {"track": ["always changed"]}, status
    assert (clone / "data" / "models" / "gan_ring" / "0" / "generator.pt").is_file()


def layout(project: Path, variant: str) -> set[str]:
    """The files a train stage writes (its DVC outputs and its curves)."""
    folders = (project / "data" / "models" / variant, project / "reports" / "curves" / variant)
    return {str(p.relative_to(project)) for folder in folders for p in folder.rglob("*") if p.is_file()}


def test_two_processes_train_through_dvc_into_the_same_layout(ring):
    """`distributed.nproc_per_node: 2` is an execution option: no stage is invalidated by it;
    a forced `dvc repro` of a train stage launches two gloo workers through
    torch.distributed.run and writes exactly the files a single process writes."""
    project, env = ring
    variant, lock = "gan_ring", (project / "dvc.lock").read_text()
    params = project / "params.yaml"
    original = params.read_text()
    single = layout(project, variant)
    data = yaml.safe_load(original)
    data["distributed"]["nproc_per_node"] = 2
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        status = json.loads(run(["dvc", "status", "--json"], project, env).stdout)
        assert set(status) == {"track"}, status
        summary_file = project / "data" / "models" / variant / "0" / "train.json"
        # Its single-process checkpoint is at its last step: taken up on two processes, the
        # run says it is no longer bitwise comparable.
        out = run(["dvc", "repro", "-f", "-s", f"train@{variant}"], project, env).stdout
        assert "× 2 processes" in out and "resumed at step" in out
        summary = json.loads(summary_file.read_text())
        assert summary["processes_by_session"] == [1, 2] and summary["bitwise_comparable"] is False
        run(["rm", "-rf", str(project / "data" / "checkpoints" / variant)], project, env)
        out = run(["dvc", "repro", "-f", "-s", f"train@{variant}"], project, env).stdout
        assert f"trained {variant} seed 0" in out and "× 2 processes" in out and "resumed" not in out
        assert layout(project, variant) == single
        summary = json.loads(summary_file.read_text())
        assert summary["processes"] == 2 and "bitwise_comparable" not in summary
    finally:
        params.write_text(original)
        (project / "dvc.lock").write_text(lock)
        run(["dvc", "checkout", "-f", f"train@{variant}"], project, env)
