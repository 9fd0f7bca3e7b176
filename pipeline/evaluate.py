"""`evaluate <variant>`: draws what every seed's generators make for evaluation, as the
variant's system decides (`data/samples/<variant>/<seed>.pt`), with its figures
(`reports/samples/<variant>/<seed>/`, `figures.json` naming the main one), and scores it
(raw and EMA generators, and the best checkpoint where training kept one):
`reports/metrics/<variant>/<seed>.json`, each number labelled with the extractor that produced it.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganforge.core.config import from_dict
from ganforge.core.device import cpu_threads
from ganforge.core.errors import ConfigError
from ganforge.core.io import atomic_dir, write_json
from ganforge.data.prepared import PreparedDataset, load_prepared
from ganforge.evaluation.evaluator import load_evaluator
from ganforge.evaluation.record import headline, metrics_record, sampling_record
from ganforge.layout import (
    EVALUATOR_REPORT_FILE,
    EVALUATORS_DIR,
    FIGURES_DIR,
    METRICS_DIR,
    PREPARED_DIR,
    SAMPLES_DIR,
    generator_path,
    model_dir,
)
from ganforge.sampling import SampleConfig
from ganforge.systems.registry import get_system
from ganforge.train.distributed import distributed_config
from ganforge.train.parallel import run_each
from ganforge.trained import load_trained, sample_run, with_best
from ganforge.variants import Variant
from ganforge.viz import preload_figures
from pipeline.params import load_params, run_seeds
from pipeline.resolved import load_variant
from pipeline.scoring import settings


def sample_config(
    section: dict[str, Any] | None, dataset: str, variant: str = "", variants: Iterable[str] = ()
) -> SampleConfig:
    """`sample:` for `variant`, a variant of `dataset`: `counts` sets a dataset's own sample
    count (a benchmark's protocol: 26,000 for Stacked MNIST, 2,500 for the 2-D mixtures),
    else `count`; `jacobian_keep` maps variants (of `variants`) to the fraction of latents
    their Jacobian truncation keeps (1, all of them, for a variant it does not name)."""
    options = dict(section or {})
    counts = options.pop("counts", None) or {}
    if not isinstance(counts, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in counts.values()
    ):
        raise ConfigError(f"sample.counts must map dataset names to sample counts, got {counts!r}")
    if dataset in counts:
        options["count"] = counts[dataset]
    keep = options.pop("jacobian_keep", None) or {}
    if not isinstance(keep, dict):
        raise ConfigError(f"sample.jacobian_keep must map variant names to fractions, got {keep!r}")
    if unknown := sorted(set(keep) - set(variants)):
        raise ConfigError(f"sample.jacobian_keep: {', '.join(unknown)} is not a variant")
    if variant in keep:
        options["jacobian_keep"] = keep[variant]
    return from_dict(SampleConfig, options, "sample")


def check_sampling(variant: Variant, cfg: SampleConfig) -> None:
    """Jacobian truncation needs a generator of latents (a translation system has routes)."""
    if cfg.jacobian_keep < 1.0 and get_system(variant.kind).routes(variant):
        raise ConfigError(
            f"sample.jacobian_keep.{variant.name}: a {variant.kind} system draws no latents to truncate"
        )


def _training(root: Path, variant: str, seed: int) -> dict[str, Any]:
    path = model_dir(root, variant, seed) / "train.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


@dataclass(frozen=True)
class SeedJob:
    """What scoring one seed of a variant needs (shared by every seed, forked with them)."""

    name: str
    root: Path
    variant: Variant
    data: PreparedDataset
    sample_cfg: SampleConfig
    evaluator: Any
    report: dict[str, Any]
    samples_dir: Path
    figures_dir: Path
    out: Path
    threads: int


def evaluate_seed(job: SeedJob, seed: int) -> str:
    """Sample and score one seed: its samples, figures and metrics JSON; a line for the log."""
    with cpu_threads(job.threads):
        start = time.perf_counter()
        training = _training(job.root, job.name, seed)
        trained = load_trained(generator_path(job.root, job.name, seed))
        best_path = generator_path(job.root, job.name, seed, "best")
        if best_path.is_file():
            with_best(trained, load_trained(best_path))
        payload = sample_run(
            trained,
            job.data,
            job.sample_cfg,
            seed,
            job.samples_dir / f"{seed}.pt",
            job.figures_dir / str(seed),
        )
        result = metrics_record(
            job.variant,
            seed,
            job.report,
            sampling_record(job.sample_cfg, payload, trained.info.get("best")),
            job.evaluator.score(payload, seed),
            job.evaluator.baselines(),
            training,
        )
        write_json(job.out / f"{seed}.json", result)
    return f"evaluated {job.name} seed {seed}: {headline(result)} ({time.perf_counter() - start:.1f} s)"


def evaluate_variant(name: str, root: Path) -> list[str]:
    """Sample and score every seed of a variant, one JSON per seed; the seeds side by side
    (`distributed.seed_processes`), each on `evaluation.threads` CPU threads."""
    params = load_params(root)
    variant = load_variant(root, name)
    sample_cfg = sample_config(params.get("sample"), variant.dataset, name, params.get("variants") or {})
    check_sampling(variant, sample_cfg)
    data = load_prepared(root / PREPARED_DIR, variant.dataset)
    folder = root / EVALUATORS_DIR / variant.dataset
    scoring = settings(params)
    evaluator = load_evaluator(folder, scoring)
    report = json.loads((folder / EVALUATOR_REPORT_FILE).read_text(encoding="utf-8"))
    processes = distributed_config(params).seed_processes
    with (
        atomic_dir(root / SAMPLES_DIR / name) as samples_dir,
        atomic_dir(root / FIGURES_DIR / name) as figures_dir,
        atomic_dir(root / METRICS_DIR / name) as out,
    ):
        job = SeedJob(
            name, root, variant, data, sample_cfg, evaluator, report, samples_dir, figures_dir, out,
            scoring.eval.threads,
        )  # fmt: skip
        if processes > 1:
            preload_figures()
        return run_each(functools.partial(evaluate_seed, job), run_seeds(params), processes)
