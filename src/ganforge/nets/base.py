"""The two interfaces every GAN network implements, and the label input of conditional nets."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.config import DataShape, NetConfig


class LabelInput(nn.Module):
    """A class label as a vector: one-hot (`classes` wide) or a learned embedding."""

    def __init__(self, classes: int, cfg: NetConfig) -> None:
        super().__init__()
        self.classes = classes
        self.embedding = nn.Embedding(classes, cfg.embedding_dim) if cfg.label_mode == "embedding" else None
        self.dim = cfg.embedding_dim if self.embedding is not None else classes

    def forward(self, labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.embedding is not None:
            return self.embedding(labels).to(dtype)
        return nn.functional.one_hot(labels, self.classes).to(dtype)


def _check_labels(shape: DataShape, labels: torch.Tensor | None, who: str) -> None:
    if shape.classes and labels is None:
        raise ValueError(f"this {who} is conditional: pass the class labels")
    if not shape.classes and labels is not None:
        raise ValueError(f"this {who} is unconditional: it takes no labels")


class Generator(nn.Module):
    """Maps latent vectors (and labels, when conditional) to samples of `shape`."""

    def __init__(self, latent_dim: int, shape: DataShape, cfg: NetConfig) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = shape
        self.label = LabelInput(shape.classes, cfg) if shape.classes else None

    def latent_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z with the label vector appended (conditional nets)."""
        _check_labels(self.shape, labels, "generator")
        if self.label is None or labels is None:
            return z
        return torch.cat([z, self.label(labels, z.dtype)], dim=1)


class Discriminator(nn.Module):
    """Scores samples (and labels, when conditional) with one logit each. `features` gives
    the penultimate representation that `head` turns into the logit."""

    head: nn.Module

    def __init__(self, shape: DataShape, cfg: NetConfig) -> None:
        super().__init__()
        self.shape = shape
        self.label = LabelInput(shape.classes, cfg) if shape.classes else None

    def check_labels(self, labels: torch.Tensor | None) -> None:
        _check_labels(self.shape, labels, "discriminator")

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, labels)).squeeze(1)


def require_kind(arch: str, shape: DataShape, kind: str, hint: str) -> None:
    if shape.kind != kind:
        raise ConfigError(f"arch {arch!r} models {kind}, but the dataset holds {shape.kind}: {hint}")
