"""The figures of a generator, drawn the same way during training (logged to MLflow) and by
the sample stage: an 8×8 grid of a fixed latent batch, a class-by-row grid for conditional
models, a spherical interpolation strip, and for the 2-D toys the points over the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.nets.base import Generator
from ganforge.sampling import GRID_SEED, class_grid_inputs, generate, interpolation_latents, latents
from ganforge.train.batches import to_uint8
from ganforge.viz import image_grid, save_class_grid, save_image, save_points


def grid_figure(
    generator: Generator,
    path: Path,
    title: str,
    side: int = 8,
    class_names: list[str] | None = None,
    real: torch.Tensor | None = None,
    truth: dict[str, Any] | None = None,
    toy_points: int = 2000,
) -> Path:
    """The main figure of a generator: what it makes from the fixed latent batch."""
    shape = generator.shape
    if shape.kind == "points":
        z = latents(toy_points, generator.latent_dim, GRID_SEED)
        labels = torch.arange(toy_points) % shape.classes if shape.classes else None
        points = generate(generator, z, labels)
        return save_points(points, real if real is not None else torch.empty(0, 2), truth or {}, path, title)
    if shape.classes:
        z, labels = class_grid_inputs(shape.classes, side, generator.latent_dim)
        images = to_uint8(generate(generator, z, labels))
        names = class_names or [str(i) for i in range(shape.classes)]
        return save_class_grid(images, names, side, path, title)
    images = to_uint8(generate(generator, latents(side * side, generator.latent_dim, GRID_SEED)))
    return save_image(image_grid(images, side), path)


def interpolation_figure(generator: Generator, path: Path, rows: int, steps: int) -> Path:
    """Rows of images along great circles between random latents (labels fixed per row)."""
    z = interpolation_latents(rows, steps, generator.latent_dim, GRID_SEED + 1)
    labels = None
    if generator.shape.classes:
        labels = (torch.arange(rows) % generator.shape.classes).repeat_interleave(steps)
    images = to_uint8(generate(generator, z, labels))
    return save_image(image_grid(images, steps), path)
