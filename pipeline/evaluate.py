"""`evaluate <variant>`: draws what every seed's generators make for evaluation, as the
variant's system decides (`data/samples/<variant>/<seed>.pt`), with its figures
(`reports/samples/<variant>/<seed>/`, `figures.json` naming the main one), and scores it
(raw and EMA generators, and the best checkpoint where training kept one):
`reports/metrics/<variant>/<seed>.json`, each number labelled with the extractor that produced it.

With `distributed.nproc_per_node` × `distributed.nnodes` above 1, the stage starts itself again
through `torch.distributed.run`, as the train stage does: the seeds are scored one after
another, each over every worker (rank 0 draws and writes, every rank extracts its share of
the features: `ganforge.evaluation.final`), with the scores of one process, bit for bit. With
`distributed.seed_processes` above 1 (one process, then: the two cannot be combined), that
many seeds are scored side by side instead, one process each.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError
from ganforge.core.io import atomic_dir, write_json
from ganforge.data.prepared import load_prepared
from ganforge.evaluation.common import Settings
from ganforge.evaluation.evaluator import load_evaluator
from ganforge.evaluation.final import FinalEvaluation, evaluate_run
from ganforge.evaluation.record import headline
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
from ganforge.train.distributed import (
    DistributedConfig,
    Group,
    distributed_config,
    launched,
    process_group,
    relaunch,
    resolve_backend,
)
from ganforge.train.parallel import run_each
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
    final: FinalEvaluation
    samples_dir: Path
    figures_dir: Path
    out: Path


def evaluate_seed(job: SeedJob, seed: int) -> str:
    """Sample and score one seed: its samples, figures and metrics JSON; a line for the log
    (empty on a worker other than rank 0, which writes nothing)."""
    start = time.perf_counter()
    best = generator_path(job.root, job.name, seed, "best")
    result = evaluate_run(
        job.final,
        seed,
        generator_path(job.root, job.name, seed),
        best if best.is_file() else None,
        _training(job.root, job.name, seed),
        job.samples_dir / f"{seed}.pt",
        job.figures_dir / str(seed),
    )
    if result is None:
        return ""
    write_json(job.out / f"{seed}.json", result)
    return f"evaluated {job.name} seed {seed}: {headline(result)} ({time.perf_counter() - start:.1f} s)"


@contextlib.contextmanager
def outputs(root: Path, name: str, write: bool) -> Iterator[tuple[Path, Path, Path]]:
    """The stage's folders (samples, figures, metrics), each replaced whole when the block
    succeeds; where `write` is False (a worker other than rank 0), their final paths, which
    nothing writes."""
    targets = (root / SAMPLES_DIR / name, root / FIGURES_DIR / name, root / METRICS_DIR / name)
    if not write:
        yield targets
        return
    with atomic_dir(targets[0]) as samples, atomic_dir(targets[1]) as figures, atomic_dir(targets[2]) as out:
        yield samples, figures, out


def evaluate_variant(name: str, root: Path) -> list[str]:
    """Sample and score every seed of a variant, one JSON per seed; the seeds side by side
    (`distributed.seed_processes`), each on `evaluation.threads` CPU threads, or one after
    another over `nproc_per_node` × `nnodes` workers (see the module's docstring)."""
    params = load_params(root)
    variant = load_variant(root, name)
    sample_cfg = sample_config(params.get("sample"), variant.dataset, name, params.get("variants") or {})
    check_sampling(variant, sample_cfg)
    scoring = settings(params)
    options = distributed_config(params)
    seeds = run_seeds(params)
    if options.world_size == 1:
        return evaluate_seeds(name, root, variant, sample_cfg, scoring, seeds, options.seed_processes)
    device = torch.device(scoring.device)
    if not launched():
        resolve_backend(options.backend, device)  # refused here, before any worker starts
        return launch(options, name, seeds, root)
    with process_group(options, device) as group:
        group.device(device)  # its own GPU (by local rank), where the extractors load on CUDA
        evaluate_seeds(name, root, variant, sample_cfg, scoring, seeds, group=group)
    return []  # the launcher reports, from what rank 0 wrote


def evaluate_seeds(
    name: str,
    root: Path,
    variant: Variant,
    sample_cfg: SampleConfig,
    scoring: Settings,
    seeds: list[int],
    processes: int = 1,
    group: Group | None = None,
) -> list[str]:
    """Score `seeds` of the variant in this process (or `processes` side by side), or as
    one worker of `group`; a line per seed (from the writing process)."""
    data = load_prepared(root / PREPARED_DIR, variant.dataset)
    folder = root / EVALUATORS_DIR / variant.dataset
    evaluator = load_evaluator(folder, scoring)
    report = json.loads((folder / EVALUATOR_REPORT_FILE).read_text(encoding="utf-8"))
    final = FinalEvaluation(variant, data, sample_cfg, evaluator, report, scoring.eval.threads, group)
    with outputs(root, name, final.main) as (samples_dir, figures_dir, out):
        job = SeedJob(name, root, final, samples_dir, figures_dir, out)
        if processes > 1:
            preload_figures()
        return run_each(functools.partial(evaluate_seed, job), seeds, processes)


def launch(options: DistributedConfig, name: str, seeds: list[int], root: Path) -> list[str]:
    """Run this stage again as `options.world_size` workers through torch.distributed.run;
    a line per seed, read back from what rank 0 wrote."""
    start = time.perf_counter()
    relaunch(options, ["pipeline", "evaluate", name], root, f"distributed evaluation of {name}")
    out = root / METRICS_DIR / name
    if options.nnodes > 1 and not all((out / f"{s}.json").is_file() for s in seeds):
        return [f"{name}: this node's workers finished (rank 0, on another node, writes the outputs)"]
    lines = [
        f"evaluated {name} seed {s}: {headline(json.loads((out / f'{s}.json').read_text(encoding='utf-8')))}"
        for s in seeds
    ]
    took = time.perf_counter() - start
    return [*lines, f"evaluated {name} on {options.world_size} processes ({took:.1f} s)"]
