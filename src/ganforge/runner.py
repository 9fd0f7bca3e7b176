"""One training run of a variant, end to end: check the data, choose the placement, let the
variant's system build itself, train (resuming from the working checkpoint), and write the
run's outputs: the generators (the last step's, and the best validation step's when it is
scored during training), a copy of the checkpoint, `train.json` and the curves CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.core.device import Placement, cpu_threads, machine, resolve_placement
from ganforge.core.errors import DataError
from ganforge.core.io import atomic_dir, atomic_path, utc_iso, write_json
from ganforge.core.seeds import RunRandom
from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.base import Evaluator
from ganforge.evaluation.validation import Validator, selection_for
from ganforge.layout import BEST_GENERATOR_FILE, GENERATOR_FILE
from ganforge.nets.registry import arch_is_convolutional
from ganforge.sampling import SampleConfig
from ganforge.systems.kind import Built, RunContext, RunSetup, SystemKind
from ganforge.systems.registry import get_system
from ganforge.tracking import NullTracker, Tracker
from ganforge.train.checkpoint import fingerprint
from ganforge.train.config import TrainConfig
from ganforge.train.contract import AdversarialSystem
from ganforge.train.distributed import Group
from ganforge.train.loop import Hooks, Trainer, TrainResult
from ganforge.train.progress import Progress
from ganforge.train.selection import Selection
from ganforge.train.standing import batch_norms, recompute_batch_norm
from ganforge.trained import save_trained
from ganforge.variants import Variant, check_train_options

FIRST_COLUMNS = ("step", "d_loss", "g_loss", "d_real", "d_fake")


@dataclass(frozen=True)
class RunPaths:
    """Where a run writes: its working checkpoint and training grids (outside DVC's outputs,
    which DVC deletes before a re-run), its output folder, its curves CSV and (optionally) its
    validation-score CSV."""

    checkpoint: Path
    grids: Path
    out_dir: Path
    curves: Path
    validation: Path | None = None
    """The scores during training as their own CSV (step, `score` = the selecting metric,
    then every score), for `dvc plots`; header only for a run that was not scored."""


def run_fingerprint(variant: Variant, seed: int) -> str:
    """What a checkpoint must match to be resumed: the variant (all but schedule-only
    options), the dataset's checksum and the seed."""
    return fingerprint(variant.fingerprint_source(seed))


def curve_columns(history: list[dict[str, float]]) -> list[str]:
    """step, the losses and D outputs every system logs, then the rest, throughput last."""
    keys = {k for row in history for k in row}
    rest = sorted(keys - set(FIRST_COLUMNS) - {"images_per_s"})
    return [k for k in FIRST_COLUMNS if k in keys or k == "step"] + rest + ["images_per_s"]


def write_curves(path: Path, history: list[dict[str, float]]) -> None:
    """The logged diagnostics as CSV, for `dvc plots` and the report."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=curve_columns(history), extrasaction="ignore")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (int(v) if k == "step" else f"{v:.6g}") for k, v in row.items()})
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


def write_validation(path: Path, selection: Selection | None) -> None:
    """The validation scores by step: `score` is the metric that selects the best checkpoint
    (so one `dvc plots` definition fits every dataset), then each score by its key."""
    points = selection.points if selection is not None else []
    keys = sorted({k for p in points for k in p} - {"step"})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["step", "score", *keys])
    for p in points:
        assert selection is not None
        row = [
            int(p["step"]),
            f"{p[selection.selects.key]:.6g}",
            *(f"{p[k]:.6g}" if k in p else "" for k in keys),
        ]
        writer.writerow(row)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


STANDING_SEED = 31_000_003  # the fresh inputs of standing statistics: seed + this


def standing_statistics(
    system: AdversarialSystem, ema: Mapping[str, nn.Module], cfg: TrainConfig, seed: int, device: torch.device
) -> dict[str, Any]:
    """Recompute the batch-norm statistics of each averaged generator that has batch norm,
    from `cfg.ema_standing_batches` batches of fresh inputs (seeded by the run's seed)."""
    done: dict[str, Any] = {}
    if not cfg.ema_standing_batches:
        return done
    for name, net in ema.items():
        if not batch_norms(net):
            continue
        generator = torch.Generator().manual_seed(seed + STANDING_SEED)
        try:
            batches = system.standing_batches(name, cfg.ema_standing_batches, cfg.batch_size, generator)
        except NotImplementedError:
            continue
        done[name] = {"batches": recompute_batch_norm(net, batches), "batch_size": cfg.batch_size}
    return done


def net_wrapper(group: Group | None, compile_nets: bool) -> Callable[[nn.Module], nn.Module] | None:
    """What each net runs through: a DDP replica under a group, compiled when asked (after
    the DDP wrapper, as PyTorch recommends), or None for the plain net."""
    if group is None and not compile_nets:
        return None

    def wrap(net: nn.Module) -> nn.Module:
        out = group.wrap(net) if group is not None else net
        return torch.compile(out) if compile_nets else out  # type: ignore[return-value]

    return wrap


def train_run(
    variant: Variant,
    seed: int,
    data: PreparedDataset,
    paths: RunPaths,
    tracker: Tracker | None = None,
    say: Callable[[str], None] = print,
    group: Group | None = None,
    evaluator: Evaluator | None = None,
) -> dict[str, Any] | None:
    """Train (or resume) one run; return its summary (also written as train.json). With a
    tracker (other than the null one) the curves are logged as they come and grids of the
    generators every `grid_every` steps. With `group`, this process is one rank of a
    data-parallel run: rank 0 writes everything and returns the summary, the others None.
    With `train.eval_every` and the dataset's `evaluator`, the run is scored during training
    and its best generators are written beside the last (`ganforge.evaluation.validation`).
    The run computes on `train.threads` CPU threads (when set)."""
    with cpu_threads(variant.train.threads):
        return _train_run(variant, seed, data, paths, tracker, say, group, evaluator)


@dataclass
class Setup:
    """A run ready to train: its system kind, what the kind built, the placement and the
    run's random sources."""

    kind: SystemKind
    built: Built
    placement: Placement
    random: RunRandom


def check_inputs(variant: Variant, data: PreparedDataset) -> None:
    """The prepared data is the one the variant was configured on, and the `train:` options
    suit the variant's system."""
    if data.meta.get("data_sha256") != variant.dataset_sha256:
        raise DataError(
            f"dataset {variant.dataset!r} changed since {variant.name} was configured: run `dvc repro`"
        )
    check_train_options(variant.system, variant.train, f"{variant.name}: train")


def set_up(variant: Variant, seed: int, data: PreparedDataset, group: Group | None) -> Setup:
    """Place the run, seed it (the global RNG too, before the nets are initialised, alike on
    every rank) and let its system build nets and samplers, wrapped for DDP or compiling."""
    cfg = variant.train
    placement = resolve_placement(
        cfg.device,
        cfg.amp,
        cfg.channels_last,
        convolutional=arch_is_convolutional(variant.model),
        images=data.kind != "points",
    )
    if group is not None:
        placement = dataclasses.replace(placement, device=group.device(placement.device))
    random = RunRandom(seed, placement.device, group.rank if group is not None else 0)
    kind = get_system(variant.kind)
    built = kind.build(RunSetup(variant, data, placement, random, seed))
    wrap = net_wrapper(group, cfg.compile)
    if wrap is not None:
        built.system.wrap_nets(wrap, group.shard if group is not None else None)
    if group is not None:
        built.sampler.set_shard(group.shard)
    return Setup(kind, built, placement, random)


def hooks_for(
    setup: Setup,
    variant: Variant,
    seed: int,
    data: PreparedDataset,
    paths: RunPaths,
    tracker: Tracker,
    say: Callable[[str], None],
    validator: Validator | None = None,
) -> Hooks:
    """What the trainer reports to: the tracker (curves, `score.*` among them, and grids
    every `grid_every` steps when the tracker is a real one), `say` for messages, and the
    validator that scores the generators during training."""
    run = RunContext(variant, setup.built.spec, data)
    figure_cfg = SampleConfig()

    def on_grid(step: int, nets: Mapping[str, nn.Module]) -> None:
        title = f"{variant.name} seed {seed}, step {step}"
        path = setup.kind.figures(nets, run, figure_cfg, paths.grids, title, f"_{step:06d}", main_only=True)[
            0
        ]
        tracker.log_artifact(path, "grids")

    def on_log(step: int, row: dict[str, float]) -> None:
        tracker.log_metrics({k: v for k, v in row.items() if k != "step"}, step)

    return Hooks(on_log, on_grid if tracker.run_id is not None else None, say, validator)


def validation_for(
    setup: Setup,
    variant: Variant,
    seed: int,
    data: PreparedDataset,
    evaluator: Evaluator | None,
    say: Callable[[str], None],
    group: Group | None = None,
) -> tuple[Validator | None, Selection | None]:
    """The validator and the selection of a run scored during training (None, None when it
    is not: `eval_every` 0 or no evaluator). The untrained generators are scored once
    first, to learn the scores' names (so a stop_when naming an unknown one is refused before
    any step). With `group`, every rank scores alike, each extracting the features of its
    share of the sample."""
    if not variant.train.eval_every:
        return None, None
    run = RunContext(variant, setup.built.spec, data)
    if evaluator is None:
        say(f"{variant.name}: not scored during training: no evaluator was given")
        return None, None
    if group is not None:
        evaluator = evaluator.sharded(group.rank, group.world, group.gather)
    validator = Validator(evaluator, setup.kind, run, variant.train.eval_samples, seed)
    nets = setup.built.system.averaged()
    modes = {name: net.training for name, net in nets.items()}
    try:
        first = validator(0, {name: net.eval() for name, net in nets.items()})
    finally:
        for name, net in nets.items():
            net.train(modes[name])
    if not first:
        say(f"{variant.name}: not scored during training: its evaluator has no score for it")
        return None, None
    return validator, selection_for(first, variant.train.stop_when, f"variants.{variant.name}.train")


def summarise(
    setup: Setup,
    variant: Variant,
    seed: int,
    result: TrainResult,
    standing: dict[str, Any],
    fp: str,
    session_start: float,
) -> dict[str, Any]:
    """The run's summary (train.json): what trained, where, in which precision, for how long
    (over all its sessions), and the system's run-level scores."""
    system = setup.built.system
    summary: dict[str, Any] = {
        "variant": variant.name,
        "system": variant.kind,
        "seed": seed,
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "device": str(setup.placement.device),
        "precision": setup.placement.precision,
        "machine": machine(),
        "processes": result.processes[-1],
        "fingerprint": fp,
        "d_probabilities": system.probabilities,
        "nets": system.describe(),
        "ema_standing_statistics": standing,
        "final": result.history[-1] if result.history else {},
        "run_scores": system.run_scores(result.ema or system.averaged()),
    }
    summary["warnings"] = result.warnings
    if result.selection is not None:
        summary["validation"] = {
            **result.selection.summary(),
            "every": variant.train.eval_every,
            "samples": variant.train.eval_samples,
            "latents": "VALIDATION_SEED + seed (never the evaluation samples' EVAL_SEED + seed)",
        }
    if len(result.processes) > 1:
        summary["processes_by_session"] = result.processes
        summary["bitwise_comparable"] = False  # resumed on another number of processes
    # The run's time over all its sessions: the earlier ones' (from the checkpoint) and this one.
    summary.update(
        started=utc_iso(result.clock.started),
        finished=utc_iso(time.time()),
        seconds=round(result.clock.seconds + time.perf_counter() - session_start, 2),
    )
    return summary


def write_outputs(
    setup: Setup,
    variant: Variant,
    seed: int,
    data: PreparedDataset,
    paths: RunPaths,
    result: TrainResult,
    summary: dict[str, Any],
) -> None:
    """The run's folder (generator file, a copy of the checkpoint, train.json), written
    atomically, and its curves CSV."""
    info = {
        "variant": variant.name,
        "seed": seed,
        "dataset": variant.dataset,
        "steps": result.steps,
        "class_names": list(data.class_names),
        "stand_in": bool(data.meta.get("stand_in")),
        "stand_in_for": data.meta.get("stand_in_for"),
        "fingerprint": summary["fingerprint"],
    }
    averaged = setup.built.system.averaged()
    with atomic_dir(paths.out_dir) as tmp:
        save_trained(tmp / GENERATOR_FILE, variant, setup.built.spec, averaged, result.ema, info)
        if result.selection is not None and result.selection.best_nets:
            last = (averaged, result.ema) if result.selection.best_step == result.steps else None
            save_best(tmp / BEST_GENERATOR_FILE, setup, variant, seed, result.selection, info, last)
        shutil.copy2(paths.checkpoint, tmp / "checkpoint.pt")
        write_json(tmp / "train.json", summary)
    write_curves(paths.curves, result.history)
    if paths.validation is not None:
        write_validation(paths.validation, result.selection)


def save_best(
    path: Path,
    setup: Setup,
    variant: Variant,
    seed: int,
    selection: Selection,
    info: dict[str, Any],
    final: tuple[Mapping[str, nn.Module], Mapping[str, nn.Module]] | None = None,
) -> None:
    """The generators of the best validation step, in the generator file's format, their EMA
    copies given standing statistics as the final ones are (when the best step is the last,
    they are the final generators: `final` is given and written as they are)."""
    selected = {"metric": selection.selects.key, "value": selection.best_value, "on": "validation sample"}
    best_info = {**info, "steps": selection.best_step, "checkpoint": "best", "selected": selected}
    if final is not None:
        save_trained(path, variant, setup.built.spec, final[0], final[1], best_info)
        return
    copies = {}
    for which, states in selection.best_nets.items():
        nets = setup.kind.generators(variant, setup.built.spec)
        for name, state in states.items():
            nets[name].load_state_dict(state)
        copies[which] = {name: net.to(setup.placement.device) for name, net in nets.items()}
    if "ema" in copies:
        standing_statistics(setup.built.system, copies["ema"], variant.train, seed, setup.placement.device)
    save_trained(path, variant, setup.built.spec, copies["raw"], copies.get("ema", {}), best_info)


def _train_run(
    variant: Variant,
    seed: int,
    data: PreparedDataset,
    paths: RunPaths,
    tracker: Tracker | None,
    say: Callable[[str], None],
    group: Group | None,
    evaluator: Evaluator | None = None,
) -> dict[str, Any] | None:
    session_start = time.perf_counter()
    tracker = tracker or NullTracker()
    check_inputs(variant, data)
    setup = set_up(variant, seed, data, group)
    main = group is None or group.main
    fp = run_fingerprint(variant, seed)
    cfg = variant.train
    validator, selection = validation_for(setup, variant, seed, data, evaluator, say, group)
    trainer = Trainer(
        setup.built.system,
        setup.built.sampler,
        setup.random,
        cfg,
        fp,
        paths.checkpoint,
        hooks_for(setup, variant, seed, data, paths, tracker, say, validator)
        if main
        else Hooks(on_score=validator),
        Progress(cfg.steps, f"{variant.name}-{seed}") if main else None,
        group=group,
        selection=selection,
    )
    result = trainer.fit()
    setup.built.system.unwrap_nets()
    if not main:
        return None
    standing = standing_statistics(setup.built.system, result.ema, cfg, seed, setup.placement.device)
    summary = summarise(setup, variant, seed, result, standing, fp, session_start)
    write_outputs(setup, variant, seed, data, paths, result, summary)
    return summary
