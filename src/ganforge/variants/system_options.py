"""What every kind of system's options share: the variant's `system:` block is a tagged
union on `kind` (default `gan`), and each kind's options dataclass lives in its own system
module (`ganforge.systems.<kind>`), which the systems registry collects into the table that
`parse_system` reads. This module only states the shape of those options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, unknown_name
from ganforge.train.config import TrainConfig

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
    "r1_gamma",
    "r2_gamma",
    "reg_every",
)
"""The `train:` options that only some kinds of system read: each kind's options name the
ones it reads in `train_options` (the rest of `train:` every kind reads). Options that only
one kind reads (top-k training, progressive growing) sit in that kind's own options."""


@dataclass(frozen=True)
class SystemOptions:
    """The base of every kind's options: `kind` names it, and the class says which shared
    `train:` options it reads and what it supports. A kind's options subclass this with
    `kind: Literal["<name>"] = "<name>"` and its own fields, checked in `__post_init__`."""

    train_options: ClassVar[frozenset[str]] = frozenset()
    augments: ClassVar[bool] = False
    """Whether its discriminator can see augmented images (a variant's `augment:` policy)."""
    adapts: ClassVar[bool] = False
    """Whether it runs adaptive augmentation (ADA, `augment.ada`)."""
    paired_losses: ClassVar[bool] = False
    """Whether it can train with a pairing loss (`PAIRED_LOSSES`)."""
    kind: str = ""

    def check_train(self, train: TrainConfig) -> None:
        """Refuse (ValueError) a `train:` block these options cannot run with (none by default)."""


OptionsTable = Mapping[str, type[SystemOptions]]
"""Each kind's options class by kind name: `ganforge.systems.registry.SYSTEM_OPTIONS`."""


def parse_system(block: Mapping[str, Any] | None, where: str, table: OptionsTable) -> SystemOptions:
    """The `system:` block of a variant as its kind's options (from `table`); `kind`
    defaults to gan."""
    if block is not None and not isinstance(block, Mapping):
        raise ConfigError(f"{where}: must be a mapping with a `kind:` (one of {', '.join(table)})")
    data = dict(block or {})
    kind = data.get("kind", "gan")
    if kind not in table:
        raise unknown_name("system kind", str(kind), list(table))
    return from_dict(table[kind], data, where)
