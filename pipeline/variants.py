"""A variant is configuration: a dataset, two networks, a loss and training overrides. This
module resolves `variants.<name>` (plus the global `train:` block it inherits) into the
library's typed configs, and writes/reads the resolved form (`data/configs/<name>.json`)
that the train stage depends on, so DVC re-trains exactly the variants whose resolved
configuration changed."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ganforge.config import from_dict
from ganforge.data.prepared import dataset_paths
from ganforge.errors import MissingDataError
from ganforge.io import sha256_file, write_json
from ganforge.nets.config import ModelConfig
from ganforge.train.config import SCHEDULE_ONLY, TrainConfig
from pipeline.params import entry, load_params, section
from pipeline.prepare import PREPARED_DIR

CONFIG_DIR = Path("data/configs")


@dataclass(frozen=True)
class VariantSpec:
    """`variants.<name>` as written in params.yaml. `system` semi_supervised trains the
    (K+1)-class discriminator on `labelled` labels (balanced), holds out `test_fraction` to
    measure its classification error, and trains the baseline classifier for `baseline_steps`."""

    dataset: str
    conditional: bool = False
    image_size: int | None = None
    system: Literal["gan", "semi_supervised"] = "gan"
    labelled: int = 100
    test_fraction: float = 0.2
    baseline_steps: int = 1000
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.labelled < 1 or self.baseline_steps < 1 or not 0.0 < self.test_fraction < 1.0:
            raise ValueError("labelled and baseline_steps must be positive, test_fraction in (0, 1)")


@dataclass(frozen=True)
class ResolvedVariant:
    """Everything a training run of a variant needs, with the global defaults applied."""

    name: str
    dataset: str
    dataset_sha256: str
    conditional: bool
    image_size: int | None
    system: str
    labelled: int
    test_fraction: float
    baseline_steps: int
    model: ModelConfig
    train: TrainConfig
    profile: str
    experiment: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint_source(self, seed: int) -> dict[str, Any]:
        """What a resumable checkpoint must agree on: all but the schedule-only options."""
        data = self.to_json()
        data["train"] = {k: v for k, v in data["train"].items() if k not in SCHEDULE_ONLY}
        for key in ("profile", "experiment"):
            data.pop(key)
        return {**data, "seed": seed}


def resolve(params: dict[str, Any], name: str, root: Path) -> ResolvedVariant:
    """Resolve a variant from params.yaml; its dataset must already be prepared."""
    where = f"variants.{name}"
    spec = from_dict(VariantSpec, entry(params, "variants", name, "variant"), where)
    model = from_dict(ModelConfig, spec.model, f"{where}.model")
    train_defaults = section(params, "train")
    from_dict(TrainConfig, train_defaults, "train")  # a bad global value is reported as such
    train = from_dict(TrainConfig, {**train_defaults, **spec.train}, f"{where}.train")
    data_path, _ = dataset_paths(root / PREPARED_DIR, spec.dataset)
    if not data_path.is_file():
        raise MissingDataError(
            f"{where}: dataset {spec.dataset!r} is not prepared: run `dvc repro prepare@{spec.dataset}`"
        )
    tracking = params.get("tracking") or {}
    return ResolvedVariant(
        name=name,
        dataset=spec.dataset,
        dataset_sha256=sha256_file(data_path),
        conditional=spec.conditional,
        image_size=spec.image_size,
        system=spec.system,
        labelled=spec.labelled,
        test_fraction=spec.test_fraction,
        baseline_steps=spec.baseline_steps,
        model=model,
        train=train,
        profile=str(params.get("profile", "")),
        experiment=str(tracking.get("experiment", "ganforge")),
    )


def config_path(root: Path, name: str) -> Path:
    return root / CONFIG_DIR / f"{name}.json"


def configure(name: str, root: Path) -> str:
    """Write the resolved configuration of a variant; return a one-line summary."""
    resolved = resolve(load_params(root), name, root)
    path = config_path(root, name)
    write_json(path, resolved.to_json())
    t = resolved.train
    return (
        f"configured {name}: {resolved.model.generator.arch}/{resolved.model.discriminator.arch} on "
        f"{resolved.dataset}, {t.steps} steps, batch {t.batch_size}, lr G {t.generator_lr:g} D "
        f"{t.discriminator_lr:g}, loss {t.loss} -> {path.relative_to(root)}"
    )


def load_resolved(root: Path, name: str) -> ResolvedVariant:
    """Read `data/configs/<name>.json` back into typed configs."""
    path = config_path(root, name)
    if not path.is_file():
        raise MissingDataError(f"{path} not found: run `dvc repro configure@{name}`")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"] = from_dict(ModelConfig, data["model"], f"{path}: model")
    data["train"] = from_dict(TrainConfig, data["train"], f"{path}: train")
    return ResolvedVariant(**data)
