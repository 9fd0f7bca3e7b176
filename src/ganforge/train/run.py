"""One training run of a variant, end to end: check the data, choose the placement, let the
variant's system build itself, train (resuming from the working checkpoint), and write the
run's outputs: the generators, a copy of the checkpoint, `train.json` and the curves CSV."""

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

from ganforge.data.prepared import PreparedDataset
from ganforge.errors import DataError
from ganforge.io import atomic_dir, atomic_path, write_json
from ganforge.layout import GENERATOR_FILE
from ganforge.nets.registry import arch_is_convolutional
from ganforge.sampling import SampleConfig
from ganforge.systems.base import AdversarialSystem
from ganforge.systems.kind import RunContext, RunSetup
from ganforge.systems.registry import get_system
from ganforge.tracking import NullTracker, Tracker
from ganforge.train.checkpoint import fingerprint
from ganforge.train.config import TrainConfig
from ganforge.train.device import cpu_threads, machine, resolve_placement
from ganforge.train.distributed import Group
from ganforge.train.loop import Hooks, Trainer
from ganforge.train.progress import Progress
from ganforge.train.rng import RunRandom
from ganforge.train.standing import batch_norms, recompute_batch_norm
from ganforge.trained import save_trained
from ganforge.variants import Variant, check_train_options

FIRST_COLUMNS = ("step", "d_loss", "g_loss", "d_real", "d_fake")


@dataclass(frozen=True)
class RunPaths:
    """Where a run writes: its working checkpoint and training grids (outside DVC's outputs,
    which DVC deletes before a re-run), its output folder and its curves CSV."""

    checkpoint: Path
    grids: Path
    out_dir: Path
    curves: Path


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
) -> dict[str, Any] | None:
    """Train (or resume) one run; return its summary (also written as train.json). With a
    tracker (other than the null one) the curves are logged as they come and grids of the
    generators every `grid_every` steps. With `group`, this process is one rank of a
    data-parallel run: rank 0 writes everything and returns the summary, the others None.
    The run computes on `train.threads` CPU threads (when set)."""
    with cpu_threads(variant.train.threads):
        return _train_run(variant, seed, data, paths, tracker, say, group)


def _train_run(
    variant: Variant,
    seed: int,
    data: PreparedDataset,
    paths: RunPaths,
    tracker: Tracker | None,
    say: Callable[[str], None],
    group: Group | None,
) -> dict[str, Any] | None:
    start_time = time.perf_counter()
    tracker = tracker or NullTracker()
    if data.meta.get("data_sha256") != variant.dataset_sha256:
        raise DataError(
            f"dataset {variant.dataset!r} changed since {variant.name} was configured: run `dvc repro`"
        )
    kind = get_system(variant.kind)
    cfg = variant.train
    check_train_options(variant.system, cfg, f"{variant.name}: train")
    placement = resolve_placement(
        cfg.device,
        cfg.amp,
        cfg.channels_last,
        convolutional=arch_is_convolutional(variant.model),
        images=data.kind != "points",
    )
    if group is not None:
        placement = dataclasses.replace(placement, device=group.device(placement.device))
    # Seeds the global RNG before the nets are initialised (alike on every rank).
    random = RunRandom(seed, placement.device, group.rank if group is not None else 0)
    built = kind.build(RunSetup(variant, data, placement, random, seed))
    wrap = net_wrapper(group, cfg.compile)
    if wrap is not None:
        built.system.wrap_nets(wrap, group.shard if group is not None else None)
    if group is not None:
        built.sampler.set_shard(group.shard)
    main = group is None or group.main
    run = RunContext(variant, built.spec, data)
    fp = run_fingerprint(variant, seed)
    figure_cfg = SampleConfig()

    def on_grid(step: int, nets: Mapping[str, nn.Module]) -> None:
        title = f"{variant.name} seed {seed}, step {step}"
        path = kind.figures(nets, run, figure_cfg, paths.grids, title, f"_{step:06d}", main_only=True)[0]
        tracker.log_artifact(path, "grids")

    def on_log(step: int, row: dict[str, float]) -> None:
        tracker.log_metrics({k: v for k, v in row.items() if k != "step"}, step)

    trainer = Trainer(
        built.system,
        built.sampler,
        random,
        cfg,
        fp,
        paths.checkpoint,
        Hooks(on_log, on_grid if tracker.run_id is not None else None, say) if main else None,
        Progress(cfg.steps, f"{variant.name}-{seed}") if main else None,
        group=group,
    )
    result = trainer.fit()
    built.system.unwrap_nets()
    if not main:
        return None
    standing = standing_statistics(built.system, result.ema, cfg, seed, placement.device)
    averaged = built.system.averaged()
    summary: dict[str, Any] = {
        "variant": variant.name,
        "system": variant.kind,
        "seed": seed,
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "device": str(placement.device),
        "precision": placement.precision,
        "machine": machine(),
        "processes": result.processes[-1],
        "fingerprint": fp,
        "d_probabilities": built.system.probabilities,
        "nets": built.system.describe(),
        "ema_standing_statistics": standing,
        "final": result.history[-1] if result.history else {},
        "run_scores": built.system.run_scores(result.ema or averaged),
    }
    if len(result.processes) > 1:
        summary["processes_by_session"] = result.processes
        summary["bitwise_comparable"] = False  # resumed on another number of processes
    summary["seconds"] = round(time.perf_counter() - start_time, 2)
    info = {
        "variant": variant.name,
        "seed": seed,
        "dataset": variant.dataset,
        "steps": result.steps,
        "class_names": list(data.class_names),
        "stand_in": bool(data.meta.get("stand_in")),
        "stand_in_for": data.meta.get("stand_in_for"),
        "fingerprint": fp,
    }
    with atomic_dir(paths.out_dir) as tmp:
        save_trained(tmp / GENERATOR_FILE, variant, built.spec, averaged, result.ema, info)
        shutil.copy2(paths.checkpoint, tmp / "checkpoint.pt")
        write_json(tmp / "train.json", summary)
    write_curves(paths.curves, result.history)
    return summary
