"""Typed configs of the networks, and the shape of the data they model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class DataShape:
    """What a generator must produce: images C×size×size, or points of `dim` coordinates;
    `classes` > 0 when the models are conditioned on a class label."""

    kind: Literal["images", "points"]
    channels: int = 1
    size: int = 0
    dim: int = 2
    classes: int = 0

    @property
    def numel(self) -> int:
        return self.channels * self.size * self.size if self.kind == "images" else self.dim


@dataclass(frozen=True)
class NetConfig:
    """One network. `arch` names a builder (mlp, dcgan, toy); the rest are its options:
    `width` (DCGAN base channels), `hidden` (MLP layer sizes, None: the arch default),
    `dropout` (discriminators), `norm` (batch, layer or none; None: the arch's default, and
    the arch decides which layers get it), and how a conditional net takes its label
    (`onehot` planes/vector, or a learned `embedding` of `embedding_dim`)."""

    arch: str = "mlp"
    width: int = 64
    hidden: tuple[int, ...] | None = None
    dropout: float = 0.0
    norm: Literal["batch", "layer", "none"] | None = None
    label_mode: Literal["onehot", "embedding"] = "onehot"
    embedding_dim: int = 50

    def __post_init__(self) -> None:
        if self.width < 1 or self.embedding_dim < 1:
            raise ValueError("width and embedding_dim must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.hidden is not None and (not self.hidden or min(self.hidden) < 1):
            raise ValueError("hidden must list positive layer sizes")


@dataclass(frozen=True)
class ModelConfig:
    """A generator and a discriminator over a latent space of `latent_dim`."""

    latent_dim: int = 100
    generator: NetConfig = field(default_factory=NetConfig)
    discriminator: NetConfig = field(default_factory=NetConfig)

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
