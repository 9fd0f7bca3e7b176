"""Scoring stages.

- `evaluator <dataset>`: trains the dataset's domain classifier (labelled image datasets) and
  computes the real-data reference of every available extractor, once:
  `data/evaluators/<dataset>/` and `reports/evaluators/<dataset>.json`.
- `evaluate <variant>`: scores every seed's samples (raw and EMA generators) with every
  extractor: `reports/metrics/<variant>/<seed>.json`, each number labelled with the
  extractor that produced it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ganforge.config import from_dict
from ganforge.data.prepared import PreparedDataset, load_prepared
from ganforge.errors import DataError, MissingDataError
from ganforge.io import atomic_dir, save_torch, write_json
from ganforge.metrics.classifier import ClassifierConfig, load_classifier, save_classifier, train_classifier
from ganforge.metrics.features import DomainExtractor, Features, PointsExtractor, Unavailable, load_inception
from ganforge.metrics.suite import EvalConfig, Reference, class_scores, feature_scores, toy_scores
from ganforge.tracking import MlflowTracker, default_uri, numeric_leaves
from pipeline.params import load_params
from pipeline.prepare import PREPARED_DIR
from pipeline.sample import SAMPLES_DIR
from pipeline.train import MODELS_DIR
from pipeline.variants import load_resolved

EVALUATORS_DIR = Path("data/evaluators")
EVALUATOR_REPORTS = Path("reports/evaluators")
METRICS_DIR = Path("reports/metrics")
REFERENCE_SEED = 1234  # which real examples form a reference


def eval_config(params: dict[str, Any]) -> tuple[EvalConfig, ClassifierConfig]:
    section = dict(params.get("evaluation") or {})
    classifier = from_dict(ClassifierConfig, section.pop("classifier", None), "evaluation.classifier")
    return from_dict(EvalConfig, section, "evaluation"), classifier


def _device(cfg: EvalConfig) -> str:
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def _real_subset(n: int, count: int) -> torch.Tensor:
    """A fixed, seeded choice of `count` real examples (all when there are fewer)."""
    if count >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(REFERENCE_SEED))[:count].sort().values


# -- evaluator@<dataset> -------------------------------------------------------------------
def build_evaluator(dataset: str, root: Path) -> list[str]:
    """Train the domain classifier (if the dataset is labelled images) and write the reference."""
    params = load_params(root)
    cfg, classifier_cfg = eval_config(params)
    ds = load_prepared(root / PREPARED_DIR, dataset)
    lines: list[str] = []
    report: dict[str, Any] = {
        "dataset": dataset,
        "stand_in": bool(ds.meta.get("stand_in")),
        "stand_in_for": ds.meta.get("stand_in_for"),
        "extractors": {},
    }
    references: dict[str, Any] = {}
    with atomic_dir(root / EVALUATORS_DIR / dataset) as folder:
        if ds.kind == "points":
            idx = _real_subset(len(ds), cfg.real_count)
            references["points"] = Reference.build(
                "points", PointsExtractor()(ds.points[idx]), None, 0, cfg
            ).to_state()
            report["extractors"]["points"] = {"available": True, "dim": int(ds.points.shape[1])}
            report["truth"] = ds.meta.get("truth")
        elif ds.kind == "images":
            lines += _image_references(ds, cfg, classifier_cfg, folder, references, report)
        else:
            raise DataError(f"evaluator@{dataset}: {ds.kind} datasets are scored by their translation stages")
        save_torch(
            {
                "format": 1,
                "dataset": dataset,
                "references": references,
                "unavailable": report.get("unavailable", {}),
                "class_names": ds.class_names,
            },
            folder / "reference.pt",
        )
    write_json(root / EVALUATOR_REPORTS / f"{dataset}.json", report)
    lines.append(
        f"evaluator {dataset}: references for {', '.join(references) or 'no extractor'}"
        + "".join(f"; {k} unavailable: {v}" for k, v in report.get("unavailable", {}).items())
    )
    return lines


def _image_references(
    ds: PreparedDataset,
    cfg: EvalConfig,
    classifier_cfg: ClassifierConfig,
    folder: Path,
    references: dict[str, Any],
    report: dict[str, Any],
) -> list[str]:
    lines = []
    idx = _real_subset(len(ds), cfg.real_count)
    labels = ds.labels[idx].numpy() if ds.labels is not None else None
    classes = len(ds.class_names)
    unavailable: dict[str, str] = {}
    if ds.labels is not None and classes > 1:
        start = time.perf_counter()
        model, result = train_classifier(
            ds.images,
            ds.labels,
            classes,
            classifier_cfg,
            log=lambda m: print(f"classifier {ds.name}: {m}", flush=True),
        )
        size = int(ds.images.shape[-1])
        save_classifier(
            folder / "classifier.pt",
            model,
            classifier_cfg,
            int(ds.images.shape[1]),
            ds.class_names,
            size,
            result,
        )
        extractor = DomainExtractor(f"domain:{ds.name}", model, size, int(ds.images.shape[1]), _device(cfg))
        references["domain"] = Reference.build(
            extractor.name, extractor(ds.images[idx]), labels, classes, cfg
        ).to_state()
        report["extractors"]["domain"] = {
            "available": True,
            "name": extractor.name,
            "dim": classifier_cfg.feature_dim,
            "classes": classes,
            **result,
            "seconds": round(time.perf_counter() - start, 1),
        }
        lines.append(
            f"classifier {ds.name}: held-out accuracy {result['heldout_accuracy']:.4f} "
            f"({result['heldout_examples']} images)"
        )
    else:
        unavailable["domain"] = f"dataset {ds.name} has no class labels to train a domain classifier on"
    inception = load_inception(cfg.inception_weights, cfg.inception_download, device=_device(cfg))
    if isinstance(inception, Unavailable):
        unavailable["inception"] = inception.reason
    else:
        references["inception"] = Reference.build(
            "inception", inception(ds.images[idx]), labels, classes, cfg
        ).to_state()
        report["extractors"]["inception"] = {
            "available": True,
            "name": "inception",
            "dim": 2048,
            "weights": str(inception.path),
            "weights_sha256": inception.sha256,
        }
    for name, reason in unavailable.items():
        report["extractors"][name] = {"available": False, "reason": reason}
    report["unavailable"] = unavailable
    report["real_examples"] = len(idx)
    return lines


# -- evaluate@<variant> --------------------------------------------------------------------
def _load_evaluator(
    root: Path, dataset: str, device: str
) -> tuple[dict[str, Reference], dict[str, Any], Any]:
    """The references of a dataset, their description, and the domain extractor (or None)."""
    folder = root / EVALUATORS_DIR / dataset
    path = folder / "reference.pt"
    if not path.is_file():
        raise MissingDataError(
            f"no evaluator for dataset {dataset!r}: add it to run.evaluators and run "
            f"`dvc repro evaluator@{dataset}`"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    refs = {k: Reference.from_state(v) for k, v in state["references"].items()}
    domain = None
    if (folder / "classifier.pt").is_file():
        model, info = load_classifier(folder / "classifier.pt")
        domain = DomainExtractor(f"domain:{dataset}", model, info["image_size"], info["channels"], device)
    return refs, state, domain


def _samples(root: Path, variant: str, seed: int) -> dict[str, Any]:
    path = root / SAMPLES_DIR / variant / f"{seed}.pt"
    if not path.is_file():
        raise MissingDataError(f"no samples at {path}: run `dvc repro sample@{variant}`")
    return torch.load(path, map_location="cpu", weights_only=True)


def evaluate_variant(name: str, root: Path) -> list[str]:
    """Score every seed of a variant; one JSON per seed."""
    params = load_params(root)
    cfg, _ = eval_config(params)
    device = _device(cfg)
    variant = load_resolved(root, name)
    seeds = [int(s) for s in (params.get("run") or {}).get("seeds", [])]
    refs, ref_state, domain = _load_evaluator(root, variant.dataset, device)
    evaluator_report = json.loads((root / EVALUATOR_REPORTS / f"{variant.dataset}.json").read_text())
    inception = None
    if "inception" in refs:
        loaded = load_inception(cfg.inception_weights, False, device=device)
        inception = None if isinstance(loaded, Unavailable) else loaded
    ds_meta = json.loads((root / PREPARED_DIR / f"{variant.dataset}.json").read_text())
    lines = []
    client = None  # one MLflow client for every seed
    with atomic_dir(root / METRICS_DIR / name) as folder:
        for seed in seeds:
            start = time.perf_counter()
            samples = _samples(root, name, seed)
            result = {
                "variant": name,
                "seed": seed,
                "dataset": variant.dataset,
                "stand_in": bool(ds_meta.get("stand_in")),
                "stand_in_for": ds_meta.get("stand_in_for"),
                "profile": variant.profile,
                "extractors": evaluator_report["extractors"],
                "real_samples": next(iter(refs.values())).stats.count if refs else 0,
                "generated_samples": len(next(iter(samples["samples"].values()))),
                "generators": {},
            }
            summary = _train_summary(root, name, seed)
            if "semi_supervised" in summary:
                result["semi_supervised"] = summary["semi_supervised"]
            for which, fake in samples["samples"].items():
                result["generators"][which] = _score(
                    fake, samples, refs, ref_state, domain, inception, cfg, seed, evaluator_report
                )
            write_json(folder / f"{seed}.json", result)
            client = log_scores(root, name, seed, variant.experiment, result, client)
            lines.append(
                f"evaluated {name} seed {seed}: {_headline(result)} ({time.perf_counter() - start:.1f} s)"
            )
    return lines


def _train_summary(root: Path, variant: str, seed: int) -> dict[str, Any]:
    path = root / MODELS_DIR / variant / str(seed) / "train.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def log_scores(
    root: Path, variant: str, seed: int, experiment: str, result: dict[str, Any], client: Any = None
) -> Any:
    """Put a run's final scores on its MLflow training run, so the UI's compare view ranks
    variants by them; return the MLflow client, for the next seed."""
    info = _train_summary(root, variant, seed)
    tracker = MlflowTracker(
        default_uri(root), experiment, f"{variant}-{seed}", run_id=info.get("mlflow_run_id"), client=client
    )
    scores = {
        **numeric_leaves(result["generators"], "score."),
        **numeric_leaves(result.get("semi_supervised", {}), "score.semi_supervised."),
    }
    tracker.log_metrics(scores, int(info.get("steps", 0)))
    tracker.close()
    return tracker.client


def _score(
    fake: torch.Tensor,
    samples: dict[str, Any],
    refs: dict[str, Reference],
    ref_state: dict[str, Any],
    domain: DomainExtractor | None,
    inception: Any,
    cfg: EvalConfig,
    seed: int,
    evaluator_report: dict[str, Any],
) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    if "points" in refs:
        points = PointsExtractor()(fake)
        scores["points"] = feature_scores(refs["points"], points, cfg, seed)
        scores["modes"] = toy_scores(points.features, evaluator_report.get("truth") or {}, cfg)
        return scores
    requested = samples["labels"].numpy() if samples.get("labels") is not None else None
    for key, extractor in (("domain", domain), ("inception", inception)):
        if key not in refs or extractor is None:
            continue
        features: Features = extractor(fake)
        scores[key] = feature_scores(refs[key], features, cfg, seed)
        if key == "domain" and features.log_probs is not None:
            scores["classes"] = class_scores(
                features.log_probs, ref_state["class_names"], refs[key].class_histogram, requested
            )
    for key, reason in ref_state.get("unavailable", {}).items():
        scores[key] = {"available": False, "reason": reason}
    return scores


def _headline(result: dict[str, Any]) -> str:
    """The main numbers of a seed's result, for the log."""
    which = "ema" if "ema" in result["generators"] else "raw"
    g = result["generators"][which]
    if "modes" in g:
        m = g["modes"]
        if "modes_covered" in m:
            return (
                f"{which}: {m['modes_covered']}/{m['modes_total']} modes, "
                f"{m['high_quality_fraction']:.1%} high quality"
            )
        return f"{which}: radius error {m.get('mean_abs_radius_error', float('nan')):.3f}"
    parts = []
    if isinstance(g.get("domain"), dict) and "fd" in g["domain"]:
        parts.append(f"domain FD {g['domain']['fd']:.2f}")
    if "classes" in g:
        parts.append(f"{g['classes']['classes_hit']}/{g['classes']['classes_total']} classes")
    if isinstance(g.get("inception"), dict) and "fd" in g["inception"]:
        parts.append(f"FID {g['inception']['fd']:.2f}")
    return f"{which}: " + ", ".join(parts)
