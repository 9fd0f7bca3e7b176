"""Trained runs on disk: the generators of a run (raw and EMA) as plain state dicts, with the
resolved variant and the spec its system rebuilds them from, loaded with
`weights_only=True` (a model file can never run code)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.core.errors import DataError, MissingDataError
from ganforge.core.io import save_torch, write_json
from ganforge.data.prepared import PreparedDataset
from ganforge.sampling import SampleConfig
from ganforge.systems.kind import RunContext, SystemKind
from ganforge.systems.registry import SYSTEM_OPTIONS, get_system
from ganforge.variants import Variant, variant_from_json

FORMAT_VERSION = 2
WHICH = ("raw", "ema")
BEST = "best"  # the copy of a run's best validation step, beside "raw" and "ema" when it has one


def _cpu_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


def save_trained(
    path: Path,
    variant: Variant,
    spec: Mapping[str, Any],
    raw: Mapping[str, nn.Module],
    ema: Mapping[str, nn.Module],
    info: Mapping[str, Any],
) -> None:
    """Every generator of a run, raw and (when there is one) EMA, with what rebuilds them."""
    state = {
        "format": FORMAT_VERSION,
        "variant": variant.to_json(),
        "spec": dict(spec),
        "generators": {
            name: {"raw": _cpu_state(net), "ema": _cpu_state(ema[name]) if name in ema else None}
            for name, net in raw.items()
        },
        "info": dict(info),
    }
    save_torch(state, path)


@dataclass
class TrainedRun:
    """A run's generators, by which copy ("raw", "ema") and then by name, in eval mode."""

    variant: Variant
    kind: SystemKind
    spec: dict[str, Any]
    nets: dict[str, dict[str, nn.Module]]
    info: dict[str, Any]

    @property
    def shown(self) -> str:
        """The copy that figures and reports show first: the EMA one when there is one."""
        return "ema" if "ema" in self.nets else "raw"


def load_trained(path: Path, device: torch.device | str = "cpu") -> TrainedRun:
    """The run saved at `path`, its generators rebuilt by its system and on `device`."""
    if not path.is_file():
        raise MissingDataError(f"no trained generator at {path}: run its train stage first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{path} is not a readable generator file ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise DataError(f"{path} has an unknown format: re-run its train stage")
    variant = variant_from_json(state["variant"], str(path), table=SYSTEM_OPTIONS)
    kind = get_system(variant.kind)
    nets: dict[str, dict[str, nn.Module]] = {}
    for which in WHICH:
        saved = {
            name: copies[which] for name, copies in state["generators"].items() if copies[which] is not None
        }
        if not saved:
            continue
        built = kind.generators(variant, state["spec"])
        for name, weights in saved.items():
            built[name].load_state_dict(weights)
        nets[which] = {name: net.to(device).eval() for name, net in built.items()}
    return TrainedRun(variant, kind, dict(state["spec"]), nets, dict(state["info"]))


def with_best(trained: TrainedRun, best: TrainedRun) -> TrainedRun:
    """`trained` with the shown copy of its best checkpoint as a third set of generators,
    "best" (sampled and scored beside "raw" and "ema"); `info["best"]` says which step."""
    trained.nets[BEST] = best.nets[best.shown]
    trained.info[BEST] = {
        "steps": best.info.get("steps"),
        "copy": best.shown,
        **dict(best.info.get("selected") or {}),
    }
    return trained


SAMPLES_FORMAT = 2


def sample_run(
    trained: TrainedRun,
    data: PreparedDataset,
    cfg: SampleConfig,
    seed: int,
    samples_path: Path,
    figures_dir: Path,
) -> dict[str, Any]:
    """What the sample stage makes of one run: the evaluation samples its system draws
    (saved at `samples_path`) and its figures (in `figures_dir`, with `figures.json` naming
    the main one). Returns the samples' payload."""
    run = RunContext(trained.variant, trained.spec, data)
    payload = trained.kind.draw(trained.nets, run, cfg, seed)
    payload.update(
        {
            "format": SAMPLES_FORMAT,
            "variant": trained.variant.name,
            "seed": seed,
            "dataset": trained.variant.dataset,
            "generators": list(trained.nets),
        }
    )
    save_torch(payload, samples_path)
    figures_dir.mkdir(parents=True, exist_ok=True)
    shown = trained.shown
    drawn: list[Path] = []
    for which in sorted(trained.nets, key=lambda w: w != shown):  # the shown copy first
        label = {"ema": "EMA generator", BEST: "best checkpoint"}.get(which, "generator")
        step = (trained.info.get(BEST) or {}).get("steps") if which == BEST else trained.info.get("steps")
        title = f"{trained.variant.name} seed {seed} ({label}, step {step})"
        suffix = "" if which == shown else f"_{which}"
        drawn += trained.kind.figures(
            trained.nets[which], run, cfg, figures_dir, title, suffix, main_only=which != shown
        )
    write_json(figures_dir / "figures.json", {"main": drawn[0].name, "all": [p.name for p in drawn]})
    return payload
