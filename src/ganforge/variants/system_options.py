"""The options of each kind of system: the variant's `system:` block, a tagged union on
`kind` (default `gan`). Plain dataclasses, importable without torch, so resolving a variant
stays cheap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, unknown_name

PAIRED_LOSSES = frozenset({"rpgan"})
"""The losses whose generator term pairs each generated sample with a real one (those
`ganforge.losses` marks `pairs`): only systems with `paired_losses` pass it the real outputs."""

SYSTEM_TRAIN_OPTIONS = (
    "loss",
    "real_label",
    "d_steps",
    "gradient_penalty",
    "weight_clip",
    "feature_matching",
    "feature_matching_only",
    "historical_averaging",
    "drift",
    "top_k",
    "top_k_end",
    "r1_gamma",
    "r2_gamma",
    "reg_every",
)
"""The `train:` options that only some kinds of system read: each kind's options name the
ones it reads in `train_options` (the rest of `train:` every kind reads)."""


@dataclass(frozen=True)
class GanOptions:
    """One generator and one discriminator. `conditional` feeds the class label to both."""

    train_options: ClassVar[frozenset[str]] = frozenset(SYSTEM_TRAIN_OPTIONS)
    augments: ClassVar[bool] = True
    """Whether its discriminator can see augmented images (a variant's `augment:`)."""
    adapts: ClassVar[bool] = True
    """Whether it runs adaptive augmentation (ADA, `augment.ada`)."""
    paired_losses: ClassVar[bool] = True
    kind: Literal["gan"] = "gan"
    conditional: bool = False


@dataclass(frozen=True)
class SemiSupervisedOptions:
    """The semi-supervised GAN: the discriminator becomes a K-class classifier trained on
    `labelled` labels (balanced over classes); `test_fraction` of the dataset is held out to
    measure its error, and the same network trained as a plain classifier on the same labels
    for `baseline_steps` is the baseline."""

    train_options: ClassVar[frozenset[str]] = frozenset({"d_steps"})  # its own loss, G by feature matching
    augments: ClassVar[bool] = False
    adapts: ClassVar[bool] = False
    paired_losses: ClassVar[bool] = False
    kind: Literal["semi_supervised"] = "semi_supervised"
    labelled: int = 100
    test_fraction: float = 0.2
    baseline_steps: int = 1000

    def __post_init__(self) -> None:
        if self.labelled < 1 or self.baseline_steps < 1 or not 0.0 < self.test_fraction < 1.0:
            raise ValueError("labelled and baseline_steps must be positive, test_fraction in (0, 1)")


def _check_augmentation(jitter: float) -> None:
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be between 0 and 1, got {jitter}")


@dataclass(frozen=True)
class Pix2PixOptions:
    """pix2pix (Isola et al.): a conditional GAN on aligned pairs, translating `direction`
    (a2b: domain a to domain b). G minimises `gan_weight`·adversarial + `l1_weight`·L1 to the
    target; D sees (input, output) pairs and its loss is halved. `gan_weight` 0 is the L1
    regression alone (no discriminator). Augmentation, as the reference: `jitter` enlarges by
    that fraction then crops back at random (0.117 is 286/256), `flip` mirrors at random; the
    same transform for both images of a pair. `sampling` is how G translates for evaluation,
    figures and serving: `eval` (dropout off, batch norm's running statistics) or `train`
    (dropout on, each batch's own statistics, as the reference's test script runs by default;
    seeded, 200 images a batch): the choice moves the reference's FD by a factor of 2.6."""

    train_options: ClassVar[frozenset[str]] = frozenset({"loss", "real_label", "d_steps"})
    augments: ClassVar[bool] = True
    """Whether its discriminator can see augmented images (a variant's `augment:` policy)."""
    adapts: ClassVar[bool] = False
    paired_losses: ClassVar[bool] = False
    kind: Literal["pix2pix"] = "pix2pix"
    direction: Literal["a2b", "b2a"] = "a2b"
    l1_weight: float = 100.0
    gan_weight: float = 1.0
    jitter: float = 0.0
    flip: bool = False
    sampling: Literal["eval", "train"] = "eval"

    def __post_init__(self) -> None:
        if self.l1_weight < 0 or self.gan_weight < 0 or self.l1_weight + self.gan_weight == 0:
            raise ValueError("l1_weight and gan_weight must be 0 or more, and not both 0")
        _check_augmentation(self.jitter)


@dataclass(frozen=True)
class CycleGanOptions:
    """CycleGAN (Zhu et al.) on unpaired domains: generators a→b and b→a, a discriminator per
    domain, cycle-consistency weight `cycle_weight` (λ) each way, identity loss
    `identity_weight`·λ (0 turns it off), and a pool of the last `pool_size` generated images
    per discriminator. `gan_weight` weighs each generator's adversarial term: ganforge's
    least-squares generator loss is LSGAN's ½(D(G(x)) − 1)², so 2 gives the paper's
    (D(G(x)) − 1)² against the same λ. Augmentation as in `Pix2PixOptions`, drawn per domain."""

    train_options: ClassVar[frozenset[str]] = frozenset({"loss", "real_label"})  # one D step per G step
    augments: ClassVar[bool] = False
    adapts: ClassVar[bool] = False
    paired_losses: ClassVar[bool] = False
    kind: Literal["cyclegan"] = "cyclegan"
    gan_weight: float = 1.0
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    pool_size: int = 50
    jitter: float = 0.0
    flip: bool = False

    def __post_init__(self) -> None:
        if min(self.gan_weight, self.cycle_weight, self.identity_weight, self.pool_size) < 0:
            raise ValueError("gan_weight, cycle_weight, identity_weight and pool_size must be 0 or more")
        _check_augmentation(self.jitter)


SystemOptions = GanOptions | SemiSupervisedOptions | Pix2PixOptions | CycleGanOptions

SYSTEM_OPTIONS: Mapping[str, type] = {
    "gan": GanOptions,
    "semi_supervised": SemiSupervisedOptions,
    "pix2pix": Pix2PixOptions,
    "cyclegan": CycleGanOptions,
}


def parse_system(block: Mapping[str, Any] | None, where: str) -> SystemOptions:
    """The `system:` block of a variant as its kind's options; `kind` defaults to gan."""
    if block is not None and not isinstance(block, Mapping):
        raise ConfigError(f"{where}: must be a mapping with a `kind:` (one of {', '.join(SYSTEM_OPTIONS)})")
    data = dict(block or {})
    kind = data.get("kind", "gan")
    if kind not in SYSTEM_OPTIONS:
        raise unknown_name("system kind", str(kind), list(SYSTEM_OPTIONS))
    return from_dict(SYSTEM_OPTIONS[kind], data, where)  # type: ignore[no-any-return]
