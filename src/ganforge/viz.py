"""Figures: image grids, class-by-row grids, interpolation strips, 2-D sample plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.io import atomic_path


def image_grid(images: torch.Tensor, nrow: int, padding: int = 2) -> Image.Image:
    """uint8 N×C×H×W images as one PIL image, `nrow` per row."""
    from torchvision.utils import make_grid

    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=255)
    arr = grid.permute(1, 2, 0).numpy()
    return Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)


def save_image(img: Image.Image, path: Path) -> Path:
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_class_grid(
    images: torch.Tensor, class_names: Sequence[str], per_class: int, path: Path, title: str
) -> Path:
    """One row per class, labelled with the class name."""
    plt = _figure()
    grid = np.asarray(image_grid(images, per_class))
    fig, ax = plt.subplots(figsize=(per_class * 0.8 + 1.6, len(class_names) * 0.8 + 0.6), dpi=100)
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255)
    cell = grid.shape[0] / len(class_names)
    ax.set_yticks([cell * (i + 0.5) for i in range(len(class_names))], labels=list(class_names), fontsize=8)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def save_points(
    samples: torch.Tensor, real: torch.Tensor, truth: dict[str, Any], path: Path, title: str
) -> Path:
    """Generated points over the real distribution, with the true modes (or circle) marked."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.75", alpha=0.5, label="real", rasterized=True)
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:red", alpha=0.5, label="generated", rasterized=True)
    if truth.get("type") == "gaussian_mixture":
        means = np.asarray(truth["means"])
        ax.scatter(means[:, 0], means[:, 1], marker="x", c="k", s=30, label="true modes")
    elif truth.get("type") == "circle":
        theta = np.linspace(0, 2 * np.pi, 200)
        r = truth["radius"]
        ax.plot(r * np.cos(theta), r * np.sin(theta), "k--", lw=0.8, label="true circle")
    lim = float(torch.cat([real, samples]).abs().quantile(0.995)) * 1.15 if len(samples) else 1.0
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title)
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
