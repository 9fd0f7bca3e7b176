"""The two interfaces every GAN network implements, and the label input of conditional nets."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.nets.config import DataShape, NetConfig
from ganforge.nets.improved import MinibatchDiscrimination

VBN_SEED = 31415  # the fixed reference latents of virtual batch norm


class LabelInput(nn.Module):
    """A class label as an input vector: one-hot (`classes` wide) or a learned embedding."""

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
    """Maps latent vectors (and labels, when conditional) to samples of `shape`. Subclasses
    implement `generate`. With virtual batch norm, a fixed reference batch of latents is put
    in front of every input (and its outputs dropped), so each VBN layer sees it."""

    def __init__(self, latent_dim: int, shape: DataShape, cfg: NetConfig) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = shape
        if shape.classes and cfg.label_mode == "projection":
            raise ConfigError(
                "label_mode 'projection' is for discriminators; a generator takes 'onehot' or 'embedding'"
            )
        self.label = LabelInput(shape.classes, cfg) if shape.classes else None
        self.reference = cfg.vbn_reference if cfg.norm == "vbn" else 0
        if self.reference:
            gen = torch.Generator().manual_seed(VBN_SEED)
            self.register_buffer("z_ref", torch.randn(self.reference, latent_dim, generator=gen))
            classes = max(shape.classes, 1)
            self.register_buffer("labels_ref", torch.arange(self.reference) % classes)

    def latent_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z with the label vector appended (conditional nets)."""
        if self.label is None or labels is None:
            return z
        return torch.cat([z, self.label(labels, z.dtype)], dim=1)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(self.shape, labels, "generator")
        if not self.reference:
            return self.generate(z, labels)
        z_all = torch.cat([self.z_ref.to(z.dtype), z])
        labels_all = torch.cat([self.labels_ref, labels]) if labels is not None else None
        return self.generate(z_all, labels_all)[self.reference :]


class Discriminator(nn.Module):
    """Scores samples (and labels, when conditional) with one logit each. `features` gives
    the penultimate representation; minibatch discrimination (when on) appends its outputs to
    it, and `head` turns the result into the logit. A conditional net takes its label as an
    input vector (`label`), or, with label_mode `projection`, adds the inner product of a
    learned class embedding with the features to the logit (Miyato & Koyama's projection
    discriminator)."""

    head: nn.Module

    def __init__(self, shape: DataShape, cfg: NetConfig) -> None:
        super().__init__()
        self.shape = shape
        self.cfg = cfg
        projection = bool(shape.classes) and cfg.label_mode == "projection"
        self.label = LabelInput(shape.classes, cfg) if shape.classes and not projection else None
        self.projection: nn.Embedding | None = None
        self.minibatch: MinibatchDiscrimination | None = None

    def make_head(self, feature_dim: int) -> None:
        """The minibatch-discrimination layer (if any) and the linear head on `feature_dim` features."""
        extra = 0
        if self.cfg.minibatch_kernels:
            self.minibatch = MinibatchDiscrimination(
                feature_dim, self.cfg.minibatch_kernels, self.cfg.minibatch_dims
            )
            extra = self.cfg.minibatch_kernels
        self.head = nn.Linear(feature_dim + extra, 1)
        if self.shape.classes and self.cfg.label_mode == "projection":
            self.projection = nn.Embedding(self.shape.classes, feature_dim + extra)
            nn.init.normal_(self.projection.weight, 0.0, 0.02)

    def check_labels(self, labels: torch.Tensor | None) -> None:
        _check_labels(self.shape, labels, "discriminator")

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x, labels)
        if self.minibatch is not None:
            h = torch.cat([h, self.minibatch(h)], dim=1)
        logit = self.head(h).squeeze(1)
        if self.projection is not None and labels is not None:
            logit = logit + (self.projection(labels).to(h.dtype) * h).sum(1)
        return logit


@runtime_checkable
class GrowingNet(Protocol):
    """A net that grows (see `ganforge.nets.progan`): it holds `levels` resolutions from 4×4
    and trains at the one the trainer's schedule sets."""

    levels: int

    def set_growth(self, level: int, alpha: float) -> None: ...


def require_kind(arch: str, shape: DataShape, kind: str, hint: str) -> None:
    if shape.kind != kind:
        raise ConfigError(f"arch {arch!r} models {kind}, but the dataset holds {shape.kind}: {hint}")
