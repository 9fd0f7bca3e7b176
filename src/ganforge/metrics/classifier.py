"""Domain classifiers: a small CNN per labelled dataset, trained in the pipeline. Its
penultimate features give a domain Fréchet distance (the "Fréchet LeNet distance" idea) and
its class probabilities a domain Inception Score and mode coverage, where Inception's
weights cannot be had."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.config import from_dict
from ganforge.core.errors import DataError, MissingDataError
from ganforge.core.io import save_torch

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ClassifierConfig:
    """Training of a domain classifier: `holdout` is the fraction of the dataset kept out of
    training to measure its accuracy; random affine transforms augment the rest (shifts of
    up to `shift` pixels, rotations of up to `rotate` degrees, scaling by up to ±`scale`)."""

    epochs: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    holdout: float = 0.2
    shift: int = 2
    rotate: float = 10.0
    scale: float = 0.1
    width: int = 32
    feature_dim: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.width < 1 or self.feature_dim < 1:
            raise ValueError("epochs, batch_size, width and feature_dim must be positive")
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"holdout must be between 0 and 1, got {self.holdout}")
        if self.lr <= 0 or min(self.weight_decay, self.shift, self.rotate, self.scale) < 0:
            raise ValueError("lr must be positive; weight_decay, shift, rotate and scale 0 or more")


class DomainCNN(nn.Module):
    """(conv 3×3, batch norm, ReLU, 2×2 max pool) × 3 at width, 2·width, 2·width → 4×4
    average pool → `feature_dim` features (ReLU) → class logits."""

    def __init__(self, channels: int, classes: int, width: int = 32, feature_dim: int = 128) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
                nn.MaxPool2d(2),
            ]

        self.body = nn.Sequential(
            *block(channels, width),
            *block(width, 2 * width),
            *block(2 * width, 2 * width),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(2 * width * 16, feature_dim),
            nn.ReLU(True),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images → the classifier's float input in [-1, 1]."""
    return images.float().mul(2.0 / 255.0).sub(1.0)


def holdout_split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the training part and of the held-out part (a seeded permutation)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held = max(1, round(n * fraction))
    return perm[held:].sort().values, perm[:held].sort().values


def augment(x: torch.Tensor, cfg: ClassifierConfig, gen: torch.Generator) -> torch.Tensor:
    """Random small affine transforms (rotation, scale, shift), as is usual for digit data."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * cfg.rotate * torch.pi / 180
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * cfg.scale
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * cfg.shift / x.shape[-1])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


@torch.no_grad()
def accuracy(model: DomainCNN, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = model(to_input(images[i : i + batch_size]))
        correct += int((logits.argmax(1) == labels[i : i + batch_size]).sum())
    return correct / max(len(images), 1)


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: int,
    cfg: ClassifierConfig,
    log: Callable[[str], None] | None = None,
) -> tuple[DomainCNN, dict[str, Any]]:
    """Train on the training part of (images, labels), score on the held-out part."""
    if len(images) < 10:
        raise DataError(f"a domain classifier needs at least 10 labelled images, got {len(images)}")
    torch.manual_seed(cfg.seed)
    train_idx, held_idx = holdout_split(len(images), cfg.holdout, cfg.seed)
    # channels_last: oneDNN's fast layout for these 3×3 convolutions (benchmarks/classifier_training.py)
    model = DomainCNN(images.shape[1], classes, cfg.width, cfg.feature_dim)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(train_idx) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    x_train, y_train = images[train_idx], labels[train_idx]
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        for step in range(steps_per_epoch):
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            x = augment(to_input(x_train[idx]), cfg, gen).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if log is not None:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {loss.item():.4f}")
    model.eval()
    report = {
        "train_examples": len(train_idx),
        "heldout_examples": len(held_idx),
        "train_accuracy": accuracy(model, x_train, y_train),
        "heldout_accuracy": accuracy(model, images[held_idx], labels[held_idx]),
    }
    return model, report


def save_classifier(
    path: Path,
    model: DomainCNN,
    cfg: ClassifierConfig,
    channels: int,
    classes: list[str],
    image_size: int,
    report: dict[str, Any],
) -> None:
    save_torch(
        {
            "format": FORMAT_VERSION,
            "config": dataclasses.asdict(cfg),
            "channels": channels,
            "class_names": classes,
            "image_size": image_size,
            "report": report,
            "state_dict": model.state_dict(),
        },
        path,
    )


def load_classifier(path: Path) -> tuple[DomainCNN, dict[str, Any]]:
    """A saved classifier in eval mode, and its description (classes, image size, report)."""
    if not path.is_file():
        raise MissingDataError(f"no domain classifier at {path}: run its evaluator stage first")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise DataError(f"{path} is not a ganforge domain classifier")
    cfg = from_dict(ClassifierConfig, state["config"], str(path))
    model = DomainCNN(state["channels"], len(state["class_names"]), cfg.width, cfg.feature_dim)
    model.load_state_dict(state["state_dict"])
    return model.eval(), {k: v for k, v in state.items() if k not in ("state_dict", "format")}
