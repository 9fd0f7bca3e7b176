"""Drawing samples from a trained generator: fixed latent batches (the same z for every
checkpoint and run, so grids compare), class-by-row batches, and spherical interpolation."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.nets.base import Generator

GRID_SEED = 20240601  # one fixed latent batch for every grid of every run
EVAL_SEED = 7_000_000  # evaluation samples of run `seed` use latents seeded EVAL_SEED + seed


@dataclass(frozen=True)
class SampleConfig:
    """How many samples each run gives for evaluation, and the figures drawn from it."""

    count: int = 5000
    grid: int = 8
    interpolation_rows: int = 6
    interpolation_steps: int = 10
    toy_points: int = 2000
    batch_size: int = 500

    def __post_init__(self) -> None:
        for name in (
            "count",
            "grid",
            "interpolation_rows",
            "interpolation_steps",
            "toy_points",
            "batch_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """n standard-normal latent vectors drawn with their own seed (on the CPU)."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def class_rows(classes: int, per_class: int) -> torch.Tensor:
    """Labels 0,0,…,1,1,… for a grid with one class per row."""
    return torch.arange(classes).repeat_interleave(per_class)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b at fractions t (as in White's
    "Sampling Generative Networks"); falls back to linear when a and b are parallel."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    t = t.view(-1, 1)
    linear = (1 - t) * a + t * b
    spherical = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / so.clamp_min(1e-8)
    return torch.where(so.abs() < 1e-6, linear, spherical)


def interpolation_latents(rows: int, steps: int, latent_dim: int, seed: int) -> torch.Tensor:
    """rows × steps latents: each row walks the great circle between two random latents."""
    ends = latents(2 * rows, latent_dim, seed).view(rows, 2, latent_dim)
    t = torch.linspace(0.0, 1.0, steps)
    return torch.cat(
        [slerp(ends[r, 0].expand(steps, -1), ends[r, 1].expand(steps, -1), t) for r in range(rows)]
    )


@torch.no_grad()
def generate(
    generator: Generator, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 500
) -> torch.Tensor:
    """The generator's output for every z (in eval mode, batched), on the CPU."""
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        out = []
        for i in range(0, len(z), batch_size):
            y = labels[i : i + batch_size].to(device) if labels is not None else None
            out.append(generator(z[i : i + batch_size].to(device), y).float().cpu())
    finally:
        generator.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def class_grid_inputs(
    classes: int, per_class: int, latent_dim: int, seed: int = GRID_SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents and labels for a class-by-row grid: the same z in every column, one class per
    row, so a row shows the class and a column shows what z controls."""
    z = latents(per_class, latent_dim, seed).repeat(classes, 1)
    return z, class_rows(classes, per_class)
