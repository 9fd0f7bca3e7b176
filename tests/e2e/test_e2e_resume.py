"""End to end: a training run killed mid-run (SIGKILL to the whole `dvc repro`) resumes through
`dvc repro` to the bits of a run never interrupted, for each kind of training state. Its own
project (the smoke profile's datasets, longer runs), so it runs beside `test_e2e.py`."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.builders import build_mirror
from tests.project import copy_project, git_commit_all, project_env, run

pytestmark = pytest.mark.e2e


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


RESUMED = {
    "gan_ring": 500,
    "pix2pix_edges2emoji64": 120,
    "cyclegan_mnist2color": 60,
    "progan_emoji64": 100,
    "ada_dcgan_emoji64": 60,
}
# ProGAN's longer run fades 8×8 in over steps 4-44 and 16×16 over 48-88: a kill after the
# first checkpoints (every 10 steps) lands mid-fade.
GROWTH = {"progan_emoji64": ["variants.progan_emoji64.system.growth_fade=40"]}
# The latent runs are scored during training (the smoke profile's eval_every, coarser here for
# the long toy run), so their selection (points, best generators) is resumed as well.
SCORED = {"gan_ring": ["+variants.gan_ring.train.eval_every=100"]}
# Not in the smoke profile: one run with both kinds of interval state, on narrow nets: ADA (its
# augmentation probability p, updated every 4 steps) and lazy R1 (a separate D update every 4
# steps, offset from ADA's by the kill landing anywhere).
ADDED = {
    "ada_dcgan_emoji64": [
        "+run.variants.ada_dcgan_emoji64=emoji64",
        "variants.ada_dcgan_emoji64.model.generator.width=8",
        "variants.ada_dcgan_emoji64.model.discriminator.width=8",
        "+variants.ada_dcgan_emoji64.augment.ada_kimg=0.5",
        "+variants.ada_dcgan_emoji64.train.r1_gamma=1.0",
        "+variants.ada_dcgan_emoji64.train.reg_every=4",
    ]
}


@pytest.fixture(scope="module")
def longer_runs(tmp_path_factory):
    """A project on the smoke profile, its datasets prepared, with longer runs of one latent
    system, ProGAN and both translation systems, checkpointed often, so a kill lands mid-run.
    It shares nothing with the other end-to-end module, so the two run side by side."""
    base = tmp_path_factory.mktemp("e2e-resume")
    project = copy_project(base / "project")
    env = project_env(project, GANFORGE_DATA_MIRROR=str(build_mirror(base / "mirror")))
    git_commit_all(project, env)
    overrides = ["profile=smoke", "data.verify_checksums=false"]
    for variant, steps in RESUMED.items():
        overrides += [
            f"+variants.{variant}.train.steps={steps}",
            f"+variants.{variant}.train.checkpoint_every=10",
            *GROWTH.get(variant, []),
            *SCORED.get(variant, []),
            *ADDED.get(variant, []),
        ]
    run(["python", "-m", "pipeline", "params", *overrides], project, env)
    run(["dvc", "repro", "configure"], project, env)
    for dataset in ("ring", "emoji64", "edges2emoji64", "mnist2color"):  # the train stages' deps
        run(["dvc", "repro", f"evaluator@{dataset}"], project, env)
    return project, env, overrides


@pytest.mark.parametrize(("variant", "processes"), [*((v, 1) for v in sorted(RESUMED)), ("gan_ring", 2)])
def test_training_killed_mid_run_resumes_through_dvc_repro(longer_runs, variant, processes):
    """Killed at a random moment (SIGKILL to the whole `dvc repro`), `dvc repro` resumes
    from the working checkpoint and ends with bitwise the generators of a run never
    interrupted: a GAN, pix2pix (dropout noise), CycleGAN (pools, two samplers), ProGAN
    mid-fade (growth state, moments reset at the next resolution), ADA with lazy R1 (its
    augmentation probability, and a phase every 4 steps), and the GAN on two
    processes (whose workers die with their launcher). Every run is scored during training
    (the translation runs on the pairs they keep aside): their best generators (best.pt)
    resume to the same bits too."""
    project, env, overrides = longer_runs
    if processes > 1:
        run(["python", "-m", "pipeline", "params", *overrides, f"distributed.nproc_per_node={processes}"],
            project, env)  # fmt: skip
    try:
        # The process count is no dependency: dvc.lock may already hold this stage's
        # single-process result from the case above, so force DVC to run the stage again.
        _kill_and_resume(project, env, variant, ["-f"] if processes > 1 else [])
    finally:
        run(["python", "-m", "pipeline", "params", *overrides], project, env)


def _kill_and_resume(project: Path, env: dict[str, str], variant: str, resume: list[str]) -> None:
    checkpoints = project / "data" / "checkpoints" / variant
    generator = project / "data" / "models" / variant / "0" / "generator.pt"
    best = generator.with_name("best.pt")  # every run is scored during training

    run(["rm", "-rf", str(checkpoints)], project, env)
    proc = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", f"train@{variant}"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (checkpoints / "0.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not generator.exists()
    deadline = time.monotonic() + 10  # no worker outlives its launcher
    while subprocess.run(["pgrep", "-f", f"pipeline train {variant}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "a training worker survived the kill"
        time.sleep(0.1)

    out = run(["dvc", "repro", *resume, "-s", f"train@{variant}"], project, env)  # what a user types next
    assert "resuming at step" in out.stdout + out.stderr
    if variant in GROWTH:  # resumed mid-fade
        step = int(re.search(r"resuming at step (\d+)/", out.stdout + out.stderr).group(1))
        assert 4 < step < 44 or 48 < step < 88, step
    resumed = _sha(generator), _sha(best)

    run(["rm", "-rf", str(checkpoints)], project, env)  # the same run, never interrupted
    run(["dvc", "repro", "-f", "--no-run-cache", "-s", f"train@{variant}"], project, env)
    assert (_sha(generator), _sha(best)) == resumed
