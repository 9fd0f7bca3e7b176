"""`track`: make the MLflow store hold what DVC holds (DVC runs this stage every time, after
the report). One MLflow run per (variant, seed) of the profile and one comparison run, found
by their tags, created when missing (a fresh clone, `dvc pull`, stages DVC skipped), left
alone when up to date (see `ganforge.mirror`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ganforge.layout import (
    COMPARISON_JSON,
    COMPARISON_MD,
    FIGURES_DIR,
    GENERATOR_FILE,
    PREPARED_DIR,
    REPORT,
    SCORES_JSON,
    config_path,
    curves_path,
    metrics_path,
    model_dir,
)
from ganforge.mirror import (
    Mirrored,
    common_tags,
    comparison_record,
    dataset_record,
    mirror,
    run_tags,
    training_record,
)
from ganforge.serving.registry import register_runs, registrations
from ganforge.tracking import MlflowStore, default_uri
from pipeline.params import git_commit, load_params, run_seeds, run_variants


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def wanted_runs(root: Path, common: dict[str, str]) -> list[Mirrored]:
    """Every (variant, seed) run and the comparison, as the artifacts describe them."""
    params = load_params(root)
    runs = []
    for variant in run_variants(params):
        config = _json(config_path(root, variant))
        dataset = str(config["dataset"])
        prepared = f"{PREPARED_DIR}/{dataset}.pt"
        data = dataset_record(_json(root / PREPARED_DIR / f"{dataset}.json"), prepared)
        for seed in run_seeds(params):
            models = model_dir(root, variant, seed)
            training, metrics = _json(models / "train.json"), _json(metrics_path(root, variant, seed))
            figures = sorted((root / FIGURES_DIR / variant / str(seed)).glob("*.png"))
            artifacts = [
                (models / GENERATOR_FILE, "model"),
                (models / "train.json", "run"),
                (metrics_path(root, variant, seed), "run"),
                (curves_path(root, variant, seed), "curves"),
                *((f, "figures") for f in figures),
            ]
            kind = str(config["system"]["kind"])
            tags = run_tags(variant, kind, dataset, seed, bool(metrics.get("stand_in")), common)
            curves = curves_path(root, variant, seed)
            runs.append(training_record(config, training, metrics, curves, artifacts, tags, data))
    files = [(root / p, "comparison") for p in (COMPARISON_JSON, COMPARISON_MD, REPORT)]
    runs.append(comparison_record(_json(root / COMPARISON_JSON), files, common))
    return runs


def track(root: Path) -> list[str]:
    params = load_params(root)
    experiment = str((params.get("tracking") or {}).get("experiment", "ganforge"))
    common = common_tags(str(params.get("profile")), git_commit(root), os.environ.get("DVC_EXP_NAME"))
    wanted = wanted_runs(root, common)
    store = MlflowStore(default_uri(root), experiment)
    report = mirror(store, wanted)
    headline = _json(root / SCORES_JSON) if (root / SCORES_JSON).is_file() else {}
    registered = register_runs(store.uri, registrations(store.runs(), wanted, headline))
    ui = f"/#/experiments/{store.experiment_id}?workflowType=machine_learning"
    return [
        f"{report.line()}; {registered.line()}",
        f"experiment {experiment!r} in {default_uri(root)}; in `mlflow ui` its runs are at {ui}",
    ]
