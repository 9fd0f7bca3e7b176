"""Trained generators on disk: plain state dicts plus the configs that rebuild the nets,
loaded with `weights_only=True`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.config import from_dict
from ganforge.errors import DataError, MissingDataError
from ganforge.io import save_torch
from ganforge.nets import build_generator
from ganforge.nets.base import Generator
from ganforge.nets.config import DataShape, ModelConfig

FORMAT_VERSION = 1


def save_generator(
    path: Path,
    model: ModelConfig,
    shape: DataShape,
    generator: nn.Module,
    ema: nn.Module | None,
    info: dict[str, Any],
) -> None:
    state = {
        "format": FORMAT_VERSION,
        "model": dataclasses.asdict(model),
        "shape": dataclasses.asdict(shape),
        "generator": {k: v.detach().cpu() for k, v in generator.state_dict().items()},
        "ema": {k: v.detach().cpu() for k, v in ema.state_dict().items()} if ema is not None else None,
        "info": info,
    }
    save_torch(state, path)


def load_generators(
    path: Path, device: torch.device | str = "cpu"
) -> tuple[dict[str, Generator], dict[str, Any]]:
    """The generators saved at `path` by name ("raw", and "ema" when there is one), in eval
    mode on `device`, and the info saved with them."""
    if not path.is_file():
        raise MissingDataError(f"no trained generator at {path}: run its train stage first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{path} is not a readable generator file ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise DataError(f"{path} has an unknown format")
    model = from_dict(ModelConfig, state["model"], f"{path}: model")
    shape = from_dict(DataShape, state["shape"], f"{path}: shape")
    nets: dict[str, Generator] = {}
    for name in ("raw", "ema"):
        weights = state["generator" if name == "raw" else "ema"]
        if weights is None:
            continue
        net = build_generator(model, shape)
        net.load_state_dict(weights)
        nets[name] = net.to(device).eval()
    return nets, dict(state["info"])
