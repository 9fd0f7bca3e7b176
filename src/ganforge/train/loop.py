"""The one training loop. It knows nothing of which GAN it runs: it asks the system for its
phases, feeds them batches, keeps an EMA copy of every generator the system averages, applies
the schedule, logs diagnostics, checkpoints and resumes."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.core.batches import Batch, BatchSampler
from ganforge.core.errors import ConfigError, DataError
from ganforge.core.seeds import RunRandom
from ganforge.diagnostics import live_flags
from ganforge.train.checkpoint import load_checkpoint, save_checkpoint
from ganforge.train.config import TrainConfig
from ganforge.train.contract import AdversarialSystem, Phase
from ganforge.train.distributed import Group
from ganforge.train.ema import EMA
from ganforge.train.progress import Progress
from ganforge.train.schedule import Schedule, growing_nets
from ganforge.train.selection import DivergedError, Selection

LogHook = Callable[[int, dict[str, float]], None]
GridHook = Callable[[int, Mapping[str, nn.Module]], None]
ScoreHook = Callable[[int, Mapping[str, nn.Module]], dict[str, float]]
"""Scores the generators (eval mode, EMA copies where there are) at a step: {metric key: value}."""


@dataclass
class TrainClock:
    """Wall-clock time of a run across its sessions, kept in the checkpoint: `started` is the
    Unix time the first session began the loop; `seconds` counts the loop's time up to the
    last checkpoint (steps a killed session did after its last checkpoint are redone, and only
    counted once). Nothing trained depends on it."""

    started: float
    seconds: float = 0.0

    def state_dict(self) -> dict[str, float]:
        return {"started": self.started, "seconds": self.seconds}

    @classmethod
    def from_state(cls, state: dict[str, float] | None, now: float) -> TrainClock:
        if not state:
            return cls(now)
        return cls(float(state["started"]), float(state["seconds"]))


@dataclass
class TrainResult:
    steps: int
    resumed_from: int
    history: list[dict[str, float]]
    ema: dict[str, nn.Module]
    """The EMA copy of each averaged generator (empty when the EMA is off)."""
    extra: dict[str, Any] = field(default_factory=dict)
    processes: list[int] = field(default_factory=lambda: [1])
    """The number of processes of each session that trained the run (one entry per change)."""
    clock: TrainClock = field(default_factory=lambda: TrainClock(time.time()))
    """When the run first started, and the loop's seconds in the sessions before this one."""
    selection: Selection | None = None
    """The in-training scores, the best checkpoint and the stopping state (None: not scored)."""
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """Failure-mode flags raised during training, with the step each was first seen at."""


@dataclass
class Hooks:
    """What the caller wants to hear: every logged row, and the generators to draw a grid from."""

    on_log: LogHook | None = None
    on_grid: GridHook | None = None
    on_message: Callable[[str], None] | None = None
    on_score: ScoreHook | None = None


class Trainer:
    """Runs `system` for `cfg.steps` iterations on batches from `sampler`.

    With `checkpoint_path`, a checkpoint with the same `fingerprint` (and schedule) is
    resumed, and a new one is written every `cfg.checkpoint_every` iterations and at the
    end. `extra` is stored in the checkpoint and handed back (for instance a tracking run id).
    With `group` (data parallelism), every rank runs the loop on its shard of each batch; rank
    0 reads the checkpoint for all, gathers the ranks' private state and writes it; hooks and
    progress belong to rank 0, and logged values are averaged over the ranks.

    With `selection` and `cfg.eval_every`, the `on_score` hook scores the generators every
    `eval_every` steps and at the last (on every rank, each extracting its share of the
    features); the scores join that step's logged row as `score.*`, the best generators are
    kept and `stop_when` may end the run (rank 0 decides for all). A
    loss or score that is not a finite number stops training with DivergedError, before
    anything is saved over the last good checkpoint."""

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
        group: Group | None = None,
        selection: Selection | None = None,
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
        self.group = group
        self.selection = selection
        self.saved_at = 0  # the step of the last checkpoint written (0: none yet)
        self.world = group.world if group is not None else 1
        self.processes = [self.world]
        self.clock = TrainClock(time.time())
        self._session = (time.perf_counter(), 0.0)  # (start, the clock's seconds then)
        self.emas = (
            {name: EMA(net, cfg.ema_decay) for name, net in system.averaged().items()}
            if cfg.ema_decay is not None
            else {}
        )
        # Progressive nets (and their EMA copies) grow as the schedule says.
        self.growing = growing_nets([*system.modules.values(), *(e.module for e in self.emas.values())])
        levels = {net.levels for net in self.growing}
        if len(levels) > 1:
            raise ConfigError(
                f"the growing nets of a run must hold the same resolutions, got {sorted(levels)}"
            )
        self.schedule = Schedule.from_config(cfg, levels.pop() if levels else 1, system.growth)
        self.schedule.attach(system.optimizers)
        self.history: list[dict[str, float]] = []
        self.warnings: list[dict[str, Any]] = []
        """Failure-mode flags as they were first raised ({step, kind, message}), kept in checkpoints."""
        # Sum and count of each value the system returned since the last log (on the device).
        self.window: dict[str, tuple[torch.Tensor | float, int]] = {}

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self, step: int) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "schedule": self.schedule.state_dict(),
            "step": step,
            "modules": {k: m.state_dict() for k, m in self.system.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.system.optimizers.items()},
            "system": self.system.extra_state(),
            "ema": {k: e.state_dict() for k, e in self.emas.items()},
            "sampler": self.sampler.state_dict(),
            "random": self.random.state_dict(),
            "history": self.history,
            "warnings": self.warnings,
            "window": {k: (torch.as_tensor(t).cpu(), n) for k, (t, n) in self.window.items()},
            "extra": self.extra,
            "processes": self.processes,
            "clock": self._clock_now().state_dict(),
            "selection": self.selection.state_dict() if self.selection is not None else None,
        }

    def _clock_now(self) -> TrainClock:
        begun, before = self._session
        return TrainClock(self.clock.started, before + time.perf_counter() - begun)

    def _private_state(self) -> dict[str, Any]:
        """What differs between the ranks of a data-parallel run (random streams, pools)."""
        return {"random": self.random.state_dict(), "system": self.system.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, m in self.system.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.system.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.system.load_extra_state(state["system"])
        for k, e in self.emas.items():
            if k in state["ema"]:
                e.load_state_dict(state["ema"][k])
        self.sampler.load_state_dict(state["sampler"])
        self.random.load_state_dict(state["random"])
        self.history = list(state["history"])
        self.warnings = list(state.get("warnings", []))
        self.window = {k: (t.to(self.sampler.device), n) for k, (t, n) in state["window"].items()}
        self.extra = {**state["extra"], **self.extra}
        self.clock = TrainClock.from_state(state.get("clock"), self.clock.started)
        if self.selection is not None and state.get("selection") is not None:
            self.selection.load_state_dict(state["selection"])
        previous = list(state.get("processes", [1]))
        self.processes = previous if previous[-1] == self.world else [*previous, self.world]
        ranks = state.get("ranks")
        if self.group is not None and ranks is not None and len(ranks) == self.world:
            own = ranks[self.group.rank]
            self.random.load_state_dict(own["random"])
            self.system.load_extra_state(own["system"])
        if previous[-1] != self.world:
            self._say(
                f"resumed on {self.world} process(es) a run trained on {previous[-1]}: "
                f"it is no longer bitwise comparable to an uninterrupted run"
            )

    def _say(self, message: str) -> None:
        if self.hooks.on_message is not None:
            self.hooks.on_message(message)

    def _grid_due(self, step: int) -> bool:
        """Grids every `grid_every` steps and at the last step (none when it is 0)."""
        if self.hooks.on_grid is None or not self.cfg.grid_every:
            return False
        return step % self.cfg.grid_every == 0 or step == self.cfg.steps

    def _read_checkpoint(self) -> tuple[dict[str, Any] | None, str]:
        """The checkpoint (or None and why not); under a group, rank 0 reads it for all."""
        assert self.checkpoint_path is not None
        if self.group is None:
            return load_checkpoint(self.checkpoint_path)
        answer: tuple[dict[str, Any] | None, str, str] = (None, "", "")
        if self.group.main:
            try:
                answer = (*load_checkpoint(self.checkpoint_path), "")
            except DataError as exc:
                answer = (None, "", str(exc))
        state, problem, error = self.group.broadcast(answer)
        if error:
            raise DataError(error)
        return state, problem

    def _resume(self) -> int:
        """The step to continue after (0 for a fresh start)."""
        self.random.begin()
        if self.checkpoint_path is None:
            return 0
        state, problem = self._read_checkpoint()
        if state is None:
            if problem:
                self._say(f"{problem}: starting over")
            return 0
        if state["fingerprint"] != self.fingerprint or state.get("schedule") != self.schedule.state_dict():
            self._say(f"checkpoint {self.checkpoint_path} was made with another configuration: starting over")
            return 0
        if state["step"] > self.cfg.steps:
            self._say(
                f"checkpoint {self.checkpoint_path} is at step {state['step']}, past steps={self.cfg.steps}: "
                f"starting over"
            )
            return 0
        self.load_state_dict(state)
        self.saved_at = int(state["step"])
        return int(state["step"])

    def _save(self, step: int) -> None:
        self._check_window(step)
        self.saved_at = step
        if self.checkpoint_path is None:
            return
        if self.group is None:
            save_checkpoint(self.checkpoint_path, self.state_dict(step))
            return
        ranks = self.group.gather(self._private_state())
        if self.group.main:
            save_checkpoint(self.checkpoint_path, {**self.state_dict(step), "ranks": ranks})

    # -- the loop ----------------------------------------------------------------------
    def fit(self) -> TrainResult:
        start = self._resume()
        self._session = (time.perf_counter(), self.clock.seconds)  # self.clock: as resumed
        phases = self.system.phases()
        drawn = sum(p.repeat for p in phases if p.draws_batch and p.every == 1)  # every iteration
        images_per_iteration = drawn * self.sampler.batch_size
        for module in self.system.modules.values():
            module.train()
        if self.progress is not None:
            self.progress.start(start)
        tick, tick_step = time.perf_counter(), start
        stopped = self.selection is not None and self.selection.stopped_at is not None
        for step in range(start + 1, self.cfg.steps + 1):
            if stopped:  # a run that stop_when ended, resumed: nothing more to train
                break
            diagnose = step % self.cfg.log_every == 0 or step == self.cfg.steps
            lr_factor = self.schedule.apply(step - 1, self.system.optimizers)
            growth = self.schedule.grow(step - 1, self.growing) if self.schedule.grows else None
            self._iteration(phases, step, diagnose)
            if step > self.cfg.ema_start:
                averaged = self.system.averaged()
                for name, ema in self.emas.items():
                    ema.update(averaged[name])
            if diagnose:
                now = time.perf_counter()
                rate = images_per_iteration * (step - tick_step) / max(now - tick, 1e-9)
                extra = {"lr_factor": lr_factor} if self.schedule.kind != "constant" else {}
                if growth is not None:
                    extra.update(resolution=float(4 << growth[0]), alpha=growth[1])
                if self._score_due(step):
                    extra.update(self._score(step))
                    stopped = self._stopping(step)
                self._log(step, rate, extra)
                tick, tick_step = time.perf_counter(), step
            if step % self.cfg.checkpoint_every == 0 or step == self.cfg.steps or stopped:
                self._save(step)
            if self._grid_due(step):
                self.hooks.on_grid(step, self.system.averaged())  # type: ignore[misc]
            if stopped:
                self._say(f"stopped at step {step}: {self.selection.stop_reason}")  # type: ignore[union-attr]
                break
        if self.progress is not None:
            self.progress.close()
        done = self.selection.stopped_at if self.selection is not None else None
        return TrainResult(
            done or self.cfg.steps,
            start,
            self.history,
            {k: e.module for k, e in self.emas.items()},
            self.extra,
            self.processes,
            self.clock,
            self.selection,
            self.warnings,
        )

    # -- in-training scores ------------------------------------------------------------
    def _score_due(self, step: int) -> bool:
        every = self.cfg.eval_every
        return self.selection is not None and every > 0 and (step % every == 0 or step == self.cfg.steps)

    def _score(self, step: int) -> dict[str, float]:
        """Score the generators (in eval mode, EMA copies where there are) and record the
        scores in the selection; `score.<key>` values for the logged row. Under data
        parallelism every rank scores (the validator splits the feature extraction)."""
        assert self.selection is not None
        if self.hooks.on_score is None:
            return {}
        raw = self.system.averaged()
        nets = {"raw": raw, **({"ema": {k: e.module for k, e in self.emas.items()}} if self.emas else {})}
        scored = nets.get("ema", raw)
        modes = {name: net.training for name, net in scored.items()}
        for net in scored.values():
            net.eval()
        try:
            scores = self.hooks.on_score(step, scored)
        finally:
            for name, net in scored.items():
                net.train(modes[name])
        try:
            self.selection.record(step, scores, nets)
        except DivergedError as exc:
            raise DivergedError(f"{exc}: training stopped; {self._kept()}") from None
        return {f"score.{key}": value for key, value in scores.items()}

    def _stopping(self, step: int) -> bool:
        """Whether stop_when ends the run at `step` (rank 0's decision, for every rank)."""
        stop = self.selection is not None and self.selection.stopped_at == step
        return bool(self.group.broadcast(stop)) if self.group is not None else stop

    def _kept(self) -> str:
        if self.checkpoint_path is None or not self.saved_at:
            return "no checkpoint had been written yet"
        return f"the last good checkpoint (step {self.saved_at}) is kept at {self.checkpoint_path}"

    def _check_window(self, step: int) -> None:
        """DivergedError if a value the system returned since the last log is not finite."""
        if not self.window:
            return
        totals = torch.stack([torch.as_tensor(t).float().cpu() for t, _ in self.window.values()])
        if not bool(torch.isfinite(totals).all()):
            bad = [
                k for k, (t, _) in self.window.items() if not bool(torch.isfinite(torch.as_tensor(t)).all())
            ]
            raise DivergedError(f"step {step}: {bad[0]} is not finite: training stopped; {self._kept()}")

    def _flag(self, step: int) -> None:
        """Say a failure mode (D overpowering G, oscillating losses) the first time the curves
        so far show it, as the report would at the end (`ganforge.diagnostics`)."""
        if self.hooks.on_message is None:  # a rank other than 0
            return
        curves = {
            k: [row[k] for row in self.history if k in row] for k in ("step", "d_loss", "d_fake", "g_loss")
        }
        seen = {w["kind"] for w in self.warnings}
        for flag in live_flags(curves, self.system.probabilities):
            if flag.kind not in seen:
                self.warnings.append({"step": step, "kind": flag.kind, "message": flag.message})
                self._say(f"warning at step {step}: {flag.kind} ({flag.message})")

    def _iteration(self, phases: list[Phase], at: int, diagnose: bool) -> None:
        batch: Batch | None = None
        for phase in phases:
            if not phase.due(at):
                continue
            for _ in range(phase.repeat):
                if phase.draws_batch or batch is None:
                    batch = self.sampler.next()
                for key, value in self.system.step(phase.name, batch, at, diagnose).items():
                    total, count = self.window.get(key, (0.0, 0))
                    self.window[key] = (total + value, count + 1)

    def _log(self, step: int, images_per_s: float, extra: dict[str, float]) -> None:
        """Average every value the system returned since the last log (one device sync)."""
        keys = sorted(self.window)
        stacked = torch.stack([torch.as_tensor(self.window[k][0]).float() for k in keys])
        totals = (self.group.mean(stacked) if self.group is not None else stacked).tolist()
        row: dict[str, float] = {"step": float(step)}
        for key, total in zip(keys, totals, strict=True):
            row[key] = total / self.window[key][1]
        for key, value in row.items():
            if not math.isfinite(value):
                raise DivergedError(f"step {step}: {key} is {value}: training stopped; {self._kept()}")
        row.update(extra)
        row["images_per_s"] = images_per_s
        self.history.append(row)
        self.window = {}
        self._flag(step)
        if self.hooks.on_log is not None:
            self.hooks.on_log(step, row)
        if self.progress is not None:
            self.progress.log(step, row, images_per_s)
