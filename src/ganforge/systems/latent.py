"""What the latent-variable systems (`gan`, `semi_supervised`) share: their data (images or
2-D points, brought to the variant's size), their generators' spec, the evaluation samples of
a fixed latent batch, and their figures (a grid, a class-by-row grid for conditional models,
an interpolation strip, the 2-D points over the truth)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.core.batches import Batch
from ganforge.core.images import fit_images, to_uint8
from ganforge.data.prepared import PreparedDataset
from ganforge.nets.base import Generator
from ganforge.nets.config import DataShape
from ganforge.nets.registry import build_generator
from ganforge.sampling import (
    EVAL_SEED,
    GRID_SEED,
    SampleConfig,
    class_grid_inputs,
    generate,
    interpolation_latents,
    sample_latents,
)
from ganforge.systems.kind import Nets, RunContext, SystemKind
from ganforge.train.config import TrainConfig
from ganforge.train.contract import AdversarialSystem, Phase, make_optimizer
from ganforge.variants import Variant
from ganforge.viz import image_grid, save_class_grid, save_image, save_points


@dataclass
class LatentData:
    """A latent system's training tensors and the shape its generator must produce."""

    x: torch.Tensor
    labels: torch.Tensor | None
    shape: DataShape


def latent_data(variant: Variant, data: PreparedDataset, classes: int) -> LatentData:
    """The dataset as training tensors: points as they are, images fitted to the variant's
    `image_size`; labels only for a conditional generator (`classes` > 0)."""
    labels = data.labels if classes else None
    if data.kind == "points":
        return LatentData(data.points, labels, DataShape("points", dim=data.points.shape[1], classes=classes))
    size = variant.image_size or int(data.images.shape[-1])
    images = fit_images(data.images, size)
    return LatentData(
        images, labels, DataShape("images", channels=images.shape[1], size=size, classes=classes)
    )


def latent_spec(shape: DataShape, data: PreparedDataset) -> dict[str, Any]:
    return {"shape": dataclasses.asdict(shape), "class_names": list(data.class_names)}


class PairSystem(AdversarialSystem):
    """One generator from z and one discriminator (on the device already), each with its own
    optimizer and learning rate (TTUR), alternating `d_steps` discriminator updates with one
    generator update. Subclasses write the two steps."""

    def __init__(
        self,
        g: Generator,
        d: nn.Module,
        cfg: TrainConfig,
        device: torch.device,
        noise: torch.Generator,
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        self.g, self.d = g, d
        self.cfg, self.device, self.noise, self.amp_dtype = cfg, device, noise, amp_dtype
        self._fake: torch.Tensor | None = None
        self.modules = {"generator": self.g, "discriminator": self.d}
        self.optimizers = {
            "generator": make_optimizer(list(self.g.parameters()), cfg.generator_lr, cfg),
            "discriminator": make_optimizer(list(self.d.parameters()), cfg.discriminator_lr, cfg),
        }

    def averaged(self) -> dict[str, nn.Module]:
        return {"generator": self.modules["generator"]}

    def phases(self) -> list[Phase]:
        # G's step reuses the last real batch: it needs its labels (conditional), not its images.
        return [Phase("discriminator", self.cfg.d_steps), Phase("generator", 1, draws_batch=False)]

    def latent(self, n: int) -> torch.Tensor:
        """N(0, I) latents for `n` samples of this process (drawn for the global batch)."""
        z = torch.randn(n * self.shard.world, self.g.latent_dim, generator=self.noise, device=self.device)
        return self.shard.take(z)

    def step(self, phase: str, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        if phase == "discriminator":
            return self.discriminator_step(batch, at, diagnose)
        if phase == "generator":
            return self.generator_step(batch, at, diagnose)
        raise ValueError(f"unknown phase {phase!r}")

    def discriminator_step(self, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generator_step(self, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def standing_batches(
        self, name: str, batches: int, batch_size: int, generator: torch.Generator
    ) -> list[tuple[torch.Tensor | None, ...]]:
        return latent_batches(self.g, batches, batch_size, generator)


def latent_batches(
    g: Generator, batches: int, batch_size: int, generator: torch.Generator
) -> list[tuple[torch.Tensor | None, ...]]:
    """Batches of N(0, I) latents (and uniformly drawn labels, for a conditional generator)."""
    device = next(g.parameters()).device
    out: list[tuple[torch.Tensor | None, ...]] = []
    for _ in range(batches):
        z = torch.randn(batch_size, g.latent_dim, generator=generator).to(device)
        labels = (
            torch.randint(0, g.shape.classes, (batch_size,), generator=generator).to(device)
            if g.shape.classes
            else None
        )
        out.append((z, labels))
    return out


class LatentKind(SystemKind):
    """Generators from z (and a label): `generator` is the one averaged and sampled."""

    data_kinds = ("images", "points")

    def produces(self, spec: Mapping[str, Any]) -> str:
        return str(spec["shape"]["kind"])

    def generators(self, variant: Variant, spec: Mapping[str, Any]) -> dict[str, nn.Module]:
        return {"generator": build_generator(variant.model, DataShape(**spec["shape"]))}

    def latent_dim(self, variant: Variant) -> int:
        return int(variant.model.latent_dim)

    def decode(
        self,
        nets: Nets,
        spec: Mapping[str, Any],
        z: torch.Tensor,
        labels: torch.Tensor | None,
        batch_size: int,
    ) -> torch.Tensor:
        out = generate(nets["generator"], z, labels, batch_size)  # type: ignore[arg-type]
        return out if self.produces(spec) == "points" else to_uint8(out)

    def draw(
        self, nets: Mapping[str, Nets], run: RunContext, cfg: SampleConfig, seed: int, stream: int = EVAL_SEED
    ) -> dict[str, Any]:
        shape = DataShape(**run.spec["shape"])
        samples, labels = {}, None
        for which, generators in nets.items():
            g: Generator = generators["generator"]  # type: ignore[assignment]
            z, labels = sample_latents(g, cfg.count, stream + seed, cfg.jacobian_keep, cfg.batch_size)
            out = generate(g, z, labels, cfg.batch_size)
            samples[which] = out if shape.kind == "points" else to_uint8(out)
        return {
            "kind": shape.kind,
            "samples": samples,
            "labels": labels,
            "class_names": list(run.spec.get("class_names", [])),
            "image_size": shape.size,
        }

    def figures(
        self,
        nets: Nets,
        run: RunContext,
        cfg: SampleConfig,
        folder: Path,
        title: str,
        suffix: str = "",
        main_only: bool = False,
    ) -> list[Path]:
        g: Generator = nets["generator"]  # type: ignore[assignment]
        names = list(run.spec.get("class_names", []))
        if g.shape.kind == "points":
            real, truth = run.data.points, run.data.meta.get("truth")
            path = folder / f"points{suffix}.png"
            return [points_figure(g, path, title, real, truth, cfg.toy_points, cfg.jacobian_keep)]
        paths = [grid_figure(g, folder / f"grid{suffix}.png", title, cfg.grid, names, cfg.jacobian_keep)]
        if not main_only:
            paths.append(
                interpolation_figure(
                    g, folder / f"interpolation{suffix}.png", cfg.interpolation_rows, cfg.interpolation_steps
                )
            )
        return paths


def grid_figure(
    g: Generator,
    path: Path,
    title: str,
    side: int = 8,
    class_names: list[str] | None = None,
    keep: float = 1.0,
) -> Path:
    """What the generator makes from the fixed latent batch (Jacobian-truncated with keep < 1):
    an image grid, or one class per row (the same z in every column, never truncated) for a
    conditional generator."""
    if g.shape.classes:
        z, labels = class_grid_inputs(g.shape.classes, side, g.latent_dim)
        images = to_uint8(generate(g, z, labels))
        names = class_names or [str(i) for i in range(g.shape.classes)]
        return save_class_grid(images, names, side, path, title)
    z, _ = sample_latents(g, side * side, GRID_SEED, keep)
    images = to_uint8(generate(g, z))
    return save_image(image_grid(images, side), path)


def points_figure(
    g: Generator,
    path: Path,
    title: str,
    real: torch.Tensor | None,
    truth: dict[str, Any] | None,
    count: int = 2000,
    keep: float = 1.0,
) -> Path:
    """2-D samples of the fixed latent batch (Jacobian-truncated with keep < 1) over the real
    points and the true modes."""
    z, labels = sample_latents(g, count, GRID_SEED, keep)
    points = generate(g, z, labels)
    if keep < 1.0:
        title += f"\nJacobian truncation: {keep:.0%} of latents kept"
    return save_points(points, real if real is not None else torch.empty(0, 2), truth or {}, path, title)


def interpolation_figure(g: Generator, path: Path, rows: int, steps: int) -> Path:
    """Rows of images along great circles between random latents (labels fixed per row)."""
    z = interpolation_latents(rows, steps, g.latent_dim, GRID_SEED + 1)
    labels = None
    if g.shape.classes:
        labels = (torch.arange(rows) % g.shape.classes).repeat_interleave(steps)
    images = to_uint8(generate(g, z, labels))
    return save_image(image_grid(images, steps), path)
