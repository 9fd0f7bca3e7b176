"""Adversarial systems: what the trainer optimises. A system names its optimisation phases
and how often each runs per iteration, runs one phase on a batch, and returns its losses by
name. The trainer owns everything else (the loop, EMA, checkpoints, logging), so a new kind
of GAN is a new system, never a new loop."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ganforge.losses import AdversarialLoss
from ganforge.nets.base import Discriminator, Generator
from ganforge.regularizers import HistoricalAverage, clip_weights, feature_matching, gradient_penalty
from ganforge.train.batches import Batch
from ganforge.train.config import TrainConfig


@dataclass(frozen=True)
class Phase:
    """One optimisation phase of an iteration: its name, how many times it runs, and whether
    each run draws a fresh batch (otherwise it reuses the iteration's last batch, e.g. for
    its labels)."""

    name: str
    repeat: int = 1
    draws_batch: bool = True


class AdversarialSystem(Protocol):
    """The contract between a GAN and the trainer."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    @property
    def generator(self) -> Generator:
        """The network that is averaged (EMA) and sampled."""
        ...

    def schedule(self) -> list[Phase]:
        """The phases of one training iteration, in order."""
        ...

    def step(self, phase: str, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        """One optimisation step of `phase`; detached losses (and, when `diagnose`,
        diagnostics) as device tensors: the caller decides when to synchronise."""
        ...

    def extra_state(self) -> dict[str, Any]:
        """State beyond modules and optimizers that a checkpoint must keep (may be empty)."""
        ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...


def autocast(device: torch.device, amp_dtype: torch.dtype | None) -> contextlib.AbstractContextManager[None]:
    """Mixed precision in `amp_dtype` on `device`, or nothing when it is None."""
    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=amp_dtype)


def make_optimizers(g: nn.Module, d: nn.Module, cfg: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    """One optimizer per net, at its own learning rate (TTUR)."""
    return {
        "generator": make_optimizer(list(g.parameters()), cfg.generator_lr, cfg),
        "discriminator": make_optimizer(list(d.parameters()), cfg.discriminator_lr, cfg),
    }


def make_optimizer(params: list[nn.Parameter], lr: float, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (with the fused kernel where PyTorch has it) or RMSprop, as `cfg.optimizer` says."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    try:
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, fused=True)
    except RuntimeError:
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, foreach=True)


def grad_norm(module: nn.Module) -> torch.Tensor:
    """The L2 norm of all of a module's gradients together."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


class GanSystem:
    """One generator and one discriminator (conditional when the nets are), alternating
    `d_steps` discriminator updates with one generator update."""

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
        self.g = generator.to(device)
        self.d = discriminator.to(device)
        self.loss = loss
        self.cfg = cfg
        self.device = device
        self.noise = noise
        self.amp_dtype = amp_dtype
        self._fake: torch.Tensor | None = None
        self.modules = {"generator": self.g, "discriminator": self.d}
        self.history = (
            {name: HistoricalAverage(m) for name, m in self.modules.items()}
            if cfg.historical_averaging
            else {}
        )
        self.optimizers = make_optimizers(self.g, self.d, cfg)

    @property
    def generator(self) -> Generator:
        return self.g

    def schedule(self) -> list[Phase]:
        # G's step reuses the last real batch: it needs its labels (conditional), not its images.
        return [Phase("discriminator", self.cfg.d_steps), Phase("generator", 1, draws_batch=False)]

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        return autocast(self.device, self.amp_dtype)

    def latent(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.g.latent_dim, generator=self.noise, device=self.device)

    def step(self, phase: str, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        if phase == "discriminator":
            return self._discriminator_step(batch, diagnose)
        if phase == "generator":
            return self._generator_step(batch, diagnose)
        raise ValueError(f"unknown phase {phase!r}")

    def _discriminator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        z = self.latent(len(batch))
        # With one D step per G step, G's step reuses this fake batch (as DCGAN's reference
        # loop does): one generator forward per iteration instead of two.
        reuse = self.cfg.d_steps == 1
        with self._autocast():
            with torch.set_grad_enabled(reuse):
                fake = self.g(z, batch.labels)
            self._fake = fake if reuse else None
            real_logits = self.d(batch.x, batch.labels).float()
            fake_logits = self.d(fake.detach(), batch.labels).float()
            loss = self.loss.discriminator(real_logits, fake_logits, self.cfg.real_label)
            out = {"d_loss": loss.detach()}
            if self.cfg.gradient_penalty:
                gp = gradient_penalty(lambda x: self.d(x, batch.labels), batch.x, fake, self.noise)
                loss = loss + self.cfg.gradient_penalty * gp
                out["gradient_penalty"] = gp.detach()
            loss = self._with_history(loss, "discriminator", out)
        self._update("discriminator", loss, out if diagnose else None)
        if self.cfg.weight_clip is not None:
            clip_weights(self.d, self.cfg.weight_clip)
        if diagnose:
            out.update(self._diagnostics(real_logits, fake_logits))
        return out

    def _generator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        fake, self._fake = self._fake, None
        self.d.requires_grad_(False)  # G's step needs gradients through D, not of D's weights
        try:
            with self._autocast():
                if fake is None:
                    fake = self.g(self.latent(len(batch)), batch.labels)
                out: dict[str, torch.Tensor] = {}
                if self.cfg.feature_matching:
                    fm = feature_matching(
                        self.d.features(batch.x, batch.labels).float(),
                        self.d.features(fake, batch.labels).float(),
                    )
                    out["feature_matching"] = fm.detach()
                    loss = self.cfg.feature_matching * fm
                    if not self.cfg.feature_matching_only:
                        loss = loss + self.loss.generator(self.d(fake, batch.labels).float())
                else:
                    loss = self.loss.generator(self.d(fake, batch.labels).float())
                out["g_loss"] = loss.detach()
                loss = self._with_history(loss, "generator", out)
            self._update("generator", loss, out if diagnose else None)
        finally:
            self.d.requires_grad_(True)
        return out

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

    def load_extra_state(self, state: dict[str, Any]) -> None:
        for k, h in self.history.items():
            h.load_state_dict(state["history"][k])

    def _diagnostics(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Mean D(x) and D(G(z)): probabilities for probabilistic losses, raw scores otherwise."""
        real, fake = real.detach(), fake.detach()
        if self.loss.probabilities:
            real, fake = torch.sigmoid(real), torch.sigmoid(fake)
        return {"d_real": real.mean(), "d_fake": fake.mean()}
