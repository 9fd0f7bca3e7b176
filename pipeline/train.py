"""`train <variant> --seed N`: one training run, tracked in MLflow, resumable.

Outputs (DVC outs): `data/models/<variant>/<seed>/` (generator.pt with the EMA copy,
checkpoint.pt, train.json) and `reports/curves/<variant>/<seed>.csv`. The working
checkpoint lives in `data/checkpoints/` (outside the outs, which DVC deletes before a re-run),
so an interrupted `dvc repro` resumes where it stopped."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge.data.prepared import PreparedDataset, load_prepared
from ganforge.errors import ConfigError, DataError
from ganforge.io import atomic_dir, atomic_path, write_json
from ganforge.losses import get_loss
from ganforge.nets import build_discriminator, build_generator
from ganforge.nets.config import DataShape
from ganforge.tracking import MlflowTracker, Tracker, default_uri
from ganforge.train import AdversarialSystem, BatchSampler, GanSystem, Hooks, RunRandom, Trainer, fit_images
from ganforge.train.checkpoint import fingerprint
from ganforge.train.device import Placement, resolve_placement
from ganforge.train.export import save_generator
from ganforge.train.progress import Progress
from ganforge.train.semi_supervised import (
    SemiSupervisedSystem,
    classification_error,
    semi_supervised_split,
    train_baseline,
)
from pipeline.figures import grid_figure
from pipeline.prepare import PREPARED_DIR
from pipeline.variants import ResolvedVariant, load_resolved

MODELS_DIR = Path("data/models")
CHECKPOINT_DIR = Path("data/checkpoints")
CURVES_DIR = Path("reports/curves")
CURVE_COLUMNS = ("step", "d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "images_per_s")


@dataclass
class TrainingData:
    x: torch.Tensor
    labels: torch.Tensor | None
    shape: DataShape
    source: PreparedDataset


def training_data(variant: ResolvedVariant, root: Path) -> TrainingData:
    """The variant's dataset, checked against its configuration and brought to its size."""
    ds = load_prepared(root / PREPARED_DIR, variant.dataset)
    if ds.meta.get("data_sha256") != variant.dataset_sha256:
        raise DataError(
            f"dataset {variant.dataset!r} changed since {variant.name} was configured: run `dvc repro`"
        )
    if variant.conditional and ds.labels is None:
        raise ConfigError(
            f"variant {variant.name} is conditional, but dataset {variant.dataset!r} has no labels"
        )
    classes = len(ds.class_names) if variant.conditional else 0
    labels = ds.labels if variant.conditional else None
    if ds.kind == "points":
        return TrainingData(
            ds.points, labels, DataShape("points", dim=ds.points.shape[1], classes=classes), ds
        )
    if ds.kind != "images":
        raise ConfigError(
            f"variant {variant.name}: dataset {variant.dataset!r} holds {ds.kind} data; "
            f"GAN variants train on images or points"
        )
    size = variant.image_size or ds.images.shape[-1]
    images = fit_images(ds.images, size)
    return TrainingData(
        images, labels, DataShape("images", channels=images.shape[1], size=size, classes=classes), ds
    )


@dataclass
class Setup:
    """The adversarial system of a run, its data, and what to measure once it is trained."""

    system: AdversarialSystem
    sampler: BatchSampler
    after: Callable[[], dict[str, Any]] | None = None


def build_setup(
    variant: ResolvedVariant, data: TrainingData, placement: Placement, random: RunRandom, seed: int
) -> Setup:
    """Networks, system and batches for the variant's kind of system."""
    cfg, device = variant.train, placement.device
    generator = build_generator(variant.model, data.shape)
    discriminator = build_discriminator(variant.model, data.shape)
    if placement.channels_last:
        generator.to(memory_format=torch.channels_last)
        discriminator.to(memory_format=torch.channels_last)
    if variant.system == "gan":
        system = GanSystem(
            generator, discriminator, get_loss(cfg.loss), cfg, device, random.noise, placement.amp_dtype
        )
        return Setup(
            system,
            BatchSampler(data.x, data.labels, cfg.batch_size, random.data, device, placement.channels_last),
        )
    return _semi_supervised_setup(variant, data, placement, random, seed, generator, discriminator)


def _semi_supervised_setup(
    variant: ResolvedVariant,
    data: TrainingData,
    placement: Placement,
    random: RunRandom,
    seed: int,
    generator: Any,
    discriminator: Any,
) -> Setup:
    labels = data.source.labels
    if labels is None or data.shape.kind != "images":
        raise ConfigError(f"variant {variant.name}: the semi-supervised GAN needs a labelled image dataset")
    cfg, device, classes = variant.train, placement.device, len(data.source.class_names)
    train_idx, labelled_idx, test_idx = semi_supervised_split(
        labels, variant.labelled, variant.test_fraction, seed
    )
    labelled = BatchSampler(
        data.x[labelled_idx],
        labels[labelled_idx],
        min(cfg.batch_size, len(labelled_idx)),
        torch.Generator().manual_seed(seed + 7),
        device,
    )
    system = SemiSupervisedSystem(
        generator, discriminator, classes, labelled, cfg, device, random.noise, placement.amp_dtype
    )
    sampler = BatchSampler(data.x[train_idx], None, cfg.batch_size, random.data, device)

    def after() -> dict[str, Any]:
        test_x, test_y = data.x[test_idx], labels[test_idx]
        baseline = train_baseline(
            lambda: build_discriminator(variant.model, data.shape),
            classes,
            data.x[labelled_idx],
            labels[labelled_idx],
            variant.baseline_steps,
            cfg,
            seed,
            device,
        )
        return {
            "semi_supervised": {
                "labelled": len(labelled_idx),
                "unlabelled": len(train_idx),
                "test_examples": len(test_idx),
                "test_error": classification_error(system.d, test_x, test_y),
                "baseline_test_error": classification_error(baseline, test_x, test_y),
                "baseline_steps": variant.baseline_steps,
            }
        }

    return Setup(system, sampler, after)


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def write_curves(path: Path, history: list[dict[str, float]]) -> None:
    """The logged diagnostics as CSV, for `dvc plots` and the report."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CURVE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in history:
        writer.writerow(
            {k: (int(v) if k == "step" else f"{v:.6g}") for k, v in row.items() if k in CURVE_COLUMNS}
        )
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


class _Sidecar:
    """A small JSON beside the working checkpoint: the MLflow run to reopen on resume."""

    def __init__(self, path: Path, fp: str) -> None:
        self.path, self.fp = path, fp

    def run_id(self) -> str | None:
        if not self.path.is_file():
            return None
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return data.get("mlflow_run_id") if data.get("fingerprint") == self.fp else None

    def save(self, run_id: str | None) -> None:
        write_json(self.path, {"fingerprint": self.fp, "mlflow_run_id": run_id})


def _tracker(
    variant: ResolvedVariant, seed: int, data: TrainingData, root: Path, run_id: str | None
) -> Tracker:
    tags = {
        "variant": variant.name,
        "dataset": variant.dataset,
        "seed": str(seed),
        "profile": variant.profile,
        "git_commit": git_commit(root),
        "stand_in": str(bool(data.source.meta.get("stand_in"))),
    }
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_experiment"] = os.environ["DVC_EXP_NAME"]
    tracker = MlflowTracker(default_uri(root), variant.experiment, f"{variant.name}-{seed}", tags, run_id)
    tracker.set_tags(tags)
    tracker.log_params({**variant.to_json(), "seed": seed})
    return tracker


def train(name: str, seed: int, root: Path) -> str:
    """Train (or resume) one run; return a one-line summary."""
    start_time = time.perf_counter()
    variant = load_resolved(root, name)
    cfg = variant.train
    data = training_data(variant, root)
    placement = resolve_placement(
        cfg.device,
        cfg.amp,
        cfg.channels_last,
        convolutional="dcgan" in (variant.model.generator.arch, variant.model.discriminator.arch),
        images=data.shape.kind == "images",
    )
    random = RunRandom(seed, placement.device)  # seeds the global RNG before the nets are initialised
    setup = build_setup(variant, data, placement, random, seed)
    system, sampler = setup.system, setup.sampler

    fp = fingerprint(variant.fingerprint_source(seed))
    checkpoint = root / CHECKPOINT_DIR / name / f"{seed}.pt"
    sidecar = _Sidecar(checkpoint.with_suffix(".json"), fp)
    tracker = _tracker(variant, seed, data, root, sidecar.run_id())
    sidecar.save(tracker.run_id)
    figures = root / CHECKPOINT_DIR / name / f"{seed}-grids"
    real = data.x if data.shape.kind == "points" else None
    truth = data.source.meta.get("truth")

    def on_grid(step: int, g: Any) -> None:
        path = grid_figure(
            g,
            figures / f"step_{step:06d}.png",
            f"{name} seed {seed}, step {step}",
            class_names=data.source.class_names,
            real=real,
            truth=truth,
        )
        tracker.log_artifact(path, "grids")

    def on_log(step: int, row: dict[str, float]) -> None:
        tracker.log_metrics({k: v for k, v in row.items() if k != "step"}, step)

    trainer = Trainer(
        system,
        sampler,
        random,
        cfg,
        fp,
        checkpoint,
        Hooks(on_log, on_grid),
        Progress(cfg.steps, f"{name}-{seed}"),
        extra={"mlflow_run_id": tracker.run_id},
    )
    try:
        result = trainer.fit()
    except BaseException:
        tracker.close("KILLED")
        raise
    seconds = time.perf_counter() - start_time
    summary = {
        "variant": name,
        "seed": seed,
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "seconds": round(seconds, 2),
        "device": str(placement.device),
        "precision": placement.precision,
        "fingerprint": fp,
        "final": result.history[-1] if result.history else {},
        "mlflow_run_id": tracker.run_id,
    }
    if setup.after is not None:
        summary.update(setup.after())
    out_dir = root / MODELS_DIR / name / str(seed)
    with atomic_dir(out_dir) as tmp:
        save_generator(
            tmp / "generator.pt",
            variant.model,
            data.shape,
            system.generator,
            result.ema,
            {
                "variant": name,
                "seed": seed,
                "dataset": variant.dataset,
                "steps": result.steps,
                "class_names": data.source.class_names,
                "fingerprint": fp,
            },
        )
        shutil.copy2(checkpoint, tmp / "checkpoint.pt")
        write_json(tmp / "train.json", summary)
    curves = root / CURVES_DIR / name / f"{seed}.csv"
    write_curves(curves, result.history)
    tracker.log_artifact(out_dir / "generator.pt", "model")
    tracker.log_artifact(curves, "curves")
    tracker.close()
    resumed = f", resumed at step {result.resumed_from}" if result.resumed_from else ""
    return (
        f"trained {name} seed {seed}: {result.steps} steps in {seconds:.1f} s on {placement.device} "
        f"({placement.precision}){resumed}"
    )
