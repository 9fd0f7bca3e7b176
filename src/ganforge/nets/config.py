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
    `dropout` and `noise` (dense discriminators: Gaussian noise of that σ on each layer's
    input while training, as the Improved-GAN discriminator), `norm` (batch, layer or none;
    None: the arch's default, and the arch decides which layers get it; `vbn`, virtual batch
    norm, for generators, with a reference batch of `vbn_reference` fixed latents), how a
    conditional net takes its label (`onehot` planes/vector, a learned `embedding` of
    `embedding_dim`, or, discriminators only, `projection`: a class embedding dotted with the
    features, added to the logit), `spectral_norm` on every layer, minibatch discrimination before a
    discriminator's head (`minibatch_kernels` B > 0 kernels of `minibatch_dims` C), and
    packing (PacGAN: the discriminator judges `pack` samples at once, all real or all
    generated; concatenated for the dense nets, stacked as channels for the DCGAN one).
    Image-to-image nets: `width` is the base channel count (ngf/ndf), `norm`
    may also be `instance`, `dropout` is the U-Net decoder's (its noise source) and the ResNet
    blocks', `layers` the PatchGAN's strided layers (None: the most whose receptive field fits
    the image) and `blocks` the ResNet generator's residual blocks (None: by image size)."""

    arch: str = "mlp"
    width: int = 64
    hidden: tuple[int, ...] | None = None
    dropout: float = 0.0
    noise: float = 0.0
    norm: Literal["batch", "instance", "layer", "none", "vbn"] | None = None
    label_mode: Literal["onehot", "embedding", "projection"] = "onehot"
    embedding_dim: int = 50
    spectral_norm: bool = False
    minibatch_kernels: int = 0
    minibatch_dims: int = 5
    vbn_reference: int = 64
    pack: int = 1
    layers: int | None = None
    blocks: int | None = None

    def __post_init__(self) -> None:
        if self.width < 1 or self.embedding_dim < 1:
            raise ValueError("width and embedding_dim must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.noise < 0:
            raise ValueError(f"noise must be 0 or more, got {self.noise}")
        if self.hidden is not None and (not self.hidden or min(self.hidden) < 1):
            raise ValueError("hidden must list positive layer sizes")
        if self.minibatch_kernels < 0 or self.minibatch_dims < 1 or self.vbn_reference < 1 or self.pack < 1:
            raise ValueError("minibatch_kernels must be 0 or more, minibatch_dims and vbn_reference positive")
        if self.layers is not None and not 1 <= self.layers <= 6:
            raise ValueError(f"layers must be between 1 and 6, got {self.layers}")
        if self.blocks is not None and self.blocks < 0:
            raise ValueError(f"blocks must be 0 or more, got {self.blocks}")


@dataclass(frozen=True)
class ImagePair:
    """What an image-to-image net maps: `in_channels` images to `out_channels` images, both
    size×size."""

    in_channels: int
    out_channels: int
    size: int


@dataclass(frozen=True)
class ModelConfig:
    """A generator and a discriminator (over a latent space of `latent_dim`, for the nets
    that take one). A system with two of each builds both from the same configs."""

    latent_dim: int = 100
    generator: NetConfig = field(default_factory=NetConfig)
    discriminator: NetConfig = field(default_factory=NetConfig)

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
