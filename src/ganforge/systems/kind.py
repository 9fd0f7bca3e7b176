"""The plugin contract: what every stage needs from a kind of system, in one place. A kind
builds its system (nets, optimizers, samplers) from a variant and its dataset, rebuilds its
generators from what was saved, draws what the sample stage stores for evaluation, and draws
its figures. Adding a system is one module implementing `SystemKind` plus a registry entry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ganforge.core.batches import BatchSampler
from ganforge.core.device import Placement
from ganforge.core.errors import ConfigError
from ganforge.core.seeds import RunRandom
from ganforge.data.prepared import PreparedDataset
from ganforge.sampling import EVAL_SEED, SampleConfig
from ganforge.train.contract import AdversarialSystem
from ganforge.variants import Variant
from ganforge.variants.system_options import SystemOptions

Nets = Mapping[str, nn.Module]


@dataclass
class RunSetup:
    """What a system is built from: the variant, its dataset, where it computes, the run's
    random sources and seed."""

    variant: Variant
    data: PreparedDataset
    placement: Placement
    random: RunRandom
    seed: int


@dataclass
class Built:
    """A built system, the sampler of its main batches, and `spec`: the JSON description
    (shapes, classes) that rebuilds its generators for sampling."""

    system: AdversarialSystem
    sampler: BatchSampler
    spec: dict[str, Any]


@dataclass
class RunContext:
    """A trained run's setting when it is sampled: variant, generator spec and dataset."""

    variant: Variant
    spec: dict[str, Any]
    data: PreparedDataset


class SystemKind(ABC):
    name: ClassVar[str]
    options: ClassVar[type[SystemOptions]]
    """Its options dataclass (the variant's `system:` block), defined in its own module."""
    data_kinds: ClassVar[tuple[str, ...]]
    """Which kinds of prepared dataset it trains on."""

    def check_data(self, variant: Variant, data: PreparedDataset) -> None:
        if data.kind not in self.data_kinds:
            raise ConfigError(
                f"variant {variant.name}: system {self.name!r} trains on {' or '.join(self.data_kinds)} "
                f"data, but dataset {data.name!r} holds {data.kind}"
            )

    @abstractmethod
    def produces(self, spec: Mapping[str, Any]) -> str:
        """What its generators make, for the tools that use a trained model: "images" or
        "points" (from latents, `generator` the net), or "translations" (see `routes`)."""

    def latent_dim(self, variant: Variant) -> int:
        """The size of the latent its generators decode (0: it translates images instead)."""
        return 0

    def decode(
        self,
        nets: Nets,
        spec: Mapping[str, Any],
        z: torch.Tensor,
        labels: torch.Tensor | None,
        batch_size: int,
    ) -> torch.Tensor:
        """What one saved set of its generators makes from latents `z` (and class `labels`),
        as the tools serve it: uint8 images or float points, one batch of `batch_size` at a time."""
        raise ConfigError(f"a {self.name} system translates images: use translate, not generate")

    def translate(
        self, nets: Nets, variant: Variant, spec: Mapping[str, Any], images: torch.Tensor, direction: str
    ) -> torch.Tensor:
        """uint8 images of `direction`'s source domain, translated by one saved set of its
        generators into uint8 images at the run's size (`routes` names the directions)."""
        raise ConfigError(f"a {self.name} system does not translate images: use generate")

    def routes(self, variant: Variant) -> dict[str, tuple[str, str | None]]:
        """For each direction it translates ("a2b", "b2a"), the generator that does it and the
        one that translates back (None when there is none); empty for latent systems."""
        return {}

    @abstractmethod
    def build(self, setup: RunSetup) -> Built:
        """Nets, optimizers and samplers of a run (the nets initialised from the run's seed)."""

    @abstractmethod
    def generators(self, variant: Variant, spec: Mapping[str, Any]) -> dict[str, nn.Module]:
        """Freshly built generators, by the names `AdversarialSystem.averaged` gives, to load
        saved weights into."""

    @abstractmethod
    def draw(
        self, nets: Mapping[str, Nets], run: RunContext, cfg: SampleConfig, seed: int, stream: int = EVAL_SEED
    ) -> dict[str, Any]:
        """What the sample stage stores for evaluation, from each saved set of generators
        (`nets["raw"]`, `nets["ema"]`): a dict of tensors and plain values with a `kind`.
        Latents of run `seed` come from the random stream `stream + seed`: `EVAL_SEED` for
        the evaluation samples, `VALIDATION_SEED` for the in-training scores (never the same)."""

    @abstractmethod
    def figures(
        self,
        nets: Nets,
        run: RunContext,
        cfg: SampleConfig,
        folder: Path,
        title: str,
        suffix: str = "",
        main_only: bool = False,
    ) -> list[Path]:
        """Draw the figures of one set of generators into `folder` (file names end with
        `suffix`); the main figure first (the only one with `main_only`)."""
