"""End to end: the smoke profile through DVC (`dvc exp run`, as users run it) in a copy of the
project, against a small mirror in the real raw formats that the tests build themselves.
One pipeline run is shared by the tests of this module."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.builders import build_mirror
from tests.project import copy_project, git_commit_all, project_env, run

pytestmark = pytest.mark.e2e

SMOKE = ["-S", "profile=smoke", "-S", "data.verify_checksums=false"]
DATASETS = {"mnist", "emoji64", "ring", "edges2emoji64", "mnist2color"}
VARIANTS = {"gan_mnist", "cgan_mnist", "cdcgan_mnist", "dcgan_emoji64", "gan_ring", "ssgan_mnist"}


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, dict[str, str], str]:
    base = tmp_path_factory.mktemp("e2e")
    project = copy_project(base / "project")
    env = project_env(project, GANFORGE_DATA_MIRROR=str(build_mirror(base / "mirror")))
    git_commit_all(project, env)
    result = run(["dvc", "exp", "run", *SMOKE], project, env)
    return project, env, result.stdout


def test_every_stage_of_the_smoke_profile_ran(smoke):
    project, env, out = smoke
    stages = ran_stages(out)
    assert {f"prepare@{d}" for d in ("mnist", "emoji64", "ring")} <= stages
    assert {f"train@{v}-0" for v in VARIANTS} | {f"sample@{v}" for v in VARIANTS} <= stages
    assert {f"evaluate@{v}" for v in VARIANTS} | {
        "evaluator@mnist",
        "evaluator@ring",
        "compare",
        "report",
    } <= stages
    status = run(["dvc", "status"], project, env).stdout
    assert "up to date" in status, status


def test_prepared_datasets(smoke):
    project, _, _ = smoke
    prepared = project / "data" / "prepared"
    assert {p.stem for p in prepared.glob("*.pt")} == DATASETS
    meta = {n: json.loads((prepared / f"{n}.json").read_text()) for n in DATASETS}
    assert meta["mnist"]["split"] == "test" and meta["mnist"]["counts"]["kept"] == 400
    assert meta["emoji64"]["stand_in"] is True and meta["emoji64"]["stand_in_for"] == "anime"
    assert meta["emoji64"]["tensors"]["images"]["shape"] == [96, 3, 32, 32]
    assert meta["edges2emoji64"]["stand_in"] is True
    assert meta["ring"]["examples"] == 4000 and len(meta["ring"]["truth"]["means"]) == 8
    assert meta["mnist2color"]["counts"] == {"a": 200, "b": 200, "skipped": 0}


def test_models_samples_curves_and_figures(smoke):
    project, _, _ = smoke
    for variant in VARIANTS:
        model_dir = project / "data" / "models" / variant / "0"
        assert {p.name for p in model_dir.iterdir()} == {"generator.pt", "checkpoint.pt", "train.json"}
        state = torch.load(model_dir / "generator.pt", weights_only=True)
        assert state["ema"] is not None and state["info"]["steps"] == 40
        samples = torch.load(project / "data" / "samples" / variant / "0.pt", weights_only=True)
        assert set(samples["samples"]) == {"raw", "ema"}
        first = samples["samples"]["ema"]
        assert len(first) == 512 and (first.dtype == torch.uint8 or variant == "gan_ring")
        curves = (project / "reports" / "curves" / variant / "0.csv").read_text().splitlines()
        assert curves[0].startswith("step,d_loss,g_loss,d_real,d_fake") and len(curves) == 5
        figures = {p.name for p in (project / "reports" / "samples" / variant / "0").iterdir()}
        assert figures == (
            {"points.png", "points_raw.png"}
            if variant == "gan_ring"
            else {"grid.png", "grid_raw.png", "interpolation.png"}
        )
    labels = torch.load(project / "data" / "samples" / "cgan_mnist" / "0.pt", weights_only=True)["labels"]
    assert torch.bincount(labels).tolist() == [52, 52] + [51] * 8  # balanced requested classes


def test_metrics_for_every_run_say_how_they_were_computed(smoke):
    project, env, _ = smoke
    for variant in VARIANTS:
        metrics = json.loads((project / "reports" / "metrics" / variant / "0.json").read_text())
        assert metrics["seed"] == 0 and metrics["generated_samples"] == 512 and metrics["profile"] == "smoke"
        assert set(metrics["generators"]) == {"raw", "ema"}
        ema = metrics["generators"]["ema"]
        if variant == "gan_ring":
            assert ema["modes"]["modes_total"] == 8 and "fd" in ema["points"]
            continue
        assert ema["domain"]["fd"] >= 0 and 0 <= ema["domain"]["precision"] <= 1 and ema["domain"]["is"] >= 1
        assert ema["inception"]["available"] is False and "Inception" in ema["inception"]["reason"]
        assert metrics["extractors"]["domain"]["name"].startswith("domain:")
        assert metrics["stand_in"] is (variant == "dcgan_emoji64")
    cgan = json.loads((project / "reports" / "metrics" / "cgan_mnist" / "0.json").read_text())
    assert 0 <= cgan["generators"]["raw"]["classes"]["conditional_accuracy"] <= 1
    evaluator = json.loads((project / "reports" / "evaluators" / "mnist.json").read_text())
    assert 0 <= evaluator["extractors"]["domain"]["heldout_accuracy"] <= 1
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project, env).stdout)
    files = json.dumps(shown)
    assert all(f"reports/metrics/{v}/0.json" in files for v in VARIANTS)


EXPECTED = Path(__file__).parent / "expected" / "smoke-metrics.json"
KEY_SCORES = [
    "domain.fd",
    "domain.is",
    "domain.precision",
    "domain.recall",
    "classes.classes_hit",
    "modes.modes_covered",
    "modes.high_quality_fraction",
    "points.fd",
]


def key_metrics(project: Path) -> dict[str, float]:
    """The scores CI regenerates and checks: a few per run, and the classifiers' accuracy."""
    from pipeline.compare import lookup

    out = {}
    for variant in sorted(VARIANTS):
        metrics = json.loads((project / "reports" / "metrics" / variant / "0.json").read_text())
        for which, scores in metrics["generators"].items():
            for key in KEY_SCORES:
                value = lookup(scores, key)
                if value is not None:
                    out[f"{variant}/0/{which}/{key}"] = value
        for key, value in metrics.get("semi_supervised", {}).items():
            if key.endswith("error"):
                out[f"{variant}/0/semi_supervised/{key}"] = value
    for dataset in ("mnist", "emoji64"):
        report = json.loads((project / "reports" / "evaluators" / f"{dataset}.json").read_text())
        out[f"evaluator/{dataset}/heldout_accuracy"] = report["extractors"]["domain"]["heldout_accuracy"]
    return out


def test_regenerated_metrics_match_the_committed_expectation(smoke):
    """A change that breaks a score, or its reproducibility, fails here. Regenerate the file
    with GANFORGE_UPDATE_EXPECTED=1 when a change is meant to move the numbers."""
    project, _, _ = smoke
    got = key_metrics(project)
    if os.environ.get("GANFORGE_UPDATE_EXPECTED") == "1":
        EXPECTED.parent.mkdir(exist_ok=True)
        EXPECTED.write_text(
            json.dumps(
                {"tolerance": {"relative": 0.15, "absolute": 0.01}, "metrics": got}, indent=2, sort_keys=True
            )
            + "\n"
        )
    expected = json.loads(EXPECTED.read_text())
    rel, atol = expected["tolerance"]["relative"], expected["tolerance"]["absolute"]
    assert set(got) == set(expected["metrics"]), set(got) ^ set(expected["metrics"])
    off = {
        k: (got[k], want)
        for k, want in expected["metrics"].items()
        if abs(got[k] - want) > atol + rel * abs(want)
    }
    assert not off, f"scores moved beyond tolerance (got, expected): {off}"


def test_comparison_and_report(smoke):
    project, _, _ = smoke
    comparison = json.loads((project / "reports" / "comparison.json").read_text())
    mnist = comparison["datasets"]["mnist"]
    assert set(mnist["variants"]) == {"gan_mnist", "cgan_mnist", "cdcgan_mnist", "ssgan_mnist"}
    fd = mnist["metrics"]["domain.fd"]
    assert set(fd["summary"]) == set(mnist["variants"]) and fd["summary"]["gan_mnist"]["n"] == 1
    assert set(mnist["metrics"]["semi_supervised.test_error"]["summary"]) == {"ssgan_mnist"}
    assert len(fd["pairwise"]) == 6 and all("not tested" in c["verdict"] for c in fd["pairwise"].values())
    assert comparison["datasets"]["emoji64"]["stand_in"] is True
    report = (project / "reports" / "report.md").read_text()
    assert "# ganforge report (smoke profile)" in report and "Stand-in data" in report
    assert "### Semi-supervised classification" in report
    assert "### Leaderboard" in report and "![samples of mnist](figures/samples_mnist.png)" in report
    figures = {p.name for p in (project / "reports" / "figures").iterdir()}
    assert {"samples_mnist.png", "curves_mnist.png", "scores_mnist.png", "samples_ring.png"} <= figures


def test_mlflow_has_one_finished_run_per_variant_and_seed(smoke):
    from mlflow.tracking import MlflowClient

    project, _, _ = smoke
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ganforge")
    runs = client.search_runs([exp.experiment_id])
    by_run = {(r.data.tags["variant"], r.data.tags["seed"]): r for r in runs if "variant" in r.data.tags}
    assert set(by_run) == {(v, "0") for v in VARIANTS}
    assert any(r.data.tags.get("kind") == "comparison" for r in runs)
    assert "score.ema.modes.modes_covered" in by_run[("gan_ring", "0")].data.metrics
    ring = by_run[("gan_ring", "0")]
    assert ring.info.status == "FINISHED" and ring.data.tags["profile"] == "smoke"
    assert ring.data.params["train.lr"] == "0.001" and "d_loss" in ring.data.metrics
    assert len(client.get_metric_history(ring.info.run_id, "g_loss")) == 4
    assert [a.path for a in client.list_artifacts(ring.info.run_id, "model")] == ["model/generator.pt"]


def test_dataset_params_invalidate_only_their_stages(smoke):
    project, env, _ = smoke
    params = project / "params.yaml"
    original = params.read_text()
    data = yaml.safe_load(original)
    data["datasets"]["mnist"]["limit"] = 100
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        status = json.loads(run(["dvc", "status", "--json"], project, env).stdout)
    finally:
        params.write_text(original)
    assert set(status) == {"prepare@mnist"}


def test_exp_run_with_a_new_lr_retrains_exactly_the_variants_that_use_it(smoke):
    project, env, _ = smoke
    out = run(["dvc", "exp", "run", *SMOKE, "-S", "train.lr=0.0003", "-n", "lr-3e-4"], project, env).stdout
    stages = ran_stages(out)
    variants = yaml.safe_load((project / "params.yaml").read_text())["variants"]
    own_lr = {v for v in VARIANTS if "lr" in (variants[v].get("train") or {})}
    assert own_lr == {"gan_mnist", "cgan_mnist", "gan_ring", "ssgan_mnist"}
    assert {f"configure@{v}" for v in VARIANTS} <= stages
    assert {f"train@{v}-0" for v in VARIANTS - own_lr} <= stages
    assert not {f"train@{v}-0" for v in own_lr} & stages  # their resolved configs are unchanged
    shown = run(["dvc", "exp", "show", "--json"], project, env).stdout
    assert "lr-3e-4" in shown
    configs = project / "data" / "configs"
    assert json.loads((configs / "cdcgan_mnist.json").read_text())["train"]["lr"] == 0.0003
    assert json.loads((configs / "gan_mnist.json").read_text())["train"]["lr"] == 0.0004  # its own lr wins


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_training_killed_mid_run_resumes_through_dvc_repro(smoke):
    project, env, _ = smoke
    overrides = [
        "profile=smoke",
        "data.verify_checksums=false",
        "+variants.gan_ring.train.steps=1500",
        "+variants.gan_ring.train.checkpoint_every=50",
    ]
    run(["python", "-m", "pipeline", "params", *overrides], project, env)
    run(["dvc", "repro", "configure@gan_ring"], project, env)
    checkpoints = project / "data" / "checkpoints" / "gan_ring"
    generator = project / "data" / "models" / "gan_ring" / "0" / "generator.pt"

    run(["rm", "-rf", str(checkpoints)], project, env)
    proc = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", "train@gan_ring-0"],
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

    out = run(["dvc", "repro", "-s", "train@gan_ring-0"], project, env)  # what a user types next
    assert "resuming at step" in out.stdout + out.stderr
    resumed = _sha(generator)

    run(["rm", "-rf", str(checkpoints)], project, env)  # the same run, never interrupted
    run(["dvc", "repro", "-f", "--no-run-cache", "-s", "train@gan_ring-0"], project, env)
    assert _sha(generator) == resumed
