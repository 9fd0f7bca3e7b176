"""The contract between an adversarial system and the trainer, and the helpers every system
shares. A system owns its nets, optimizers and any extra samplers or pools; it names its
optimisation phases, runs one phase on a batch, and returns its losses by name. The trainer
owns everything else (the loop, schedule, EMA, checkpoints, logging), so a new kind of GAN is
a new system, never a new loop."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.core.batches import Batch, BatchSampler
from ganforge.core.sharding import Shard, no_sync
from ganforge.train.config import TrainConfig
from ganforge.train.schedule import Growth


@dataclass(frozen=True)
class Phase:
    """One optimisation phase of an iteration: its name, how many times it runs, whether
    each run draws a fresh batch (otherwise it reuses the iteration's last batch, e.g. for
    its labels), and its interval: a phase with `every` N runs only at the steps that are
    multiples of N (lazy regularization, as StyleGAN2 runs R1 every 16 steps; the system
    scales that phase's loss by N, so its average strength stays what the config says)."""

    name: str
    repeat: int = 1
    draws_batch: bool = True
    every: int = 1

    def __post_init__(self) -> None:
        if self.repeat < 1 or self.every < 1:
            raise ValueError(f"phase {self.name}: repeat and every must be 1 or more")

    def due(self, at: int) -> bool:
        """Whether the phase runs at absolute step `at` (1-based)."""
        return at % self.every == 0


class AdversarialSystem(ABC):
    """A built system, ready to train: `modules` and `optimizers` by name (both go into
    checkpoints), the generators to average, the phases, and one step of a phase."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    probabilities: bool = True
    """Whether the logged d_real / d_fake are probabilities (for the failure-mode flags)."""
    shard: Shard = Shard()
    """This process's slice of every global draw (noise, augmentation) under data parallelism."""
    growth: Growth = Growth()
    """How its progressive nets grow, from its own options (none by default); the trainer
    grows them, and their EMA copies, as `ganforge.train.schedule` says."""
    _plain: dict[str, nn.Module] | None = None

    @abstractmethod
    def averaged(self) -> dict[str, nn.Module]:
        """The generators, by name: each gets an EMA copy, and each is saved and sampled."""

    @abstractmethod
    def phases(self) -> list[Phase]:
        """The phases of one training iteration, in order."""

    @abstractmethod
    def step(self, phase: str, batch: Batch, at: int, diagnose: bool) -> dict[str, torch.Tensor]:
        """One optimisation step of `phase` at absolute step `at` (1-based, the same on
        resume as in an uninterrupted run); detached losses (and, when `diagnose`,
        diagnostics) as device tensors: the caller decides when to synchronise."""

    def wrap_nets(self, wrap: Callable[[nn.Module], nn.Module], shard: Shard | None = None) -> None:
        """Run the nets through `wrap` (a DDP replica, a compiled module, or both), one
        wrapper per net so G and D synchronise separately: every attribute holding one of
        `modules` now holds its wrapper. With `shard` (data parallelism), every batch sampler
        attribute and every global draw takes this process's slice. `modules` keeps the plain
        nets (checkpoints, EMA, gradient norms), so the nets a system averages come from it."""
        plain = {id(m): m for m in self.modules.values()}
        wrapped: dict[int, nn.Module] = {}
        self._plain = {}
        for attr, value in list(vars(self).items()):
            if isinstance(value, nn.Module) and id(value) in plain:
                self._plain[attr] = value
                setattr(self, attr, wrapped.setdefault(id(value), wrap(value)))
            elif isinstance(value, BatchSampler) and shard is not None:
                value.set_shard(shard)
        if shard is not None:
            self.shard = shard

    def unwrap_nets(self) -> None:
        """Put the plain nets back (after training, before anything runs them on one rank)."""
        for attr, value in (self._plain or {}).items():
            setattr(self, attr, value)
        self._plain = None

    def extra_state(self) -> dict[str, Any]:
        """State beyond modules and optimizers that a checkpoint must keep (samplers, pools)."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what `extra_state` returned."""

    def run_scores(self, averaged: Mapping[str, nn.Module]) -> dict[str, Any]:
        """Scores of the run as a whole, measured once training ends (none by default)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Facts about the built nets worth recording in train.json (none by default)."""
        return {}

    def standing_batches(
        self, name: str, batches: int, batch_size: int, generator: torch.Generator
    ) -> list[tuple[torch.Tensor | None, ...]]:
        """Fresh inputs of generator `name` (latents, or training images to translate), for
        recomputing an averaged copy's batch-norm statistics; drawn with `generator`."""
        raise NotImplementedError


def autocast(device: torch.device, amp_dtype: torch.dtype | None) -> contextlib.AbstractContextManager[None]:
    """Mixed precision in `amp_dtype` on `device`, or nothing when it is None."""
    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=amp_dtype)


def make_optimizer(params: list[nn.Parameter], lr: float, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (with the fused kernel where PyTorch has it) or RMSprop, as `cfg.optimizer` says."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    try:
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, fused=True)
    except RuntimeError:
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, foreach=True)


def parameters(*modules: nn.Module) -> list[nn.Parameter]:
    """Every parameter of the modules together (one optimizer over several nets)."""
    return [p for m in modules for p in m.parameters()]


def grad_norm(*modules: nn.Module) -> torch.Tensor:
    """The L2 norm of all the modules' gradients together."""
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


@contextlib.contextmanager
def frozen(*modules: nn.Module):  # type: ignore[no-untyped-def]
    """Gradients flow through the modules but not into their weights (a generator's step
    through its discriminators). A DDP replica also runs under no_sync: it gets no gradients
    to wait for."""
    for m in modules:
        m.requires_grad_(False)
    try:
        with contextlib.ExitStack() as stack:
            for m in modules:
                stack.enter_context(no_sync(m))
            yield
    finally:
        for m in modules:
            m.requires_grad_(True)


def backward_step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    nets: tuple[nn.Module, ...],
    diagnostics: dict[str, torch.Tensor] | None,
    name: str,
) -> None:
    """zero_grad, backward, (the gradient norm of `nets` as diagnostics[name],) step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if diagnostics is not None:
        diagnostics[name] = grad_norm(*nets)
    optimizer.step()


def to_channels_last(enabled: bool, *nets: nn.Module) -> None:
    """Put the nets' weights in channels_last memory format (when the placement says so)."""
    if enabled:
        for net in nets:
            net.to(memory_format=torch.channels_last)


def d_outputs(real: torch.Tensor, fake: torch.Tensor, probabilities: bool) -> dict[str, torch.Tensor]:
    """Mean D(x) and D(G(z)) for the logs: probabilities (sigmoid of the logits) for
    probabilistic losses, raw scores otherwise."""
    real, fake = real.detach(), fake.detach()
    if probabilities:
        real, fake = torch.sigmoid(real), torch.sigmoid(fake)
    return {"d_real": real.mean(), "d_fake": fake.mean()}
