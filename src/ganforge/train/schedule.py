"""What changes with the step during a run, in one place: the learning-rate factor today
(constant, or a linear decay to zero between two absolute steps, as pix2pix and CycleGAN
train), applied to every optimizer of the system. Being a function of the absolute step, a
run resumed from a checkpoint (or continued past its old `steps`) follows exactly the
schedule it would have followed uninterrupted; its description is stored in the checkpoint
and a checkpoint made under another schedule is not resumed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ganforge.train.config import TrainConfig


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    decay_start: int = 0
    decay_end: int = 0

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> Schedule:
        if cfg.lr_schedule == "constant":
            return cls()
        return cls(cfg.lr_schedule, cfg.lr_decay_start, cfg.lr_decay_end)

    def lr_factor(self, done: int) -> float:
        """The factor on the base learning rates for the iteration after `done` iterations."""
        if self.kind == "constant" or done <= self.decay_start:
            return 1.0
        return max(0.0, 1.0 - (done - self.decay_start) / (self.decay_end - self.decay_start))

    @staticmethod
    def attach(optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        """Record each parameter group's base learning rate (as torch's schedulers do)."""
        for opt in optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])

    def apply(self, done: int, optimizers: Mapping[str, torch.optim.Optimizer]) -> float:
        """Set every group's learning rate for the next iteration; return the factor."""
        factor = self.lr_factor(done)
        if self.kind != "constant":
            for opt in optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = group["initial_lr"] * factor
        return factor

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)
