"""Networks by architecture name: what `arch:` in a variant's `model:` block may say. Latent
generators and their discriminators (`GENERATORS`, `DISCRIMINATORS`; `progan` nets grow under
the trainer's schedule), image-to-image generators (`TRANSLATORS`) and patch discriminators
(`PATCH_DISCRIMINATORS`). An unknown name is an error listing the known ones of that kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import nn

from ganforge.core.errors import ConfigError, unknown_name
from ganforge.nets.base import Discriminator, Generator
from ganforge.nets.config import DataShape, ImagePair, ModelConfig, NetConfig
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets.improved import apply_spectral_norm
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator, ToyDiscriminator, ToyGenerator
from ganforge.nets.progan import ProGANDiscriminator, ProGANGenerator
from ganforge.nets.translation import PatchDiscriminator, ResnetGenerator, Translator, UNetGenerator

GENERATORS: Mapping[str, Callable[[int, DataShape, NetConfig], Generator]] = {
    "mlp": MLPGenerator,
    "dcgan": DCGANGenerator,
    "progan": ProGANGenerator,
    "toy": ToyGenerator,
}
DISCRIMINATORS: Mapping[str, Callable[[DataShape, NetConfig], Discriminator]] = {
    "mlp": MLPDiscriminator,
    "dcgan": DCGANDiscriminator,
    "progan": ProGANDiscriminator,
    "toy": ToyDiscriminator,
}
TRANSLATORS: Mapping[str, Callable[[ImagePair, NetConfig], Translator]] = {
    "unet": UNetGenerator,
    "resnet": ResnetGenerator,
}
PATCH_DISCRIMINATORS: Mapping[str, Callable[[int, int, NetConfig], nn.Module]] = {
    "patchgan": PatchDiscriminator,
}


def _lookup(table: Mapping[str, Callable[..., nn.Module]], arch: str, kind: str) -> Callable[..., nn.Module]:
    if arch not in table:
        raise unknown_name(kind, arch, list(table))
    return table[arch]


def _spectral(net: nn.Module, cfg: NetConfig) -> nn.Module:
    return apply_spectral_norm(net) if cfg.spectral_norm else net


def build_generator(model: ModelConfig, shape: DataShape) -> Generator:
    """A latent generator: z (and a label) to samples of `shape`."""
    cfg = model.generator
    net = _lookup(GENERATORS, cfg.arch, "generator arch")(model.latent_dim, shape, cfg)
    return _spectral(net, cfg)  # type: ignore[return-value]


def build_discriminator(model: ModelConfig, shape: DataShape) -> Discriminator:
    """The discriminator of a latent GAN: one logit per sample (or per pack)."""
    cfg = model.discriminator
    builder = _lookup(DISCRIMINATORS, cfg.arch, "discriminator arch")
    if cfg.norm == "vbn":
        raise ConfigError("virtual batch norm is for generators; use batch, layer or none in a discriminator")
    return _spectral(builder(shape, cfg), cfg)  # type: ignore[return-value]


def build_translator(cfg: NetConfig, pair: ImagePair) -> Translator:
    """An image-to-image generator."""
    return _spectral(_lookup(TRANSLATORS, cfg.arch, "translator arch")(pair, cfg), cfg)  # type: ignore[return-value]


def build_patch_discriminator(cfg: NetConfig, in_channels: int, size: int) -> nn.Module:
    """A discriminator that scores patches of `in_channels` images of `size` px."""
    builder = _lookup(PATCH_DISCRIMINATORS, cfg.arch, "patch discriminator arch")
    return _spectral(builder(in_channels, size, cfg), cfg)


def arch_is_convolutional(model: ModelConfig) -> bool:
    """Whether a model config names a convolutional generator or discriminator (channels_last
    pays off for those), read from the registered classes."""
    tables = (GENERATORS, DISCRIMINATORS, TRANSLATORS, PATCH_DISCRIMINATORS)
    return any(
        getattr(table.get(cfg.arch), "convolutional", False)
        for table in tables
        for cfg in (model.generator, model.discriminator)
    )
