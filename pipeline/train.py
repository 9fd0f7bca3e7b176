"""`train <variant>`: every seed of run.seeds (or one, `--seed N`), one process for all.

Outputs (DVC outs): `data/models/<variant>/<seed>/` (generator.pt with the EMA copies,
checkpoint.pt, train.json) and `reports/curves/<variant>/<seed>.csv`. Each seed's working
checkpoint lives in `data/checkpoints/` (outside the outs, which DVC deletes before a re-run):
an interrupted `dvc repro` resumes each seed where it stopped, and a seed that had finished
is only written out again (its checkpoint is at its last step), so caching and resume stay
per seed while a variant pays the process start-up once. With `tracking.live`, each run also
logs to MLflow as it goes (the track stage mirrors every run into MLflow either way)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ganforge.data.prepared import PreparedDataset, load_prepared
from ganforge.errors import ConfigError
from ganforge.layout import CHECKPOINT_DIR, PREPARED_DIR, checkpoint_path, curves_path, model_dir
from ganforge.tracking import NullTracker, Tracker
from ganforge.train.run import RunPaths, run_fingerprint, train_run
from ganforge.variants import Variant
from pipeline.params import load_params, run_seeds
from pipeline.resolved import load_variant


def live_tracker(variant: Variant, seed: int, data: PreparedDataset, paths: RunPaths, root: Path) -> Tracker:
    """An MLflow run for live logging, tagged so the track stage finds and completes it."""
    from ganforge.mirror import EXPERIMENT_TAG, FINGERPRINT_TAG, LIVE_TAG, RECORD_TAG, WORKSPACE
    from ganforge.tracking import MlflowTracker, RunIdSidecar, default_uri
    from pipeline.params import git_commit

    fingerprint = run_fingerprint(variant, seed)
    tags = {
        RECORD_TAG: "run",
        LIVE_TAG: "true",
        FINGERPRINT_TAG: fingerprint,
        EXPERIMENT_TAG: os.environ.get("DVC_EXP_NAME") or WORKSPACE,
        "variant": variant.name,
        "system": variant.kind,
        "dataset": variant.dataset,
        "seed": str(seed),
        "profile": variant.profile,
        "git_commit": git_commit(root),
        "stand_in": str(bool(data.meta.get("stand_in"))),
    }
    sidecar = RunIdSidecar(paths.checkpoint.with_suffix(".json"), fingerprint)
    tracker = MlflowTracker(
        default_uri(root), variant.experiment, f"{variant.name}-{seed}", tags, sidecar.run_id()
    )
    sidecar.save(tracker.run_id)
    tracker.set_tags(tags)
    tracker.log_params({**variant.to_json(), "seed": seed})
    return tracker


def train_variant(name: str, root: Path, seed: int | None = None) -> list[str]:
    """Train (or resume) every seed of the profile, or the one given; a line per seed."""
    params = load_params(root)
    seeds = run_seeds(params) if seed is None else [seed]
    if not seeds:
        raise ConfigError("params.yaml: run.seeds is empty")
    variant = load_variant(root, name)
    data = load_prepared(root / PREPARED_DIR, variant.dataset)
    return [train(variant, s, data, root) for s in seeds]


def train(variant: Variant, seed: int, data: PreparedDataset, root: Path) -> str:
    """Train (or resume) one run; return a one-line summary."""
    name = variant.name
    paths = RunPaths(
        checkpoint=checkpoint_path(root, name, seed),
        grids=root / CHECKPOINT_DIR / name / f"{seed}-grids",
        out_dir=model_dir(root, name, seed),
        curves=curves_path(root, name, seed),
    )
    tracker = live_tracker(variant, seed, data, paths, root) if variant.live else NullTracker()
    try:
        summary = train_run(variant, seed, data, paths, tracker, say=lambda m: typer.echo(m, err=True))
    except BaseException:
        tracker.close("KILLED")
        raise
    tracker.close()
    resumed = f", resumed at step {summary['resumed_from']}" if summary["resumed_from"] else ""
    return (
        f"trained {name} seed {seed}: {summary['steps']} steps in {summary['seconds']:.1f} s on "
        f"{summary['device']} ({summary['precision']}){resumed}"
    )
