"""What changes with the step during a run, in one place: the learning-rate factor
(constant, or a linear decay to zero between two absolute steps, as pix2pix and CycleGAN
train), applied to every optimizer of the system, and the growth phase of progressive nets
(the resolution and the fade-in weight α of its newest block; every optimizer's moments are
reset when a new resolution begins). Both are functions of the absolute step, so a run
resumed from a checkpoint (mid-fade included) or continued past its old `steps` follows
exactly the schedule it would have followed uninterrupted; the schedule's description is
stored in the checkpoint and a checkpoint made under another schedule is not resumed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.nets.base import GrowingNet
from ganforge.train.config import TrainConfig


def growing_nets(modules: Iterable[nn.Module]) -> list[GrowingNet]:
    """The nets among `modules` that grow."""
    return [m for m in modules if isinstance(m, GrowingNet)]


@dataclass(frozen=True)
class Growth:
    """How a system's progressive nets grow (its own options say; `AdversarialSystem.growth`):
    `stable` steps at each resolution, the next one faded in over `fade` steps (0 and 0: the
    nets train at their full size)."""

    stable: int = 0
    fade: int = 0


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    decay_start: int = 0
    decay_end: int = 0
    growth_levels: int = 1
    growth_stable: int = 0
    growth_fade: int = 0

    @classmethod
    def from_config(cls, cfg: TrainConfig, levels: int = 1, growth: Growth = Growth()) -> Schedule:
        """The learning-rate schedule of `cfg`, and `growth` for nets that hold `levels`
        resolutions (1: nets that do not grow, which refuse a growth schedule)."""
        if growth.stable and levels <= 1:
            raise ConfigError(
                "growth_stable/growth_fade grow progressive nets (arch progan, larger than 4×4): "
                "this variant's nets do not grow"
            )
        lr = (
            cls()
            if cfg.lr_schedule == "constant"
            else cls(cfg.lr_schedule, cfg.lr_decay_start, cfg.lr_decay_end)
        )
        if not growth.stable:
            return lr
        return replace(lr, growth_levels=levels, growth_stable=growth.stable, growth_fade=growth.fade)

    @property
    def grows(self) -> bool:
        return self.growth_stable > 0

    def lr_factor(self, done: int) -> float:
        """The factor on the base learning rates for the iteration after `done` iterations."""
        if self.kind == "constant" or done <= self.decay_start:
            return 1.0
        return max(0.0, 1.0 - (done - self.decay_start) / (self.decay_end - self.decay_start))

    def growth(self, done: int) -> tuple[int, float]:
        """(level, α) for the iteration after `done` iterations: level 0 (4×4) for the first
        `growth_stable` steps; then each next level fades in, α rising linearly from 0 over
        `growth_fade` steps, and trains `growth_stable` steps at α = 1; the last level stays."""
        last = self.growth_levels - 1
        if not self.grows:
            return last, 1.0
        if done < self.growth_stable:
            return 0, 1.0
        period = self.growth_fade + self.growth_stable
        grown, into = divmod(done - self.growth_stable, period)
        level = grown + 1
        if level > last:
            return last, 1.0
        return (level, into / self.growth_fade) if into < self.growth_fade else (level, 1.0)

    def new_level(self, done: int) -> bool:
        """Whether the iteration after `done` is the first at a new resolution."""
        return self.grows and done > 0 and self.growth(done)[0] != self.growth(done - 1)[0]

    @staticmethod
    def attach(optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        """Record each parameter group's base learning rate (as torch's schedulers do)."""
        for opt in optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])

    def apply(self, done: int, optimizers: Mapping[str, torch.optim.Optimizer]) -> float:
        """Set every group's learning rate for the next iteration (and reset every
        optimizer's moments when it starts a new resolution); return the lr factor."""
        if self.new_level(done):
            for opt in optimizers.values():
                opt.state.clear()
        factor = self.lr_factor(done)
        if self.kind != "constant":
            for opt in optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = group["initial_lr"] * factor
        return factor

    def grow(self, done: int, nets: Iterable[GrowingNet]) -> tuple[int, float]:
        """Put the growing nets in their phase for the iteration after `done`; return it."""
        level, alpha = self.growth(done)
        for net in nets:
            net.set_growth(level, alpha)
        return level, alpha

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)
