"""A variant is configuration: a dataset, a system (with its options), two networks and
training overrides. This module resolves a variant's params (plus the global `train:` block
it inherits) into typed configs, and reads and writes the resolved form that the training
stage depends on. It imports no torch; the options of each kind of system come from the table
the systems registry derives (`ganforge.systems.registry.SYSTEM_OPTIONS`), passed in."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ganforge.augment.config import AugmentConfig
from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError
from ganforge.nets.config import ModelConfig
from ganforge.train.config import SCHEDULE_ONLY, TrainConfig
from ganforge.variants.system_options import (
    PAIRED_LOSSES,
    SYSTEM_TRAIN_OPTIONS,
    OptionsTable,
    SystemOptions,
    parse_system,
)


@dataclass(frozen=True)
class VariantSpec:
    """`variants.<name>` as written in params: `image_size` resizes (or pads) the dataset
    once before training; `system` is the system's block (`kind:` and its options);
    `augment` what reaches the discriminator (`ganforge.augment.config`)."""

    dataset: str
    image_size: int | None = None
    system: dict[str, Any] = field(default_factory=dict)
    augment: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.image_size is not None and self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {self.image_size}")


@dataclass(frozen=True)
class Variant:
    """Everything a training run of a variant needs, with the global defaults applied."""

    name: str
    dataset: str
    dataset_sha256: str
    image_size: int | None
    system: SystemOptions
    model: ModelConfig
    train: TrainConfig
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    profile: str = ""
    experiment: str = "ganforge"
    live: bool = False
    """Log to MLflow while training (`tracking.live`); either way the track stage mirrors the run."""

    @property
    def kind(self) -> str:
        return self.system.kind

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint_source(self, seed: int) -> dict[str, Any]:
        """What a resumable checkpoint must agree on: all but the schedule-only options."""
        data = self.to_json()
        data["train"] = {k: v for k, v in data["train"].items() if k not in SCHEDULE_ONLY}
        for key in ("profile", "experiment", "live"):
            data.pop(key)
        return {**data, "seed": seed}


TRAIN_DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def parse_spec(name: str, spec: Mapping[str, Any]) -> VariantSpec:
    return from_dict(VariantSpec, spec, f"variants.{name}")


def resolve_variant(
    name: str,
    spec: Mapping[str, Any],
    train_defaults: Mapping[str, Any],
    dataset_sha256: str,
    profile: str = "",
    experiment: str = "ganforge",
    live: bool = False,
    *,
    table: OptionsTable,
) -> Variant:
    """The typed variant: its spec validated, `train_defaults` overridden by its own `train:`,
    its `system:` block read as the options `table` gives its kind."""
    where = f"variants.{name}"
    parsed = parse_spec(name, spec)
    from_dict(TrainConfig, train_defaults, "train")  # a bad global value is reported as such
    system = parse_system(parsed.system, f"{where}.system", table)
    train = from_dict(TrainConfig, {**train_defaults, **parsed.train}, f"{where}.train")
    try:
        system.check_train(train)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    check_train_options(system, train, f"{where}.train", keys=list(parsed.train))
    if train.loss in PAIRED_LOSSES and not system.paired_losses:
        raise ConfigError(f"{where}.train: a {system.kind} system cannot train with loss {train.loss}")
    augment = from_dict(AugmentConfig, parsed.augment, f"{where}.augment")
    if augment.active and not system.augments:
        raise ConfigError(
            f"{where}.augment: a {system.kind} system does not augment what its discriminator sees"
        )
    if augment.ada and not system.adapts:
        raise ConfigError(f"{where}.augment: a {system.kind} system takes a policy, not ada")
    # A global value its system does not read stays at the default here (configure says so),
    # so the resolved config, and with it the run, is what the system computes.
    unread = unread_options(system, train)
    return Variant(
        name=name,
        dataset=parsed.dataset,
        dataset_sha256=dataset_sha256,
        image_size=parsed.image_size,
        system=system,
        model=from_dict(ModelConfig, parsed.model, f"{where}.model"),
        train=dataclasses.replace(train, **{key: TRAIN_DEFAULTS[key] for key, _ in unread}),
        augment=augment,
        profile=profile,
        experiment=experiment,
        live=live,
    )


def unread_options(
    system: SystemOptions, train: TrainConfig, keys: Collection[str] = SYSTEM_TRAIN_OPTIONS
) -> list[tuple[str, Any]]:
    """(name, value) of each of `keys` that is set away from its default in `train` and that
    `system` does not read (gan-only regularizers for pix2pix, say)."""
    return [
        (key, getattr(train, key))
        for key in SYSTEM_TRAIN_OPTIONS
        if key in keys and key not in system.train_options and getattr(train, key) != TRAIN_DEFAULTS[key]
    ]


def check_train_options(
    system: SystemOptions, train: TrainConfig, where: str, keys: Collection[str] = SYSTEM_TRAIN_OPTIONS
) -> None:
    """Refuse the options among `keys` that `system` would ignore, naming them."""
    unread = unread_options(system, train, list(keys))
    if unread:
        names = ", ".join(f"{key}={value}" for key, value in unread)
        raise ConfigError(f"{where}: a {system.kind} system does not use {names}: remove it")


def variant_from_json(data: Mapping[str, Any], where: str, *, table: OptionsTable) -> Variant:
    """A variant read back from its resolved JSON (its system's options from `table`)."""
    data = dict(data)
    return Variant(
        name=data["name"],
        dataset=data["dataset"],
        dataset_sha256=data["dataset_sha256"],
        image_size=data.get("image_size"),
        system=parse_system(data["system"], f"{where}: system", table),
        model=from_dict(ModelConfig, data["model"], f"{where}: model"),
        train=from_dict(TrainConfig, data["train"], f"{where}: train"),
        augment=from_dict(AugmentConfig, data.get("augment") or {}, f"{where}: augment"),
        profile=data.get("profile", ""),
        experiment=data.get("experiment", "ganforge"),
        live=bool(data.get("live", False)),
    )


def shadowed_overrides(
    spec: Mapping[str, Any], train_composed: Mapping[str, Any], train_defaults: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(key, global value, the variant's own value) for every global `train:` key whose
    composed value differs from its default but which the variant sets itself, so the
    global change does not reach it."""
    own = dict(spec.get("train") or {})
    return [
        (key, train_composed[key], own[key])
        for key in sorted(own)
        if key in train_composed and key in train_defaults and train_composed[key] != train_defaults[key]
    ]
