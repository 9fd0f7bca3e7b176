"""Generators and discriminators by architecture name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ganforge.errors import ConfigError, unknown_name
from ganforge.nets.base import Discriminator, Generator
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets.improved import apply_spectral_norm
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator, ToyDiscriminator, ToyGenerator

GENERATORS: Mapping[str, Callable[[int, DataShape, NetConfig], Generator]] = {
    "mlp": MLPGenerator,
    "dcgan": DCGANGenerator,
    "toy": ToyGenerator,
}
DISCRIMINATORS: Mapping[str, Callable[[DataShape, NetConfig], Discriminator]] = {
    "mlp": MLPDiscriminator,
    "dcgan": DCGANDiscriminator,
    "toy": ToyDiscriminator,
}


def build_generator(model: ModelConfig, shape: DataShape) -> Generator:
    arch = model.generator.arch
    if arch not in GENERATORS:
        raise unknown_name("generator arch", arch, list(GENERATORS))
    net = GENERATORS[arch](model.latent_dim, shape, model.generator)
    return apply_spectral_norm(net) if model.generator.spectral_norm else net


def build_discriminator(model: ModelConfig, shape: DataShape) -> Discriminator:
    arch = model.discriminator.arch
    if arch not in DISCRIMINATORS:
        raise unknown_name("discriminator arch", arch, list(DISCRIMINATORS))
    if model.discriminator.norm == "vbn":
        raise ConfigError("virtual batch norm is for generators; use batch, layer or none in a discriminator")
    net = DISCRIMINATORS[arch](shape, model.discriminator)
    return apply_spectral_norm(net) if model.discriminator.spectral_norm else net


__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "DataShape",
    "Discriminator",
    "Generator",
    "ModelConfig",
    "NetConfig",
    "build_discriminator",
    "build_generator",
]
