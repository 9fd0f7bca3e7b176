"""Figures: image grids, class-by-row grids, interpolation strips, 2-D sample plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.core.io import atomic_path


def image_grid(images: torch.Tensor, nrow: int, padding: int = 2) -> Image.Image:
    """uint8 N×C×H×W images as one PIL image, `nrow` per row, on a white background (the
    layout of torchvision's make_grid, tiled here: importing torchvision costs each stage
    about 1.7 s)."""
    if images.ndim != 4 or images.shape[1] not in (1, 3) or not len(images):
        raise ValueError(f"expected N×C×H×W images with 1 or 3 channels, got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), 255, np.uint8)
    arr = images.permute(0, 2, 3, 1).numpy()
    for i in range(n):
        top, left = padding + (i // cols) * (h + padding), padding + (i % cols) * (w + padding)
        grid[top : top + h, left : left + w] = arr[i]
    return Image.fromarray(grid[..., 0] if c == 1 else grid)


def save_image(img: Image.Image, path: Path) -> Path:
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def _save(plt: Any, fig: Any, path: Path) -> Path:
    """Lay the figure out, write it as PNG atomically, and free it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def preload_figures() -> None:
    """Import matplotlib here, once (about 1 to 2 s on 2 cores), so that processes forked from
    this one to draw figures do not each import it again."""
    _figure()


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
    return _save(plt, fig, path)


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
    return _save(plt, fig, path)


def save_side_by_side(panels: list[tuple[str, Path]], path: Path, title: str) -> Path:
    """PNG images (e.g. every variant's grid of the same latent batch) in one row, titled."""
    plt = _figure()
    width = max(3.2 * len(panels), 0.09 * len(title))  # room for the title over a single panel
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.6), dpi=100, squeeze=False)
    for ax, (name, image) in zip(axes[0], panels, strict=True):
        with Image.open(image) as img:
            ax.imshow(np.asarray(img.convert("RGB")))
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, path)


def _plot_runs(ax: Any, runs: list[dict[str, list[float]]], key: str, colour: str) -> bool:
    """The mean over seeds of one curve as a line, each seed faintly; False if none has it."""
    series = [np.asarray(r[key]) for r in runs if r.get(key)]
    if not series:
        return False
    steps = np.asarray(runs[0]["step"])[: min(map(len, series))]
    stacked = np.stack([s[: len(steps)] for s in series])
    for one in stacked:
        ax.plot(steps, one, color=colour, alpha=0.2, lw=0.8)
    ax.plot(steps, stacked.mean(0), color=colour, lw=1.4, label=key)
    return True


def save_curves(curves: dict[str, list[dict[str, list[float]]]], path: Path, title: str) -> Path:
    """One row per variant: its D loss (left axis) and G loss (right axis) each on its own
    scale, and mean D(x), D(G(z)); the mean over its seeds as a line and each seed faintly.
    (Losses differ by orders of magnitude between variants, and between a feature-matching G
    and its D, so a shared axis would flatten all but one.)"""
    plt = _figure()
    rows = max(len(curves), 1)
    fig, axes = plt.subplots(rows, 2, figsize=(11, 2.4 * rows + 0.6), dpi=100, squeeze=False)
    for (variant, runs), (left, right) in zip(curves.items(), axes, strict=False):
        handles = []
        if _plot_runs(left, runs, "d_loss", "tab:blue"):
            handles += left.get_lines()[-1:]
        g_axis = left.twinx()
        if _plot_runs(g_axis, runs, "g_loss", "tab:orange"):
            handles += g_axis.get_lines()[-1:]
        left.set_ylabel(f"{variant}\nD loss", fontsize=8, color="tab:blue")
        g_axis.set_ylabel("G loss", fontsize=8, color="tab:orange")
        if handles:
            left.legend(handles=handles, fontsize=7, loc="best")
        for key, colour in (("d_real", "tab:green"), ("d_fake", "tab:red")):
            _plot_runs(right, runs, key, colour)
        if right.lines:
            right.legend(fontsize=7, loc="best")
        left.grid(alpha=0.3)
        right.grid(alpha=0.3)
        left.set_title("losses (each on its own axis)", fontsize=8)
        right.set_title("mean D(x) and D(G(z))", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, path)


def save_score_curves(
    curves: dict[str, list[tuple[list[float], list[float]]]], path: Path, title: str, label: str
) -> Path:
    """Validation score against step, one colour per variant: each seed's (steps, values)
    faintly and the mean over the seeds that reached each step as a line."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (variant, runs) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        by_step: dict[float, list[float]] = {}
        for steps, values in runs:
            ax.plot(steps, values, color=colour, alpha=0.25, lw=0.8)
            for step, value in zip(steps, values, strict=True):
                by_step.setdefault(step, []).append(value)
        if by_step:
            steps = sorted(by_step)
            ax.plot(steps, [float(np.mean(by_step[s])) for s in steps], color=colour, lw=1.6, marker="o",
                    ms=3, label=variant)  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel(label, fontsize=8)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="best")
    ax.set_title(title, fontsize=10)
    return _save(plt, fig, path)


def save_strips(values: dict[str, dict[str, list[float]]], path: Path, title: str) -> Path:
    """One panel per score: each variant's seeds as points, with their mean as a bar."""
    plt = _figure()
    fig, axes = plt.subplots(1, len(values), figsize=(3.6 * len(values), 3.4), dpi=100, squeeze=False)
    for ax, (label, arms) in zip(axes[0], values.items(), strict=True):
        for j, vals in enumerate(arms.values()):
            ax.scatter([j] * len(vals), vals, s=18, alpha=0.8)
            if vals:
                ax.hlines(np.mean(vals), j - 0.25, j + 0.25, color="k", lw=1.2)
        ax.set_xticks(range(len(arms)), labels=list(arms), rotation=30, ha="right", fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, path)


def _rgb(images: torch.Tensor) -> torch.Tensor:
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def save_translation_rows(panels: list[tuple[str, dict[str, torch.Tensor]]], path: Path, title: str) -> Path:
    """One panel per direction: a row per example, a column per named set of uint8 images
    (input | output | target | ...), the column names on top."""
    plt = _figure()
    grids = []
    for _, columns in panels:
        stacked = torch.stack([_rgb(images) for images in columns.values()], dim=1)  # N×K×3×H×W
        grids.append(np.asarray(image_grid(stacked.flatten(0, 1), len(columns))))
    width = max(g.shape[1] for g in grids) / 60 + 0.6
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(max(width * len(panels), 0.075 * len(title)), max(g.shape[0] for g in grids) / 60 + 0.9),
        dpi=100,
        squeeze=False,
    )
    for ax, (name, columns), grid in zip(axes[0], panels, grids, strict=True):
        ax.imshow(grid)
        cell = grid.shape[1] / len(columns)
        ax.set_xticks([cell * (i + 0.5) for i in range(len(columns))], labels=list(columns), fontsize=7)
        ax.xaxis.tick_top()
        ax.set_yticks([])
        ax.set_xlabel(name, fontsize=9)
    fig.suptitle(title, fontsize=9)
    return _save(plt, fig, path)
