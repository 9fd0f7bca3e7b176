"""`cyclegan` (Zhu et al.): generators a→b and b→a, a PatchGAN per domain, the adversarial
loss of the variant (least squares in the paper), cycle consistency λ·|F(G(a)) − a| each way,
the identity loss identity_weight·λ·|G(b) − b|, one optimizer over both generators and one over
both discriminators, and a pool of past fakes per discriminator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ganforge.core.batches import Batch, BatchSampler
from ganforge.losses import AdversarialLoss, get_loss
from ganforge.nets.config import ImagePair
from ganforge.nets.registry import build_patch_discriminator, build_translator
from ganforge.systems.kind import Built, RunSetup
from ganforge.systems.translation import (
    TranslationKind,
    augment,
    check_jitter,
    cyclegan_generator_loss,
    domains,
    halved_discriminator_loss,
    image_batches,
    model_channels,
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
    parameters,
    to_channels_last,
)
from ganforge.variants import Variant
from ganforge.variants.system_options import SystemOptions


@dataclass(frozen=True)
class CycleGanOptions(SystemOptions):
    """CycleGAN (Zhu et al.) on unpaired domains: generators a→b and b→a, a discriminator per
    domain, cycle-consistency weight `cycle_weight` (λ) each way, identity loss
    `identity_weight`·λ (0 turns it off), and a pool of the last `pool_size` generated images
    per discriminator. `gan_weight` weighs each generator's adversarial term: ganforge's
    least-squares generator loss is LSGAN's ½(D(G(x)) − 1)², so 2 gives the paper's
    (D(G(x)) − 1)² against the same λ. Augmentation as in `Pix2PixOptions`, drawn per domain."""

    train_options: ClassVar[frozenset[str]] = frozenset({"loss", "real_label"})  # one D step per G step
    kind: Literal["cyclegan"] = "cyclegan"
    gan_weight: float = 1.0
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    pool_size: int = 50
    jitter: float = 0.0
    flip: bool = False

    def __post_init__(self) -> None:
        if min(self.gan_weight, self.cycle_weight, self.identity_weight, self.pool_size) < 0:
            raise ValueError("gan_weight, cycle_weight, identity_weight and pool_size must be 0 or more")
        check_jitter(self.jitter)


class ImagePool:
    """The last generated images a discriminator is shown (Shrivastava et al.): until `size`
    images are stored, each new image is stored and returned; after that, each new image is,
    with probability 0.5, swapped for a random stored one (which is returned instead), else
    returned as it is. `size` 0 returns the batch unchanged."""

    def __init__(self, size: int, generator: torch.Generator) -> None:
        self.size, self.generator = size, generator
        self.images: list[torch.Tensor] = []

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif float(torch.rand((), generator=self.generator)) < 0.5:
                i = int(torch.randint(0, self.size, (), generator=self.generator))
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        stored = torch.stack(self.images) if self.images else torch.empty(0)
        return {"images": stored, "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.images = list(state["images"].unbind(0)) if state["images"].numel() else []
        self.generator.set_state(state["generator"])


class CycleGanSystem(AdversarialSystem):
    """Main batches carry domain a; the system draws domain b from its own sampler."""

    def __init__(
        self,
        nets: Mapping[str, nn.Module],
        loss: AdversarialLoss,
        options: CycleGanOptions,
        cfg: TrainConfig,
        device: torch.device,
        domain_b: BatchSampler,
        streams: Mapping[str, torch.Generator],
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        self.g_ab, self.g_ba, self.d_a, self.d_b = (
            nets[k].to(device) for k in ("g_ab", "g_ba", "d_a", "d_b")
        )
        self.loss, self.options, self.cfg, self.device, self.amp_dtype = loss, options, cfg, device, amp_dtype
        self.probabilities = loss.probabilities
        self.domain_b, self.augmentation = domain_b, streams["augmentation"]
        self.pools = {
            "a": ImagePool(options.pool_size, streams["pool_a"]),
            "b": ImagePool(options.pool_size, streams["pool_b"]),
        }
        self.modules = {"g_ab": self.g_ab, "g_ba": self.g_ba, "d_a": self.d_a, "d_b": self.d_b}
        self.optimizers = {
            "generators": make_optimizer(parameters(self.g_ab, self.g_ba), cfg.generator_lr, cfg),
            "discriminators": make_optimizer(parameters(self.d_a, self.d_b), cfg.discriminator_lr, cfg),
        }
        self._fakes: dict[str, torch.Tensor] | None = None
        self._real: dict[str, torch.Tensor] | None = None
        self.domain_a: BatchSampler | None = None  # the trainer's sampler, for standing statistics

    def averaged(self) -> dict[str, nn.Module]:
        return {k: self.modules[k] for k in ("g_ab", "g_ba")}

    def phases(self) -> list[Phase]:
        # As the reference: the generators' step, then the discriminators' on the same images.
        return [Phase("generators"), Phase("discriminators", 1, draws_batch=False)]

    def step(self, phase: str, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        if phase == "generators":
            return self._generators_step(batch, diagnose)
        if phase == "discriminators":
            return self._discriminators_step(diagnose)
        raise ValueError(f"unknown phase {phase!r}")

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        if not (self.options.jitter or self.options.flip):
            return images
        return augment({"x": images}, self.options.jitter, self.options.flip, self.augmentation, self.shard)[
            "x"
        ]

    def _generators_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        real_a, real_b = self._augment(batch["a"]), self._augment(self.domain_b.next()["b"])
        o = self.options
        with frozen(self.d_a, self.d_b), autocast(self.device, self.amp_dtype):
            fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
            cycles = ((self.g_ba(fake_b), real_a), (self.g_ab(fake_a), real_b))
            identities = (
                ((self.g_ab(real_b), real_b), (self.g_ba(real_a), real_a)) if o.identity_weight else None
            )
            loss, parts = cyclegan_generator_loss(
                self.loss,
                (self.d_b(fake_b), self.d_a(fake_a)),
                cycles,
                identities,
                o.gan_weight,
                o.cycle_weight,
                o.identity_weight,
            )
            out = {k: v.detach() for k, v in parts.items()}
            out["g_loss"] = loss.detach()
            backward_step(
                self.optimizers["generators"],
                loss,
                (self.g_ab, self.g_ba),
                out if diagnose else None,
                "grad_norm_g",
            )
        self._real = {"a": real_a, "b": real_b}
        self._fakes = {"a": fake_a.detach(), "b": fake_b.detach()}
        return out

    def _discriminators_step(self, diagnose: bool) -> dict[str, torch.Tensor]:
        assert self._real is not None and self._fakes is not None
        real, fakes = self._real, {k: self.pools[k].query(v) for k, v in self._fakes.items()}
        self._real = self._fakes = None
        scores: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        with autocast(self.device, self.amp_dtype):
            total = torch.zeros((), device=self.device)
            for side, d in (("a", self.d_a), ("b", self.d_b)):
                r, f = d(real[side]).float(), d(fakes[side]).float()
                total = total + halved_discriminator_loss(self.loss, r, f, self.cfg.real_label)
                scores[side] = (r.detach(), f.detach())
        out = {"d_loss": total.detach()}
        backward_step(
            self.optimizers["discriminators"],
            total,
            (self.d_a, self.d_b),
            out if diagnose else None,
            "grad_norm_d",
        )
        if diagnose:
            r = torch.cat([s[0].flatten() for s in scores.values()])
            f = torch.cat([s[1].flatten() for s in scores.values()])
            out.update(d_outputs(r, f, self.loss.probabilities))
        return out

    def standing_batches(
        self, name: str, batches: int, batch_size: int, generator: torch.Generator
    ) -> list[tuple[torch.Tensor | None, ...]]:
        if self.domain_a is None:
            raise NotImplementedError
        images = self.domain_a.tensors["a"] if name == "g_ab" else self.domain_b.tensors["b"]
        return image_batches(images, batches, batch_size, generator)

    def extra_state(self) -> dict[str, Any]:
        return {
            "domain_b": self.domain_b.state_dict(),
            "pools": {k: p.state_dict() for k, p in self.pools.items()},
            "augmentation": self.augmentation.get_state(),
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.domain_b.load_state_dict(state["domain_b"])
        for k, p in self.pools.items():
            p.load_state_dict(state["pools"][k])
        self.augmentation.set_state(state["augmentation"])

    def describe(self) -> dict[str, Any]:
        return {
            "resnet_blocks": getattr(self.g_ab, "blocks", None),
            "patchgan": {
                "layers": getattr(self.d_a, "layers", None),
                "receptive_field": getattr(self.d_a, "receptive_field", None),
            },
        }


class CycleGanKind(TranslationKind):
    name = "cyclegan"
    options = CycleGanOptions
    data_kinds = ("unpaired", "paired")

    def routes(self, variant: Variant) -> dict[str, tuple[str, str | None]]:
        return {"a2b": ("g_ab", "g_ba"), "b2a": ("g_ba", "g_ab")}

    def generators(self, variant: Variant, spec: Mapping[str, Any]) -> dict[str, nn.Module]:
        c, size = spec["model_channels"], spec["size"]
        cfg = variant.model.generator
        return {
            "g_ab": build_translator(cfg, ImagePair(c["a"], c["b"], size)),
            "g_ba": build_translator(cfg, ImagePair(c["b"], c["a"], size)),
        }

    def build(self, setup: RunSetup) -> Built:
        variant, data, placement, seed = setup.variant, setup.data, setup.placement, setup.seed
        options: CycleGanOptions = variant.system  # type: ignore[assignment]
        self.check_data(variant, data)
        doms, size = domains(variant, data)
        channels = model_channels(data, same=True)
        spec = {"size": size, "model_channels": channels}
        nets: dict[str, nn.Module] = dict(self.generators(variant, spec))
        for side in ("a", "b"):
            nets[f"d_{side}"] = build_patch_discriminator(variant.model.discriminator, channels[side], size)
        to_channels_last(placement.channels_last, *nets.values())
        cfg, device = variant.train, placement.device
        b_images = _with_channels(doms["b"].train, channels["b"])
        domain_b = BatchSampler(
            {"b": b_images},
            cfg.batch_size,
            torch.Generator().manual_seed(seed + 12),
            device,
            placement.channels_last,
        )
        streams = {  # random streams (torch.Generator), not networks
            "augmentation": torch.Generator().manual_seed(seed + 11),
            "pool_a": torch.Generator().manual_seed(seed + 13),
            "pool_b": torch.Generator().manual_seed(seed + 14),
        }
        system = CycleGanSystem(
            nets, get_loss(cfg.loss), options, cfg, device, domain_b, streams, placement.amp_dtype
        )
        sampler = BatchSampler(
            {"a": _with_channels(doms["a"].train, channels["a"])},
            cfg.batch_size,
            setup.random.data,
            device,
            placement.channels_last,
        )
        system.domain_a = sampler
        return Built(system, sampler, spec)


def _with_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 images replicated (gray → RGB) to the channel count the nets use."""
    return images.expand(-1, channels, -1, -1).contiguous() if images.shape[1] != channels else images
