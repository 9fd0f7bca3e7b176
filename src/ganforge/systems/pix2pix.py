"""`pix2pix` (Isola et al.): a U-Net (or any translator) G and a PatchGAN D that judges
(input, output) pairs. G minimises gan_weight·adversarial + l1_weight·L1 to the target; D's
loss is halved, as in the reference. With gan_weight 0 it is the L1 regression alone (no D)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ganforge.augment.config import AugmentConfig
from ganforge.augment.ops import diff_augment
from ganforge.core.batches import Batch, BatchSampler
from ganforge.losses import AdversarialLoss, get_loss
from ganforge.nets.config import ImagePair
from ganforge.nets.registry import build_patch_discriminator, build_translator
from ganforge.systems.kind import Built, RunSetup
from ganforge.systems.translation import (
    DIRECTIONS,
    TranslationKind,
    augment,
    check_jitter,
    domains,
    halved_discriminator_loss,
    image_batches,
    model_channels,
    pix2pix_generator_loss,
)
from ganforge.train.config import TrainConfig
from ganforge.train.contract import (
    AdversarialSystem,
    Phase,
    autocast,
    backward_step,
    d_outputs,
    frozen,
    make_optimizer,
    to_channels_last,
)
from ganforge.variants import Variant
from ganforge.variants.system_options import SystemOptions


@dataclass(frozen=True)
class Pix2PixOptions(SystemOptions):
    """pix2pix (Isola et al.): a conditional GAN on aligned pairs, translating `direction`
    (a2b: domain a to domain b). G minimises `gan_weight`·adversarial + `l1_weight`·L1 to the
    target; D sees (input, output) pairs and its loss is halved. `gan_weight` 0 is the L1
    regression alone (no discriminator). Augmentation, as the reference: `jitter` enlarges by
    that fraction then crops back at random (0.117 is 286/256), `flip` mirrors at random; the
    same transform for both images of a pair. `sampling` is how G translates for evaluation,
    figures and serving: `eval` (dropout off, batch norm's running statistics) or `train`
    (dropout on, each batch's own statistics, as the reference's test script runs by default;
    seeded, 200 images a batch): the choice moves the reference's FD by a factor of 2.6."""

    train_options: ClassVar[frozenset[str]] = frozenset({"loss", "real_label", "d_steps"})
    augments: ClassVar[bool] = True
    kind: Literal["pix2pix"] = "pix2pix"
    direction: Literal["a2b", "b2a"] = "a2b"
    l1_weight: float = 100.0
    gan_weight: float = 1.0
    jitter: float = 0.0
    flip: bool = False
    sampling: Literal["eval", "train"] = "eval"

    def __post_init__(self) -> None:
        if self.l1_weight < 0 or self.gan_weight < 0 or self.l1_weight + self.gan_weight == 0:
            raise ValueError("l1_weight and gan_weight must be 0 or more, and not both 0")
        check_jitter(self.jitter)


class Pix2PixSystem(AdversarialSystem):
    """Batches carry aligned `source` and `target` images."""

    def __init__(
        self,
        g: nn.Module,
        d: nn.Module | None,
        loss: AdversarialLoss,
        options: Pix2PixOptions,
        cfg: TrainConfig,
        device: torch.device,
        augmentation: torch.Generator,
        amp_dtype: torch.dtype | None = None,
        sources: torch.Tensor | None = None,
        augment: AugmentConfig | None = None,
    ) -> None:
        self.g, self.d = g.to(device), d.to(device) if d is not None else None
        self.loss, self.options, self.cfg, self.device = loss, options, cfg, device
        self.probabilities = loss.probabilities
        self.augmentation, self.amp_dtype = augmentation, amp_dtype
        self.sources = sources  # the training inputs (uint8), for standing statistics
        self.augment = augment if augment is not None and augment.policy else None
        self.modules = {"generator": self.g}
        self.optimizers = {"generator": make_optimizer(list(self.g.parameters()), cfg.generator_lr, cfg)}
        if self.d is not None:
            self.modules["discriminator"] = self.d
            self.optimizers["discriminator"] = make_optimizer(
                list(self.d.parameters()), cfg.discriminator_lr, cfg
            )
        self._pair: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None

    def averaged(self) -> dict[str, nn.Module]:
        return {"generator": self.modules["generator"]}

    def phases(self) -> list[Phase]:
        if self.d is None:
            return [Phase("generator")]
        return [Phase("discriminator", self.cfg.d_steps), Phase("generator", 1, draws_batch=False)]

    def _inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        pair = {"source": batch["source"], "target": batch["target"]}
        if self.options.jitter or self.options.flip:
            pair = augment(pair, self.options.jitter, self.options.flip, self.augmentation, self.shard)
        return pair["source"], pair["target"]

    def step(self, phase: str, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        if phase == "discriminator":
            return self._discriminator_step(batch, diagnose)
        if phase == "generator":
            return self._generator_step(batch, diagnose)
        raise ValueError(f"unknown phase {phase!r}")

    def _discriminator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        assert self.d is not None
        source, target = self._inputs(batch)
        reuse = self.cfg.d_steps == 1  # G's step reuses this forward, as the reference does
        with autocast(self.device, self.amp_dtype):
            with torch.set_grad_enabled(reuse):
                fake = self.g(source)
            self._pair = (source, target, fake) if reuse else None
            real_logits = self.d(self.seen(torch.cat([source, target], 1))).float()
            fake_logits = self.d(self.seen(torch.cat([source, fake.detach()], 1))).float()
            loss = halved_discriminator_loss(self.loss, real_logits, fake_logits, self.cfg.real_label)
        out = {"d_loss": loss.detach()}
        backward_step(
            self.optimizers["discriminator"], loss, (self.d,), out if diagnose else None, "grad_norm_d"
        )
        if diagnose:
            out.update(d_outputs(real_logits, fake_logits, self.loss.probabilities))
        return out

    def _generator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        if self._pair is not None:
            source, target, fake = self._pair
            self._pair = None
        else:
            source, target = self._inputs(batch)
            fake = None
        nets = (self.d,) if self.d is not None else ()
        with frozen(*nets), autocast(self.device, self.amp_dtype):
            if fake is None:
                fake = self.g(source)
            judged = self.d is not None and self.options.gan_weight
            logits = self.d(self.seen(torch.cat([source, fake], 1))) if judged else None  # type: ignore[misc]
            loss, parts = pix2pix_generator_loss(
                self.loss, logits, fake, target, self.options.l1_weight, self.options.gan_weight
            )
            out = {k: v.detach() for k, v in parts.items()}
            out["g_loss"] = loss.detach()
            backward_step(
                self.optimizers["generator"], loss, (self.g,), out if diagnose else None, "grad_norm_g"
            )
        return out

    def seen(self, pair: torch.Tensor) -> torch.Tensor:
        """A (source, output) pair as D sees it: through the variant's DiffAugment policy when
        it has one, the same transform for both halves (they are channels of one image)."""
        if self.augment is None:
            return pair
        return diff_augment(pair, self.augment, self.augmentation, self.shard)

    def standing_batches(
        self, name: str, batches: int, batch_size: int, generator: torch.Generator
    ) -> list[tuple[torch.Tensor | None, ...]]:
        if self.sources is None:
            raise NotImplementedError
        return image_batches(self.sources, batches, batch_size, generator)

    def extra_state(self) -> dict[str, Any]:
        return {"augmentation": self.augmentation.get_state()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.augmentation.set_state(state["augmentation"])

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"generator": type(self.g).__name__}
        if hasattr(self.g, "dropout_levels"):
            info["unet"] = {"levels": self.g.levels, "dropout_levels": self.g.dropout_levels}
        if self.d is not None and hasattr(self.d, "receptive_field"):
            info["patchgan"] = {
                "layers": self.d.layers,
                "receptive_field": self.d.receptive_field,
                "patches": f"{self.d.output_size}×{self.d.output_size}",
            }
        return info


class Pix2PixKind(TranslationKind):
    name = "pix2pix"
    options = Pix2PixOptions
    data_kinds = ("paired",)

    def routes(self, variant: Variant) -> dict[str, tuple[str, str | None]]:
        return {variant.system.direction: ("generator", None)}  # type: ignore[union-attr]

    def _pair(self, variant: Variant, spec: Mapping[str, Any]) -> ImagePair:
        src, dst = DIRECTIONS[variant.system.direction]  # type: ignore[union-attr]
        channels = spec["model_channels"]
        return ImagePair(channels[src], channels[dst], spec["size"])

    def generators(self, variant: Variant, spec: Mapping[str, Any]) -> dict[str, nn.Module]:
        return {"generator": build_translator(variant.model.generator, self._pair(variant, spec))}

    def build(self, setup: RunSetup) -> Built:
        variant, data, placement = setup.variant, setup.data, setup.placement
        options: Pix2PixOptions = variant.system  # type: ignore[assignment]
        self.check_data(variant, data)
        doms, size = domains(variant, data)
        spec = {"size": size, "model_channels": model_channels(data, same=False)}
        pair = self._pair(variant, spec)
        g = build_translator(variant.model.generator, pair)
        d = None
        if options.gan_weight > 0:
            d = build_patch_discriminator(
                variant.model.discriminator, pair.in_channels + pair.out_channels, size
            )
        to_channels_last(placement.channels_last, *(n for n in (g, d) if n is not None))
        cfg = variant.train
        system = Pix2PixSystem(
            g,
            d,
            get_loss(cfg.loss),
            options,
            cfg,
            placement.device,
            torch.Generator().manual_seed(setup.seed + 11),
            placement.amp_dtype,
            augment=variant.augment,
        )
        src, dst = DIRECTIONS[options.direction]
        train = doms["a"].trained  # paired: one mask
        system.sources = doms[src].images[train].to(placement.device)
        sampler = BatchSampler(
            {"source": doms[src].images[train], "target": doms[dst].images[train]},
            cfg.batch_size,
            setup.random.data,
            placement.device,
            placement.channels_last,
        )
        return Built(system, sampler, spec)
