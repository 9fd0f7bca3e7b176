"""The one training loop. It knows nothing of which GAN it runs: it asks the system for its
phases, feeds them batches, keeps the EMA generator, logs diagnostics, checkpoints and
resumes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.train.batches import Batch, BatchSampler
from ganforge.train.checkpoint import load_checkpoint, save_checkpoint
from ganforge.train.config import TrainConfig
from ganforge.train.ema import EMA
from ganforge.train.progress import Progress
from ganforge.train.rng import RunRandom
from ganforge.train.system import AdversarialSystem, Phase

LogHook = Callable[[int, dict[str, float]], None]
GridHook = Callable[[int, nn.Module], None]


@dataclass
class TrainResult:
    steps: int
    resumed_from: int
    history: list[dict[str, float]]
    ema: nn.Module | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hooks:
    """What the caller wants to hear: every logged row, and a generator to draw a grid from."""

    on_log: LogHook | None = None
    on_grid: GridHook | None = None


class Trainer:
    """Runs `system` for `cfg.steps` iterations on batches from `sampler`.

    With `checkpoint_path`, a checkpoint with the same `fingerprint` is resumed, and a new one
    is written every `cfg.checkpoint_every` iterations and at the end. `extra` is stored in
    the checkpoint and handed back (for instance a tracking run id)."""

    def __init__(
        self,
        system: AdversarialSystem,
        sampler: BatchSampler,
        random: RunRandom,
        cfg: TrainConfig,
        fingerprint: str,
        checkpoint_path: Path | None = None,
        hooks: Hooks | None = None,
        progress: Progress | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.system = system
        self.sampler = sampler
        self.random = random
        self.cfg = cfg
        self.fingerprint = fingerprint
        self.checkpoint_path = checkpoint_path
        self.hooks = hooks or Hooks()
        self.progress = progress
        self.extra = dict(extra or {})
        self.ema = EMA(system.generator, cfg.ema_decay) if cfg.ema_decay is not None else None
        self.history: list[dict[str, float]] = []
        # Sum and count of each value the system returned since the last log (on the device).
        self.window: dict[str, tuple[torch.Tensor | float, int]] = {}

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self, step: int) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "step": step,
            "modules": {k: m.state_dict() for k, m in self.system.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.system.optimizers.items()},
            "system": self.system.extra_state(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "sampler": self.sampler.state_dict(),
            "random": self.random.state_dict(),
            "history": self.history,
            "window": {k: (torch.as_tensor(t).cpu(), n) for k, (t, n) in self.window.items()},
            "extra": self.extra,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, m in self.system.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.system.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.system.load_extra_state(state["system"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.sampler.load_state_dict(state["sampler"])
        self.random.load_state_dict(state["random"])
        self.history = list(state["history"])
        self.window = {k: (t.to(self.sampler.device), n) for k, (t, n) in state["window"].items()}
        self.extra = {**state["extra"], **self.extra}

    def _grid_due(self, step: int) -> bool:
        """Grids every `grid_every` steps and at the last step (none when it is 0)."""
        if self.hooks.on_grid is None or not self.cfg.grid_every:
            return False
        return step % self.cfg.grid_every == 0 or step == self.cfg.steps

    def _resume(self) -> int:
        """The step to continue after (0 for a fresh start)."""
        self.random.begin()
        if self.checkpoint_path is None:
            return 0
        state = load_checkpoint(self.checkpoint_path)
        if state is None or state["fingerprint"] != self.fingerprint or state["step"] > self.cfg.steps:
            return 0
        self.load_state_dict(state)
        return int(state["step"])

    def _save(self, step: int) -> None:
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, self.state_dict(step))

    # -- the loop ----------------------------------------------------------------------
    def fit(self) -> TrainResult:
        start = self._resume()
        schedule = self.system.schedule()
        images_per_iteration = sum(p.repeat for p in schedule if p.draws_batch) * self.sampler.batch_size
        for module in self.system.modules.values():
            module.train()
        if self.progress is not None:
            self.progress.start(start)
        tick, tick_step = time.perf_counter(), start
        for step in range(start + 1, self.cfg.steps + 1):
            diagnose = step % self.cfg.log_every == 0 or step == self.cfg.steps
            self._iteration(schedule, diagnose)
            if self.ema is not None and step > self.cfg.ema_start:
                self.ema.update(self.system.generator)
            if diagnose:
                now = time.perf_counter()
                rate = images_per_iteration * (step - tick_step) / max(now - tick, 1e-9)
                self._log(step, rate)
                tick, tick_step = time.perf_counter(), step
            if step % self.cfg.checkpoint_every == 0 or step == self.cfg.steps:
                self._save(step)
            if self._grid_due(step):
                self.hooks.on_grid(step, self.system.generator)
        if self.progress is not None:
            self.progress.close()
        return TrainResult(
            self.cfg.steps, start, self.history, self.ema.module if self.ema else None, self.extra
        )

    def _iteration(self, schedule: list[Phase], diagnose: bool) -> None:
        batch: Batch | None = None
        for phase in schedule:
            for _ in range(phase.repeat):
                if phase.draws_batch or batch is None:
                    batch = self.sampler.next()
                for key, value in self.system.step(phase.name, batch, diagnose).items():
                    total, count = self.window.get(key, (0.0, 0))
                    self.window[key] = (total + value, count + 1)

    def _log(self, step: int, images_per_s: float) -> None:
        """Average every value the system returned since the last log (one device sync)."""
        keys = sorted(self.window)
        totals = torch.stack([torch.as_tensor(self.window[k][0]).float() for k in keys]).tolist()
        row: dict[str, float] = {"step": float(step)}
        for key, total in zip(keys, totals, strict=True):
            row[key] = total / self.window[key][1]
        row["images_per_s"] = images_per_s
        self.history.append(row)
        self.window = {}
        if self.hooks.on_log is not None:
            self.hooks.on_log(step, row)
        if self.progress is not None:
            self.progress.log(step, row, images_per_s)
