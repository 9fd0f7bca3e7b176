"""`gan`: one generator and one discriminator (conditional when the variant says so),
alternating `d_steps` discriminator updates with one generator update, with any loss of
`ganforge.losses` and the regularizers of `ganforge.regularizers` switched on by config; with
progressive nets (arch progan), the same system at the resolution the schedule has grown to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ganforge.core.batches import Batch, BatchSampler
from ganforge.core.errors import ConfigError
from ganforge.losses import AdversarialLoss, get_loss, top_k
from ganforge.nets.base import Discriminator, Generator, GrowingNet
from ganforge.nets.progan import ProGANDiscriminator, downsample, fade_reals
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.regularizers import HistoricalAverage, clip_weights, feature_matching, gradient_penalty
from ganforge.systems.kind import Built, RunSetup
from ganforge.systems.latent import LatentKind, PairSystem, latent_data, latent_spec
from ganforge.train.config import TrainConfig
from ganforge.train.contract import autocast, d_outputs, frozen, grad_norm, to_channels_last
from ganforge.variants.system_options import GanOptions


class GanSystem(PairSystem):
    """G and D trained with one of `ganforge.losses`, and the regularizers the config switches on."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        loss: AdversarialLoss,
        cfg: TrainConfig,
        device: torch.device,
        noise: torch.Generator,
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(generator.to(device), discriminator.to(device), cfg, device, noise, amp_dtype)
        self.loss = loss
        self.probabilities = loss.probabilities
        self.history = (
            {name: HistoricalAverage(m) for name, m in self.modules.items()}
            if cfg.historical_averaging
            else {}
        )

    def discriminator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        x, labels = self.discriminator_input(batch["x"], real=True), batch.get("labels")
        z = self.latent(len(batch))
        # With one D step per G step, G's step reuses this fake batch (as DCGAN's reference
        # loop does): one generator forward per iteration instead of two.
        reuse = self.cfg.d_steps == 1
        with autocast(self.device, self.amp_dtype):
            with torch.set_grad_enabled(reuse):
                fake = self.discriminator_input(self.g(z, labels), real=False)
            self._fake = fake if reuse else None
            real_logits = self.d(x, labels).float()
            fake_logits = self.d(fake.detach(), labels).float()
            loss = self.loss.discriminator(real_logits, fake_logits, self.cfg.real_label)
            out = {"d_loss": loss.detach()}
            if self.cfg.drift:  # ProGAN's drift term keeps the critic's scores near 0
                drift = real_logits.pow(2).mean()
                loss = loss + self.cfg.drift * drift
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

    def generator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        labels = batch.get("labels")
        fake, self._fake = self._fake, None
        with frozen(self.d), autocast(self.device, self.amp_dtype):
            if fake is None:
                fake = self.discriminator_input(self.g(self.latent(len(batch)), labels), real=False)
            out: dict[str, torch.Tensor] = {}
            if self.cfg.feature_matching:
                x = self.discriminator_input(batch["x"], real=True)
                fm = feature_matching(
                    self.d.features(x, labels).float(), self.d.features(fake, labels).float()
                )
                out["feature_matching"] = fm.detach()
                loss = self.cfg.feature_matching * fm
                if not self.cfg.feature_matching_only:
                    loss = loss + self.loss.generator(top_k(self.d(fake, labels).float(), self.kept))
            else:
                loss = self.loss.generator(top_k(self.d(fake, labels).float(), self.kept))
            out["g_loss"] = loss.detach()
            loss = self._with_history(loss, "generator", out)
            self._update("generator", loss, out if diagnose else None)
        return out

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
        return {"history": {k: h.state_dict() for k, h in self.history.items()}}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        for k, h in self.history.items():
            h.load_state_dict(state["history"][k])


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
        system_class = ProgressiveGanSystem if all(grows) else GanSystem
        system = system_class(
            g, d, get_loss(cfg.loss), cfg, placement.device, setup.random.noise, placement.amp_dtype
        )
        sampler = BatchSampler(
            {"x": tensors.x, "labels": tensors.labels},
            cfg.batch_size,
            setup.random.data,
            placement.device,
            placement.channels_last,
        )
        return Built(system, sampler, latent_spec(tensors.shape, data))
