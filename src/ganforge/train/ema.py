"""The EMA (Polyak) generator: an exponential moving average of the generator's weights.

Written here rather than with torch's AveragedModel because that class reads its update
counter back from the device on every update (a host-device sync per step) and has no
warm-up. The warm-up (decay_t = min(decay, (1 + t) / (10 + t)), as TensorFlow's
ExponentialMovingAverage) keeps a short run's average from being dominated by its first,
untrained weights."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA:
    def __init__(self, module: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(module).requires_grad_(False)
        self.decay = decay
        self.updates = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    def _pairs(
        self, source: nn.Module
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]]:
        floats_avg, floats_src, others = [], [], []
        avg_state, src_state = self.module.state_dict(keep_vars=True), source.state_dict(keep_vars=True)
        for key, avg in avg_state.items():
            src = src_state[key].detach()
            if avg.is_floating_point():
                floats_avg.append(avg.detach())
                floats_src.append(src)
            else:
                others.append((avg.detach(), src))
        return floats_avg, floats_src, others

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        """Average in the current weights (and float buffers: batch-norm statistics) of `source`."""
        avg, src, others = self._pairs(source)
        if self.updates == 0:
            torch._foreach_copy_(avg, src)
        else:
            torch._foreach_lerp_(avg, src, 1.0 - self.current_decay())
        for a, s in others:  # integer buffers (batch counters) follow the source
            a.copy_(s)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
