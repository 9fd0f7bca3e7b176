"""`gan`: one generator and one discriminator (conditional when the variant says so),
alternating `d_steps` discriminator updates with one generator update, with any loss of
`ganforge.losses` and the regularizers of `ganforge.regularizers` switched on by config; with
progressive nets (arch progan), the same system at the resolution the schedule has grown to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from ganforge.augment.ada import AdaController
from ganforge.augment.config import AugmentConfig
from ganforge.augment.ops import ada_augment, diff_augment
from ganforge.core.batches import Batch, BatchSampler
from ganforge.core.errors import ConfigError
from ganforge.losses import AdversarialLoss, get_loss, top_k
from ganforge.nets.base import Discriminator, Generator, GrowingNet
from ganforge.nets.progan import ProGANDiscriminator, downsample, fade_reals
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.regularizers import (
    HistoricalAverage,
    clip_weights,
    feature_matching,
    gradient_penalty,
    gradient_square,
)
from ganforge.systems.kind import Built, RunSetup
from ganforge.systems.latent import LatentKind, PairSystem, latent_data, latent_spec
from ganforge.train.config import TrainConfig
from ganforge.train.contract import Phase, autocast, d_outputs, frozen, grad_norm, to_channels_last
from ganforge.train.schedule import Growth
from ganforge.variants.system_options import SYSTEM_TRAIN_OPTIONS, SystemOptions


@dataclass(frozen=True)
class GanOptions(SystemOptions):
    """One generator and one discriminator. `conditional` feeds the class label to both.
    `top_k` ν below 1 is top-k training (Sinha et al. 2020): the generator's adversarial loss
    follows only the fraction of its batch's discriminator outputs that D rates most real, a
    fraction falling linearly from 1 at step 0 to ν at step `top_k_end` (absolute, as the lr
    decay; the paper decays it geometrically per epoch). Progressive growing (nets that grow,
    arch progan): the nets train `growth_stable` steps at 4×4, then each next resolution fades
    in over `growth_fade` steps and trains `growth_stable` more (0: no growth, the nets train
    at their full size); `drift` ε adds ε·D(x)² on the real images to the discriminator's loss
    (ProGAN's drift term)."""

    train_options: ClassVar[frozenset[str]] = frozenset(SYSTEM_TRAIN_OPTIONS)
    augments: ClassVar[bool] = True
    adapts: ClassVar[bool] = True
    paired_losses: ClassVar[bool] = True
    kind: Literal["gan"] = "gan"
    conditional: bool = False
    top_k: float = 1.0
    top_k_end: int = 0
    growth_stable: int = 0
    growth_fade: int = 0
    drift: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.top_k <= 1.0 or self.top_k_end < 0:
            raise ValueError(
                f"top_k must be in (0, 1] and top_k_end 0 or more, got {self.top_k} and {self.top_k_end}"
            )
        if self.growth_stable < 0 or self.growth_fade < 0 or self.drift < 0:
            raise ValueError("growth_stable, growth_fade and drift must be 0 or more")
        if self.growth_fade and not self.growth_stable:
            raise ValueError("growth_fade needs growth_stable > 0 (the steps at each resolution)")

    def check_train(self, train: TrainConfig) -> None:
        if train.compile and self.growth_stable:
            raise ValueError("compile cannot run with growth: each fade-in weight would recompile the nets")


class GanSystem(PairSystem):
    """G and D trained with one of `ganforge.losses`, and the regularizers the config switches
    on; with `augment`, every image D sees (real or generated, for D's loss and G's) passes
    through DiffAugment's policy and, with ADA, through the ops of probability p."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        loss: AdversarialLoss,
        cfg: TrainConfig,
        device: torch.device,
        noise: torch.Generator,
        amp_dtype: torch.dtype | None = None,
        augment: AugmentConfig | None = None,
        options: GanOptions = GanOptions(),
    ) -> None:
        super().__init__(generator.to(device), discriminator.to(device), cfg, device, noise, amp_dtype)
        self.options = options
        self.growth = Growth(options.growth_stable, options.growth_fade)
        self.loss = loss
        self.probabilities = loss.probabilities
        self.history = (
            {name: HistoricalAverage(m) for name, m in self.modules.items()}
            if cfg.historical_averaging
            else {}
        )
        self.augment = augment if augment is not None and augment.active else None
        self.ada = AdaController(self.augment) if self.augment is not None and self.augment.ada else None
        self.penalised = bool(cfg.r1_gamma or cfg.r2_gamma)
        self.lazy = self.penalised and cfg.reg_every > 1

    def phases(self) -> list[Phase]:
        """D's and G's phases; then, when on, the lazy R1/R2 update every `reg_every` steps and
        ADA's update of p every `ada_interval` steps (both on the iteration's last batch)."""
        out = super().phases()
        if self.lazy:
            out.append(Phase("regularize", draws_batch=False, every=self.cfg.reg_every))
        if self.ada is not None:
            assert self.augment is not None
            out.append(Phase("augment", draws_batch=False, every=self.augment.ada_interval))
        return out

    def step(self, phase: str, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        if phase == "regularize":
            return self.regularize_step(batch)
        if phase == "augment":
            assert self.ada is not None
            return {k: v.to(self.device) for k, v in self.ada.update().items()}
        return super().step(phase, batch, at, diagnose)

    def seen(self, images: torch.Tensor) -> torch.Tensor:
        """Images as the discriminator sees them: augmented when augmentation is on."""
        if self.augment is None:
            return images
        if self.augment.policy:
            images = diff_augment(images, self.augment, self.noise, self.shard)
        if self.ada is not None:
            images = ada_augment(images, self.ada.p, self.augment, self.noise, self.shard)
        return images

    def penalties(
        self, real: torch.Tensor, real_logits: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """R1 and R2 (each only when its γ is set) of logits computed from inputs that
        require grad."""
        out = {}
        if self.cfg.r1_gamma:
            out["r1"] = gradient_square(real_logits, real)
        if self.cfg.r2_gamma:
            out["r2"] = gradient_square(fake_logits, fake)
        return out

    def penalty_loss(self, penalties: dict[str, torch.Tensor], scale: float) -> torch.Tensor:
        """(γ₁/2)·R1 + (γ₂/2)·R2, times `scale` (the interval of a lazy update)."""
        gammas = {"r1": self.cfg.r1_gamma, "r2": self.cfg.r2_gamma}
        return sum(gammas[k] / 2 * v for k, v in penalties.items()) * scale  # type: ignore[return-value]

    def regularize_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The lazy R1/R2 update of D: the penalties on this batch's real images and on fresh
        generated ones, scaled by `reg_every`."""
        labels = batch.get("labels")
        with torch.no_grad(), autocast(self.device, self.amp_dtype):
            fake = self.discriminator_input(self.g(self.latent(len(batch)), labels), real=False)
        with autocast(self.device, self.amp_dtype):
            real = self.seen(self.discriminator_input(batch["x"], real=True)).detach().requires_grad_(True)
            fake = self.seen(fake).detach().requires_grad_(True)
            real_logits = self.d(real, labels) if self.cfg.r1_gamma else real
            fake_logits = self.d(fake, labels) if self.cfg.r2_gamma else fake
            penalties = self.penalties(real, real_logits, fake, fake_logits)
            loss = self.penalty_loss(penalties, float(self.cfg.reg_every))
        self._update("discriminator", loss, None)
        return {k: v.detach() for k, v in penalties.items()}

    def discriminator_step(self, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        x, labels = self.seen(self.discriminator_input(batch["x"], real=True)), batch.get("labels")
        z = self.latent(len(batch))
        # With one D step per G step, G's step reuses this fake batch (as DCGAN's reference
        # loop does): one generator forward per iteration instead of two.
        reuse = self.cfg.d_steps == 1
        eager = self.penalised and not self.lazy  # R1/R2 in this step's loss
        with autocast(self.device, self.amp_dtype):
            with torch.set_grad_enabled(reuse):
                fake = self.seen(self.discriminator_input(self.g(z, labels), real=False))
            self._fake = fake if reuse else None
            if eager:
                x = x.detach().requires_grad_(self.cfg.r1_gamma > 0)
            fake_in = fake.detach().requires_grad_(eager and self.cfg.r2_gamma > 0)
            real_logits = self.d(x, labels).float()
            fake_logits = self.d(fake_in, labels).float()
            if self.ada is not None:
                self.ada.observe(real_logits, len(batch))
            loss = self.loss.discriminator(real_logits, fake_logits, self.cfg.real_label)
            out = {"d_loss": loss.detach()}
            if eager:
                penalties = self.penalties(x, real_logits, fake_in, fake_logits)
                loss = loss + self.penalty_loss(penalties, 1.0)
                out.update({k: v.detach() for k, v in penalties.items()})
            if self.options.drift:  # ProGAN's drift term keeps the critic's scores near 0
                drift = real_logits.pow(2).mean()
                loss = loss + self.options.drift * drift
                out["drift"] = drift.detach()
            if self.cfg.gradient_penalty:
                gp = gradient_penalty(lambda v: self.d(v, labels), x, fake, self.noise, self.shard)
                loss = loss + self.cfg.gradient_penalty * gp
                out["gradient_penalty"] = gp.detach()
            loss = self._with_history(loss, "discriminator", out)
        self._update("discriminator", loss, out if diagnose else None)
        if self.cfg.weight_clip is not None:
            clip_weights(self.d, self.cfg.weight_clip)
        if diagnose:
            out.update(d_outputs(real_logits, fake_logits, self.loss.probabilities))
        return out

    def generator_step(self, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        labels = batch.get("labels")
        fake, self._fake = self._fake, None
        with frozen(self.d), autocast(self.device, self.amp_dtype):
            if fake is None:
                fake = self.seen(
                    self.discriminator_input(self.g(self.latent(len(batch)), labels), real=False)
                )
            out: dict[str, torch.Tensor] = {}
            if self.cfg.feature_matching:
                x = self.seen(self.discriminator_input(batch["x"], real=True))
                fm = feature_matching(
                    self.d.features(x, labels).float(), self.d.features(fake, labels).float()
                )
                out["feature_matching"] = fm.detach()
                loss = self.cfg.feature_matching * fm
                if not self.cfg.feature_matching_only:
                    loss = loss + self.adversarial(fake, batch, labels, at)
            else:
                loss = self.adversarial(fake, batch, labels, at)
            out["g_loss"] = loss.detach()
            loss = self._with_history(loss, "generator", out)
            self._update("generator", loss, out if diagnose else None)
        return out

    def adversarial(
        self, fake: torch.Tensor, batch: Batch, labels: torch.Tensor | None, at: int
    ) -> torch.Tensor:
        """G's adversarial loss on the generated images D sees; a pairing loss also gets D's
        outputs on the batch's real images (no gradient flows into D or the reals)."""
        fake_logits = self.d(fake, labels).float()
        if not self.loss.pairs:
            return self.loss.generator(top_k(fake_logits, self.kept(at)))
        with torch.no_grad():
            real_logits = self.d(self.seen(self.discriminator_input(batch["x"], real=True)), labels).float()
        return self.loss.generator(fake_logits, real_logits)

    def kept(self, at: int) -> float:
        """The fraction of generated samples G's adversarial loss follows at step `at` (top-k
        training, Sinha et al. 2020): 1 at the start, falling linearly to `top_k` by step
        `top_k_end`, then staying there."""
        done, cfg = at - 1, self.options
        if cfg.top_k >= 1.0 or done >= cfg.top_k_end:
            return cfg.top_k
        return 1.0 - (1.0 - cfg.top_k) * done / cfg.top_k_end

    def discriminator_input(self, images: torch.Tensor, real: bool) -> torch.Tensor:
        """Samples as the discriminator sees them (as they are here; progressive growing
        brings them to the current resolution)."""
        return images

    def _with_history(self, loss: torch.Tensor, name: str, out: dict[str, torch.Tensor]) -> torch.Tensor:
        """Add the historical-averaging penalty of net `name`, when it is on."""
        if not self.history:
            return loss
        penalty = self.history[name].penalty(self.modules[name])
        out[f"historical_averaging_{name[0]}"] = penalty.detach()
        return loss + self.cfg.historical_averaging * penalty

    def _update(self, name: str, loss: torch.Tensor, diagnostics: dict[str, torch.Tensor] | None) -> None:
        """Backward, (gradient norm,) optimizer step, (running parameter average)."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if diagnostics is not None:
            diagnostics[f"grad_norm_{name[0]}"] = grad_norm(self.modules[name])
        opt.step()
        if self.history:
            self.history[name].update(self.modules[name])

    def extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"history": {k: h.state_dict() for k, h in self.history.items()}}
        if self.ada is not None:
            state["ada"] = self.ada.state_dict()
        return state

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        for k, h in self.history.items():
            h.load_state_dict(state["history"][k])
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"], self.device)


class ProgressiveGanSystem(GanSystem):
    """A GanSystem whose nets grow (arch progan): the discriminator sees every batch at the
    current resolution, real images blended with their half-resolution version while the new
    block fades in (as the generator's output is), generated ones pooled down from the full
    size the generator returns."""

    def discriminator_input(self, images: torch.Tensor, real: bool) -> torch.Tensor:
        d: ProGANDiscriminator = self.modules["discriminator"]  # type: ignore[assignment]
        x = downsample(images, d.resolution)
        return fade_reals(x, d.alpha) if real and d.level > 0 and d.alpha < 1.0 else x

    def describe(self) -> dict[str, Any]:
        d: ProGANDiscriminator = self.modules["discriminator"]  # type: ignore[assignment]
        return {"resolutions": [4 << level for level in range(d.levels)], "resolution": d.resolution}


class GanKind(LatentKind):
    name = "gan"
    options = GanOptions

    def build(self, setup: RunSetup) -> Built:
        variant, data, placement = setup.variant, setup.data, setup.placement
        options: GanOptions = variant.system  # type: ignore[assignment]
        self.check_data(variant, data)
        if options.conditional and data.labels is None:
            raise ConfigError(
                f"variant {variant.name} is conditional, but dataset {data.name!r} has no labels"
            )
        tensors = latent_data(variant, data, len(data.class_names) if options.conditional else 0)
        g = build_generator(variant.model, tensors.shape)
        d = build_discriminator(variant.model, tensors.shape)
        to_channels_last(placement.channels_last, g, d)
        cfg = variant.train
        grows = [isinstance(net, GrowingNet) for net in (g, d)]
        if any(grows) and not all(grows):
            raise ConfigError(
                f"variant {variant.name}: progressive growing needs arch progan for both the generator "
                f"and the discriminator"
            )
        if variant.augment.active and data.kind == "points":
            raise ConfigError(
                f"variant {variant.name}: augment: augmentation is for images, {data.name!r} holds points"
            )
        loss = get_loss(cfg.loss)
        if loss.pairs and options.top_k < 1.0:
            raise ConfigError(
                f"variant {variant.name}: top_k cannot select among pairs of the {loss.name} loss"
            )
        system_class = ProgressiveGanSystem if all(grows) else GanSystem
        system = system_class(
            g,
            d,
            loss,
            cfg,
            placement.device,
            setup.random.noise,
            placement.amp_dtype,
            variant.augment,
            options,
        )
        sampler = BatchSampler(
            {"x": tensors.x, "labels": tensors.labels},
            cfg.batch_size,
            setup.random.data,
            placement.device,
            placement.channels_last,
            host=data.streamed,
        )
        return Built(system, sampler, latent_spec(tensors.shape, data))
