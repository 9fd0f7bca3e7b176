"""Drawing samples from a trained generator: fixed latent batches (the same z for every
checkpoint and run, so grids compare), class-by-row batches, spherical interpolation, and
Jacobian truncation (latents kept where the generator is least steep)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ganforge.nets.base import Generator

GRID_SEED = 20240601  # one fixed latent batch for every grid of every run
EVAL_SEED = 7_000_000  # evaluation samples of run `seed` use latents seeded EVAL_SEED + seed
VALIDATION_SEED = 8_000_000  # its in-training scores use VALIDATION_SEED + seed: never the same


@dataclass(frozen=True)
class SampleConfig:
    """How many samples each run gives for evaluation, and the figures drawn from it."""

    count: int = 5000
    grid: int = 8
    interpolation_rows: int = 6
    interpolation_steps: int = 10
    toy_points: int = 2000
    batch_size: int = 500
    jacobian_keep: float = 1.0
    """The fraction of latents kept by Jacobian truncation; 1 keeps them all."""

    def __post_init__(self) -> None:
        if not 0.0 < self.jacobian_keep <= 1.0:
            raise ValueError(f"jacobian_keep must be in (0, 1], got {self.jacobian_keep}")
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


def in_eval_batches(
    generator: Generator,
    fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    z: torch.Tensor,
    labels: torch.Tensor | None,
    batch_size: int,
) -> torch.Tensor:
    """fn(z, labels) batch by batch on the generator's device, with the generator in eval
    mode (its mode restored after), the results on the CPU and concatenated."""
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        out = []
        for i in range(0, len(z), batch_size):
            y = labels[i : i + batch_size].to(device) if labels is not None else None
            out.append(fn(z[i : i + batch_size].to(device), y).cpu())
    finally:
        generator.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def generate(
    generator: Generator, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 500
) -> torch.Tensor:
    """The generator's output for every z (in eval mode, batched), on the CPU."""
    return in_eval_batches(generator, lambda zb, yb: generator(zb, yb).float(), z, labels, batch_size)


def class_grid_inputs(
    classes: int, per_class: int, latent_dim: int, seed: int = GRID_SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents and labels for a class-by-row grid: the same z in every column, one class per
    row, so a row shows the class and a column shows what z controls."""
    z = latents(per_class, latent_dim, seed).repeat(classes, 1)
    return z, class_rows(classes, per_class)


def jacobian_norms(
    generator: Generator, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 500
) -> torch.Tensor:
    """‖∂G(z)/∂z‖ (Frobenius) for every row of z, in eval mode, on the CPU: one forward-mode
    product per latent dimension, so it costs about latent_dim forward passes."""

    def norms(zb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
        squared = torch.zeros(len(zb), device=zb.device)
        for k in range(zb.shape[1]):
            tangent = torch.zeros_like(zb)
            tangent[:, k] = 1.0
            _, column = torch.func.jvp(lambda v: generator(v, yb), (zb,), (tangent,))
            squared += column.detach().float().flatten(1).pow(2).sum(1)
        return squared.sqrt()

    return in_eval_batches(generator, norms, z, labels, batch_size)


def lowest_per_label(scores: torch.Tensor, pool_labels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Indices into the pool such that row i has label labels[i]: for each label, the rows
    of the pool with that label and the lowest scores, in pool order."""
    chosen = torch.empty(len(labels), dtype=torch.long)
    for label in labels.unique():
        wanted = (labels == label).nonzero().squeeze(1)
        offered = (pool_labels == label).nonzero().squeeze(1)
        if len(offered) < len(wanted):
            raise ValueError(f"label {int(label)}: {len(wanted)} rows wanted, the pool has {len(offered)}")
        best = offered[scores[offered].argsort(stable=True)[: len(wanted)]]
        chosen[wanted] = best.sort().values
    return chosen


def sample_latents(
    generator: Generator, count: int, seed: int, keep: float = 1.0, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`count` latents seeded by `seed`, and labels 0, 1, …, 0, 1, … for a conditional
    generator. With keep < 1, Jacobian truncation (Tanielian et al., 2020, "Learning
    disconnected manifolds: a no GAN's land"): of count/keep latents, the `keep` fraction
    with the smallest ‖∂G/∂z‖ in each class. A continuous G must draw strings between
    disconnected modes, and it draws them where it is steepest."""
    classes = generator.shape.classes
    if keep >= 1.0:
        z = latents(count, generator.latent_dim, seed)
        return z, torch.arange(count) % classes if classes else None
    pool = math.ceil(count / keep)
    z = latents(pool, generator.latent_dim, seed)
    pool_labels = torch.arange(pool) % max(classes, 1)
    labels = torch.arange(count) % max(classes, 1)
    norms = jacobian_norms(generator, z, pool_labels if classes else None, batch_size)
    return z[lowest_per_label(norms, pool_labels, labels)], labels if classes else None
