"""`train <variant>`: every seed of run.seeds (or one, `--seed N`), one process for all.

Outputs (DVC outs): `data/models/<variant>/<seed>/` (generator.pt with the EMA copies, best.pt
where it was scored during training, checkpoint.pt, train.json),
`reports/curves/<variant>/<seed>.csv` and `reports/validation/<variant>/<seed>.csv` (the scores
during training, for `dvc plots`). Each seed's working checkpoint lives in `data/checkpoints/`
(outside the outs, which DVC deletes before a re-run): an interrupted `dvc repro` resumes each
seed where it stopped, and a seed that had finished is only written out again (its checkpoint
is at its last step), so caching and resume stay per seed while a variant pays the process
start-up once. With `tracking.live`, each run also
logs to MLflow as it goes (the track stage mirrors every run into MLflow either way).

With `distributed.nproc_per_node` × `distributed.nnodes` above 1, the stage starts itself again
through `torch.distributed.run` (so `dvc repro` and `dvc exp run` work unchanged); each worker
trains its shard of every global batch and rank 0 writes the outputs. With
`distributed.seed_processes` above 1, that many seeds train side by side instead, one process
each (small nets gain more from two cores that way than from two threads in one run)."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import typer

from ganforge.core.device import resolve_placement
from ganforge.core.errors import ConfigError
from ganforge.data.prepared import PreparedDataset, load_prepared
from ganforge.evaluation.base import Evaluator
from ganforge.layout import (
    CHECKPOINT_DIR,
    EVALUATORS_DIR,
    PREPARED_DIR,
    checkpoint_path,
    curves_path,
    model_dir,
    validation_path,
)
from ganforge.runner import RunPaths, run_fingerprint, train_run
from ganforge.tracking import NullTracker, Tracker
from ganforge.train.distributed import (
    DistributedConfig,
    Group,
    check_plan,
    distributed_config,
    launched,
    process_group,
    relaunch,
)
from ganforge.train.parallel import preload_training, run_each
from ganforge.variants import Variant
from pipeline.params import chosen_seeds, load_params
from pipeline.resolved import load_variant


def live_tracker(variant: Variant, seed: int, data: PreparedDataset, paths: RunPaths, root: Path) -> Tracker:
    """An MLflow run for live logging, tagged so the track stage finds and completes it."""
    from ganforge.mirror import FINGERPRINT_TAG, LIVE_TAG, RECORD_TAG, common_tags, run_tags
    from ganforge.tracking import MlflowTracker, RunIdSidecar, default_uri
    from pipeline.params import git_commit

    fingerprint = run_fingerprint(variant, seed)
    stand_in = bool(data.meta.get("stand_in"))
    common = common_tags(variant.profile, git_commit(root), os.environ.get("DVC_EXP_NAME"))
    tags = {
        **run_tags(variant.name, variant.kind, variant.dataset, seed, stand_in, common),
        RECORD_TAG: "run",
        LIVE_TAG: "true",
        FINGERPRINT_TAG: fingerprint,
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
    seeds = chosen_seeds(params, seed)
    options = distributed_config(params)
    variant = load_variant(root, name)
    data = load_prepared(root / PREPARED_DIR, variant.dataset)
    evaluator = validation_evaluator(variant, params, root)
    if options.world_size == 1:
        if options.seed_processes > 1 and len(seeds) > 1 and variant.train.threads == 0:
            raise ConfigError(
                f"distributed.seed_processes is {options.seed_processes}: set train.threads for {name} "
                f"(each of its runs would take every core, and its bits would depend on their number)"
            )
        processes = options.seed_processes
        if processes > 1:
            preload_training()
        job = functools.partial(train, variant, data=data, root=root, evaluator=evaluator)
        return run_each(job, seeds, processes)
    cfg = variant.train
    device = resolve_placement(cfg.device, cfg.amp, cfg.channels_last, convolutional=False).device
    if not launched():
        check_plan(options, {name: cfg.batch_size}, device)
        return launch(options, name, seeds, seed, root)
    with process_group(options, device) as group:
        for s in seeds:
            train(variant, s, data, root, group, evaluator)
    return []  # the launcher reports, from what rank 0 wrote


def launch(
    options: DistributedConfig, name: str, seeds: list[int], seed: int | None, root: Path
) -> list[str]:
    """Run this stage again as `options.world_size` workers through torch.distributed.run;
    a line per seed, read back from what rank 0 wrote."""
    args = ["pipeline", "train", name, *(["--seed", str(seed)] if seed is not None else [])]
    relaunch(options, args, root, f"distributed training of {name}")
    if options.nnodes > 1 and not (model_dir(root, name, seeds[0]) / "train.json").is_file():
        return [f"{name}: this node's workers finished (rank 0, on another node, writes the outputs)"]
    return [
        summary_line(name, json.loads((model_dir(root, name, s) / "train.json").read_text())) for s in seeds
    ]


def summary_line(name: str, summary: dict[str, Any]) -> str:
    """One line about a finished run, from its summary."""
    resumed = f", resumed at step {summary['resumed_from']}" if summary["resumed_from"] else ""
    processes = summary.get("processes", 1)
    on = f" × {processes} processes" if processes > 1 else ""
    return (
        f"trained {name} seed {summary['seed']}: {summary['steps']} steps in {summary['seconds']:.1f} s on "
        f"{summary['device']}{on} ({summary['precision']}){resumed}"
    )


def validation_evaluator(variant: Variant, params: dict[str, Any], root: Path) -> Evaluator | None:
    """The dataset's evaluator, for the scores during training (None when eval_every is 0)."""
    if not variant.train.eval_every:
        return None
    from ganforge.evaluation.evaluator import load_evaluator
    from pipeline.scoring import settings

    return load_evaluator(root / EVALUATORS_DIR / variant.dataset, settings(params))


def train(
    variant: Variant,
    seed: int,
    data: PreparedDataset,
    root: Path,
    group: Group | None = None,
    evaluator: Evaluator | None = None,
) -> str:
    """Train (or resume) one run; return a one-line summary (empty on ranks other than 0)."""
    name = variant.name
    paths = RunPaths(
        checkpoint=checkpoint_path(root, name, seed),
        grids=root / CHECKPOINT_DIR / name / f"{seed}-grids",
        out_dir=model_dir(root, name, seed),
        curves=curves_path(root, name, seed),
        validation=validation_path(root, name, seed),
    )
    main = group is None or group.main
    tracker = live_tracker(variant, seed, data, paths, root) if variant.live and main else NullTracker()
    try:
        summary = train_run(
            variant,
            seed,
            data,
            paths,
            tracker,
            say=lambda m: typer.echo(m, err=True),
            group=group,
            evaluator=evaluator,
        )
    except BaseException:
        tracker.close("KILLED")
        raise
    tracker.close()
    return summary_line(name, summary) if summary is not None else ""
