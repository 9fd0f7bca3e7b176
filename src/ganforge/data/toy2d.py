"""The 2-D benchmark distributions, made by code with a seed: the ring of 8 Gaussians and the
grid of 25 (the PacGAN / VEEGAN benchmarks) and the noisy circle. The true means and sigma
go into the metadata so a later stage can score samples against the exact mixture."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ganforge.data.fetch import SourceContext
from ganforge.data.prepared import PreparedDataset

Shape = Literal["ring", "grid", "circle"]

# Defaults of each benchmark: ring of 8 at radius 1 with sigma 0.01; 5×5 grid on
# {-4,-2,0,2,4}² with sigma 0.05; circle of radius 5 with radius noise sigma 0.5.
_DEFAULT_SIGMA = {"ring": 0.01, "grid": 0.05, "circle": 0.5}


@dataclass(frozen=True)
class Toy2DConfig:
    shape: Shape
    count: int = 20000
    seed: int = 0
    sigma: float | None = None
    """Standard deviation (of each Gaussian, or of the circle's radius); None: the benchmark's."""
    ring_modes: int = 8
    ring_radius: float = 1.0
    circle_radius: float = 5.0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be positive, got {self.count}")
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        if self.ring_modes < 1:
            raise ValueError("ring_modes must be positive")

    @property
    def std(self) -> float:
        return self.sigma if self.sigma is not None else _DEFAULT_SIGMA[self.shape]


def mixture_means(cfg: Toy2DConfig) -> torch.Tensor:
    """The true component means (K×2) of the ring or the grid."""
    if cfg.shape == "ring":
        angles = torch.arange(cfg.ring_modes, dtype=torch.float64) * (2 * math.pi / cfg.ring_modes)
        return cfg.ring_radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    if cfg.shape == "grid":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64)
        xs, ys = torch.meshgrid(axis, axis, indexing="ij")
        return torch.stack([xs.flatten(), ys.flatten()], dim=1)
    raise ValueError(f"{cfg.shape} is not a mixture")


def make_toy2d(cfg: Toy2DConfig, ctx: SourceContext) -> PreparedDataset:
    """Draw `count` points of the benchmark with the given seed."""
    gen = torch.Generator().manual_seed(cfg.seed)
    truth: dict[str, Any]
    tensors: dict[str, torch.Tensor] = {}
    class_names: list[str] = []
    if cfg.shape == "circle":
        angle = torch.rand(cfg.count, generator=gen, dtype=torch.float64) * 2 * math.pi
        radius = cfg.circle_radius + cfg.std * torch.randn(cfg.count, generator=gen, dtype=torch.float64)
        points = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
        truth = {"type": "circle", "radius": cfg.circle_radius, "radius_sigma": cfg.std}
    else:
        means = mixture_means(cfg)
        component = torch.randint(len(means), (cfg.count,), generator=gen)
        noise = torch.randn(cfg.count, 2, generator=gen, dtype=torch.float64)
        points = means[component] + cfg.std * noise
        tensors["labels"] = component.to(torch.int64)
        class_names = [f"mode {i}" for i in range(len(means))]
        truth = {"type": "gaussian_mixture", "means": means.tolist(), "sigma": cfg.std, "weights": "uniform"}
    tensors["points"] = points.to(torch.float32)
    meta = {
        "source": f"generated {cfg.shape} (seed {cfg.seed})",
        "shape": cfg.shape,
        "stand_in": False,
        "inputs": [],
        "counts": {"generated": cfg.count, "kept": cfg.count, "skipped": 0},
        "truth": truth,
        "seed": cfg.seed,
    }
    return PreparedDataset(ctx.name, "points", tensors, class_names, meta)
