"""The training configuration: the global `train:` block of params.yaml, with a variant's
overrides applied by the pipeline before it gets here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Options that change how long or how verbosely a run goes, not what it computes: a
# checkpoint made under other values of these can be resumed.
# The in-training scores (eval_every, eval_samples, stop_when) are among them: they choose the
# best checkpoint and when to stop, never what a step computes.
SCHEDULE_ONLY = (
    "steps",
    "log_every",
    "checkpoint_every",
    "grid_every",
    "ema_standing_batches",
    "eval_every",
    "eval_samples",
    "stop_when",
)


@dataclass(frozen=True)
class StopRule:
    """End a run early when the validation score `metric` (a key of `ganforge.scores`, e.g.
    `domain.fd`; "primary": the score that selects the best checkpoint) has not improved by
    more than `min_delta` for `patience` evaluations in a row."""

    metric: str = "primary"
    patience: int = 5
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"stop_when.patience must be 1 or more, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"stop_when.min_delta must be 0 or more, got {self.min_delta}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. `lr` sets both learning rates; `lr_g`/`lr_d` override it (TTUR).
    `real_label` below 1 is one-sided label smoothing. `ema_decay` None turns the EMA
    generator off. Regularizers: `gradient_penalty` λ (WGAN-GP), `weight_clip` c (WGAN),
    `feature_matching` weight (replacing G's adversarial loss when `feature_matching_only`),
    `historical_averaging` λ (both nets). `optimizer` rmsprop (the WGAN paper's) ignores
    betas. `amp` "auto" trains in bf16 autocast where that is fast (CUDA; CPUs with native bf16,
    for image models) and `channels_last` "auto" then applies to convolutional nets ("on": in
    fp32 too); `amp` "off" keeps fp32 (see `ganforge.core.device`). `lr_schedule` "linear"
    scales both learning rates by a factor that falls linearly from 1 at step `lr_decay_start` to 0 at step
    `lr_decay_end` (absolute steps, so raising `steps` later continues the same schedule).
    `compile` runs the nets through `torch.compile` (inductor); its fused kernels round
    differently, so it is part of what a run computes (not an execution option).
    Options that one kind of system alone reads (top-k training, progressive growing) are in
    that kind's options (`ganforge.systems.gan.GanOptions`), not here.
    `r1_gamma` γ₁ and `r2_gamma` γ₂ add (γ/2)·E||∇D||² on the real images (R1) and on the
    generated ones (R2) to D's loss (`gan` systems; taken at the images D sees, augmented when
    augmentation is on); with `reg_every` N above 1 they are lazy: a separate D update every N
    steps with the penalty scaled by N (StyleGAN2's lazy regularization).
    `eval_every` N above 0 scores the generator every N steps (and at the last) on a
    validation sample of `eval_samples` draws from latents of their own, never those the
    final evaluation scores: the curves get `score.*` columns, the best checkpoint is kept
    beside the last, and `stop_when` may end the run early (`ganforge.train.selection`).
    `threads` is how many CPU threads the run computes on (0: torch's default, every core);
    kernels split their sums by thread, so it is part of what a run computes: fix it and a
    run gives the same bits on any core count, and its seeds can train side by side
    (`distributed.seed_processes`)."""

    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-4
    lr_g: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] = (0.5, 0.999)
    d_steps: int = 1
    loss: str = "ns"
    real_label: float = 1.0
    ema_decay: float | None = 0.999
    ema_start: int = 0
    ema_standing_batches: int = 50
    log_every: int = 50
    checkpoint_every: int = 500
    grid_every: int = 0
    optimizer: Literal["adam", "rmsprop"] = "adam"
    gradient_penalty: float = 0.0
    weight_clip: float | None = None
    feature_matching: float = 0.0
    feature_matching_only: bool = True
    historical_averaging: float = 0.0
    amp: Literal["auto", "off"] = "auto"
    channels_last: Literal["auto", "on", "off"] = "auto"
    device: str = "auto"
    lr_schedule: Literal["constant", "linear"] = "constant"
    lr_decay_start: int = 0
    lr_decay_end: int = 0
    compile: bool = False
    r1_gamma: float = 0.0
    r2_gamma: float = 0.0
    reg_every: int = 1
    threads: int = 0
    eval_every: int = 0
    eval_samples: int = 500
    stop_when: StopRule | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "d_steps", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.grid_every < 0 or self.ema_start < 0 or self.ema_standing_batches < 0 or self.threads < 0:
            raise ValueError("grid_every, ema_start, ema_standing_batches and threads must be 0 or more")
        if self.r1_gamma < 0 or self.r2_gamma < 0:
            raise ValueError(
                f"r1_gamma and r2_gamma must be 0 or more, got {self.r1_gamma} and {self.r2_gamma}"
            )
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be 0 (off) or a number of steps, got {self.eval_every}")
        if self.eval_every > self.steps:
            raise ValueError(
                f"eval_every ({self.eval_every}) is larger than steps ({self.steps}): no score would be "
                f"taken before the end; lower it or set 0"
            )
        if self.eval_every and self.eval_every % self.log_every:
            raise ValueError(
                f"eval_every ({self.eval_every}) must be a multiple of log_every ({self.log_every}): "
                f"scores join the logged rows"
            )
        if self.eval_samples < 2:
            raise ValueError(f"eval_samples must be 2 or more, got {self.eval_samples}")
        if self.stop_when is not None and not self.eval_every:
            raise ValueError("stop_when needs eval_every above 0 (it watches the validation scores)")
        if self.reg_every < 1:
            raise ValueError(
                f"reg_every must be 1 or more (steps between lazy R1/R2 updates), got {self.reg_every}"
            )
        if self.compile and (self.r1_gamma or self.r2_gamma):
            raise ValueError(
                "compile cannot run with r1_gamma or r2_gamma: torch.compile has no double backward"
            )
        for name in ("lr", "lr_g", "lr_d"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be in [0, 1), got {self.betas}")
        if not 0.0 < self.real_label <= 1.0:
            raise ValueError(f"real_label must be in (0, 1], got {self.real_label}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if min(self.gradient_penalty, self.feature_matching, self.historical_averaging) < 0:
            raise ValueError("gradient_penalty, feature_matching and historical_averaging must be 0 or more")
        if self.weight_clip is not None and self.weight_clip <= 0:
            raise ValueError(f"weight_clip must be positive, got {self.weight_clip}")
        if self.compile and self.gradient_penalty:
            raise ValueError("compile cannot run with gradient_penalty: torch.compile has no double backward")
        if self.lr_schedule == "linear" and not 0 <= self.lr_decay_start < self.lr_decay_end:
            raise ValueError(
                f"a linear lr_schedule needs 0 <= lr_decay_start < lr_decay_end, "
                f"got {self.lr_decay_start} and {self.lr_decay_end}"
            )

    @property
    def generator_lr(self) -> float:
        return self.lr_g if self.lr_g is not None else self.lr

    @property
    def discriminator_lr(self) -> float:
        return self.lr_d if self.lr_d is not None else self.lr
