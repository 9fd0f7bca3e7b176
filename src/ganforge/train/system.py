"""Adversarial systems: what the trainer optimises. A system names its optimisation phases
and how often each runs per iteration, runs one phase on a batch, and returns its losses by
name. The trainer owns everything else (the loop, EMA, checkpoints, logging), so a new kind
of GAN is a new system, never a new loop."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from ganforge.losses import AdversarialLoss
from ganforge.nets.base import Discriminator, Generator
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


def adam(params: list[nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam with the fused kernel (one kernel for all parameters) where PyTorch has it."""
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except RuntimeError:
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


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
        self.optimizers = {
            "generator": adam(list(self.g.parameters()), cfg.generator_lr, cfg.betas),
            "discriminator": adam(list(self.d.parameters()), cfg.discriminator_lr, cfg.betas),
        }

    @property
    def generator(self) -> Generator:
        return self.g

    def schedule(self) -> list[Phase]:
        # G's step reuses the last real batch: it needs its labels (conditional), not its images.
        return [Phase("discriminator", self.cfg.d_steps), Phase("generator", 1, draws_batch=False)]

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

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
        opt = self.optimizers["discriminator"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        out = {"d_loss": loss.detach()}
        if diagnose:
            out.update(self._diagnostics(real_logits, fake_logits))
            out["grad_norm_d"] = grad_norm(self.d)
        opt.step()
        return out

    def _generator_step(self, batch: Batch, diagnose: bool) -> dict[str, torch.Tensor]:
        fake, self._fake = self._fake, None
        self.d.requires_grad_(False)  # G's step needs gradients through D, not of D's weights
        try:
            with self._autocast():
                if fake is None:
                    fake = self.g(self.latent(len(batch)), batch.labels)
                logits = self.d(fake, batch.labels).float()
                loss = self.loss.generator(logits)
            opt = self.optimizers["generator"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.d.requires_grad_(True)
        out = {"g_loss": loss.detach()}
        if diagnose:
            out["grad_norm_g"] = grad_norm(self.g)
        opt.step()
        return out

    def _diagnostics(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Mean D(x) and D(G(z)): probabilities for probabilistic losses, raw scores otherwise."""
        real, fake = real.detach(), fake.detach()
        if self.loss.probabilities:
            real, fake = torch.sigmoid(real), torch.sigmoid(fake)
        return {"d_real": real.mean(), "d_fake": fake.mean()}
