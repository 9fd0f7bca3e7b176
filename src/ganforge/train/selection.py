"""What the trainer keeps of its in-training scores: every scored point, the best checkpoint
(the generators at the step whose validation score was best, by the metric's own direction)
and the stopping state of `stop_when`. All of it is training state: it goes into the
checkpoint, so a resumed run selects and stops exactly as an uninterrupted one."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganforge.core.errors import GanforgeError
from ganforge.train.config import StopRule


class DivergedError(GanforgeError):
    """A loss or a validation score stopped being a finite number."""


@dataclass(frozen=True)
class Watched:
    """A validation score the trainer watches: its key and which way is better."""

    key: str
    higher_is_better: bool

    def better(self, value: float, than: float | None, min_delta: float = 0.0) -> bool:
        if than is None:
            return True
        return value > than + min_delta if self.higher_is_better else value < than - min_delta


def _cpu_copy(nets: Mapping[str, Mapping[str, nn.Module]]) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
    return {
        which: {
            name: {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            for name, net in by.items()
        }
        for which, by in nets.items()
    }


@dataclass
class Selection:
    """The best checkpoint by `selects` and, with `stop`, the early stop by `watches`."""

    selects: Watched
    stop: StopRule | None = None
    watches: Watched | None = None
    points: list[dict[str, float]] = field(default_factory=list)
    best_step: int | None = None
    best_value: float | None = None
    best_nets: dict[str, dict[str, dict[str, torch.Tensor]]] = field(default_factory=dict)
    """{"raw" | "ema": {generator name: state dict}} at the best step (CPU copies)."""
    stop_best: float | None = None
    stalled: int = 0
    stopped_at: int | None = None
    stop_reason: str = ""

    def record(
        self, step: int, scores: Mapping[str, float], nets: Mapping[str, Mapping[str, nn.Module]]
    ) -> None:
        """Take the scores of `step`: keep the generators `nets` if `selects` improved, count
        an evaluation without improvement of `watches`, and stop when `stop` says so. A
        non-finite score raises DivergedError (the caller keeps its last checkpoint)."""
        for key, value in scores.items():
            if not math.isfinite(value):
                raise DivergedError(f"step {step}: validation score {key} is {value}")
        self.points.append({"step": float(step), **scores})
        value = scores.get(self.selects.key)
        if value is not None and self.selects.better(value, self.best_value):
            self.best_step, self.best_value, self.best_nets = step, value, _cpu_copy(nets)
        if self.stop is None or self.watches is None:
            return
        watched = scores.get(self.watches.key)
        if watched is None:
            return
        if self.watches.better(watched, self.stop_best, self.stop.min_delta):
            self.stop_best, self.stalled = watched, 0
            return
        self.stalled += 1
        if self.stalled >= self.stop.patience:
            self.stopped_at = step
            self.stop_reason = (
                f"{self.watches.key} has not improved on {self.stop_best:.6g} for {self.stalled} "
                f"evaluations (stop_when.patience {self.stop.patience})"
            )

    def state_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "best_step": self.best_step,
            "best_value": self.best_value,
            "best_nets": self.best_nets,
            "stop_best": self.stop_best,
            "stalled": self.stalled,
            "stopped_at": self.stopped_at,
            "stop_reason": self.stop_reason,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.points = list(state["points"])
        self.best_step, self.best_value = state["best_step"], state["best_value"]
        self.best_nets = dict(state["best_nets"])
        self.stop_best, self.stalled = state["stop_best"], int(state["stalled"])
        self.stopped_at, self.stop_reason = state["stopped_at"], str(state["stop_reason"])

    def summary(self) -> dict[str, Any]:
        """What train.json says of it."""
        return {
            "selects": self.selects.key,
            "higher_is_better": self.selects.higher_is_better,
            "points": len(self.points),
            "best": {"step": self.best_step, "value": self.best_value},
            "stopped": {"step": self.stopped_at, "reason": self.stop_reason} if self.stopped_at else None,
        }
